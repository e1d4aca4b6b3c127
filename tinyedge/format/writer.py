"""The .tem writer: an IR graph and its memory plan in one flat file (docs/format.md).

The output is deterministic: the same graph, plan and metadata give the same bytes. Tensors are
numbered graph inputs first, then in first-use order over the nodes; tensors that no node and no
graph boundary mentions are not written. Sections follow the header and the section table in kind
order, each 8-aligned, with WEIGHTS last at a 64-aligned offset.
"""
from __future__ import annotations

import os
import secrets
import struct
import zlib
from pathlib import Path
from typing import Union

import numpy as np

from .. import __version__
from ..errors import FormatError
from ..ir import DTYPES, OPS, Graph, QuantParams, Tensor
from ..plan import MemoryPlan, align_up
from . import layout as L


class _Strings:
    """The STRINGS section: each distinct string stored once, NUL-terminated."""

    def __init__(self) -> None:
        self._offsets: dict[str, int] = {}
        self._blob = bytearray()

    def ref(self, text: str, what: str) -> int:
        if text not in self._offsets:
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError as e:
                raise FormatError(f"cannot write {what} {text!r}: not encodable as UTF-8 ({e})") from None
            if b"\0" in data:
                raise FormatError(f"cannot write {what} {text!r}: it contains a NUL character")
            self._offsets[text] = len(self._blob)
            self._blob += data + b"\0"
        return self._offsets[text]

    def blob(self) -> bytes:
        return bytes(self._blob)


def tensor_order(graph: Graph) -> list[str]:
    """The tensors a file holds, in file order: graph inputs, then first use by the nodes."""
    seen = dict.fromkeys(graph.inputs)
    for node in graph.nodes:
        seen.update(dict.fromkeys(node.inputs + node.outputs))
    seen.update(dict.fromkeys(graph.outputs))
    return list(seen)


def _check_tensor(t: Tensor) -> None:
    if t.dtype not in DTYPES:
        raise FormatError(f"cannot write tensor '{t.name}': dtype {t.dtype} is not one of "
                          f"{', '.join(DTYPES)}")
    if len(t.shape) > L.MAX_RANK:
        raise FormatError(f"cannot write tensor '{t.name}': rank {len(t.shape)} > {L.MAX_RANK}")
    if any(d < 1 or d >= 1 << 32 for d in t.shape):
        raise FormatError(f"cannot write tensor '{t.name}': shape {t.shape} has a dimension "
                          f"outside 1..2^32-1")
    if t.data is not None and (t.data.dtype != np.dtype(t.dtype) or t.data.shape != t.shape):
        raise FormatError(f"cannot write tensor '{t.name}': its data is {t.data.dtype} "
                          f"{t.data.shape}, the tensor says {t.dtype} {t.shape}")


def _weights(graph: Graph, names: list[str]) -> tuple[bytes, dict[str, int]]:
    """The WEIGHTS section and the offset of each constant in it."""
    blob = bytearray()
    offsets = {}
    for name in names:
        t = graph.tensors[name]
        if t.data is None:
            continue
        blob += bytes(align_up(len(blob), L.TENSOR_ALIGN) - len(blob))
        offsets[name] = len(blob)
        blob += np.ascontiguousarray(t.data, dtype=np.dtype(t.dtype).newbyteorder("<")).tobytes()
    return bytes(blob), offsets


def _quant_record(t: Tensor) -> tuple[int, np.ndarray, np.ndarray]:
    q: QuantParams = t.quant
    scale = np.asarray(q.scale, dtype=np.float32).reshape(-1)
    zero = np.asarray(q.zero_point).reshape(-1)
    axis = -1 if q.axis is None else int(q.axis)
    rule = None
    if len(scale) != len(zero) or len(scale) < 1:
        rule = f"{len(scale)} scales and {len(zero)} zero points"
    elif not np.all(np.isfinite(scale) & (scale > 0)):
        rule = "scales must be finite and > 0"
    elif np.any(zero < -(1 << 31)) or np.any(zero >= 1 << 31):
        rule = "zero points must fit int32"
    elif axis == -1 and len(scale) != 1:
        rule = f"per-tensor quantization with {len(scale)} scales"
    elif axis != -1 and not (0 <= axis < len(t.shape) and len(scale) == t.shape[axis]):
        rule = f"axis {axis} with {len(scale)} scales for shape {t.shape}"
    if rule:
        raise FormatError(f"cannot write the quantization of tensor '{t.name}': {rule}")
    return axis, scale, zero.astype(np.int32)


def _quant(graph: Graph, names: list[str]) -> tuple[bytes, dict[str, int]]:
    """The QUANT section (b"" when no tensor is quantized) and each tensor's record index."""
    records: dict[bytes, int] = {}  # identical parameters share one record
    entries: list[tuple[int, np.ndarray, np.ndarray]] = []
    index = {}
    for name in names:
        t = graph.tensors[name]
        # A float tensor's annotation (from a QDQ model) guides the quantizer; the runtime has no
        # use for it, and would report the float tensor as quantized.
        if t.quant is None or t.dtype == "float32":
            continue
        axis, scale, zero = _quant_record(t)
        key = L.I32.pack(axis) + scale.astype("<f4").tobytes() + zero.astype("<i4").tobytes()
        if key not in records:
            records[key] = len(entries)
            entries.append((axis, scale, zero))
        index[name] = records[key]
    if not entries:
        return b"", index
    head = bytearray(L.TABLE_HEAD.pack(len(entries), 0))
    data = bytearray()
    data_start = L.TABLE_HEAD.size + len(entries) * L.QUANT.size
    for axis, scale, zero in entries:
        head += L.QUANT.pack(axis, len(scale), data_start + len(data), 0)
        data += scale.astype("<f4").tobytes() + zero.astype("<i4").tobytes()
    return bytes(head + data), index


def _tensors(graph: Graph, plan: MemoryPlan, names: list[str], strings: _Strings,
             const_offsets: dict[str, int], quant_index: dict[str, int]) -> bytes:
    out = bytearray(L.TABLE_HEAD.pack(len(names), 0))
    for name in names:
        t = graph.tensors[name]
        if t.data is not None:
            storage, offset = L.STORAGE_CONSTANT, const_offsets[name]
        else:
            if name not in plan.offsets:
                raise FormatError(f"cannot write activation '{name}': the memory plan has no offset "
                                  f"for it (plan the graph after its last change)")
            storage, offset = L.STORAGE_ACTIVATION, plan.offsets[name]
            if offset % L.TENSOR_ALIGN or offset + t.nbytes > plan.arena_size:
                raise FormatError(f"cannot write activation '{name}': plan offset {offset} is not "
                                  f"{L.TENSOR_ALIGN}-aligned or ends past the arena")
        dims = list(t.shape) + [0] * (L.MAX_RANK - len(t.shape))
        out += L.TENSOR.pack(strings.ref(name, "tensor name"), DTYPES[t.dtype], len(t.shape),
                             storage, 0, *dims, offset, t.nbytes, quant_index.get(name, L.NONE))
    return bytes(out)


def _params(node) -> bytes:
    """An op's attribute blob, in the op table's attribute order."""
    blob = bytearray()
    for attr in OPS[node.op].attrs:
        value = node.attrs[attr.name]
        try:
            if attr.kind == "int":
                blob += L.I32.pack(value)
            elif attr.kind == "float":
                blob += L.F32.pack(value)
            else:
                if len(value) > L.MAX_ATTR_LEN:
                    raise FormatError(f"cannot write node '{node.name}' ({node.op}): attribute "
                                      f"'{attr.name}' has {len(value)} values, at most "
                                      f"{L.MAX_ATTR_LEN} are supported")
                fmt = "i" if attr.kind == "ints" else "f"
                blob += L.U32.pack(len(value)) + struct.pack(f"<{len(value)}{fmt}", *value)
        except (struct.error, OverflowError) as e:
            raise FormatError(f"cannot write node '{node.name}' ({node.op}): attribute "
                              f"'{attr.name}' = {value!r} does not fit {attr.kind} "
                              f"(int32 / float32): {e}") from None
    return bytes(blob)


def _ops(graph: Graph, index: dict[str, int], strings: _Strings) -> tuple[bytes, bytes, bytes]:
    """The OPS, IO and PARAMS sections."""
    ops = bytearray(L.TABLE_HEAD.pack(len(graph.nodes), 0))
    io: list[int] = []
    params = bytearray()
    for node in graph.nodes:
        blob = _params(node)
        ops += L.OP.pack(OPS[node.op].opcode, strings.ref(node.name, "node name"), len(io),
                         len(node.inputs), len(node.outputs), len(params), len(blob))
        io += [index[name] for name in node.inputs + node.outputs]
        params += blob
    return bytes(ops), struct.pack(f"<{len(io)}I", *io), bytes(params)


def _graph_io(graph: Graph, index: dict[str, int]) -> bytes:
    for name in graph.inputs + graph.outputs:
        if graph.tensors[name].is_const:
            raise FormatError(f"cannot write graph input/output '{name}': it is a constant; "
                              f"graph inputs and outputs must be activations")
    ids = [index[n] for n in graph.inputs + graph.outputs]
    return L.TABLE_HEAD.pack(len(graph.inputs), len(graph.outputs)) + struct.pack(f"<{len(ids)}I", *ids)


def _plan(plan: MemoryPlan) -> bytes:
    if plan.arena_size > L.ARENA_MAX:
        raise FormatError(f"cannot write the memory plan: arena of {plan.arena_size} bytes is over "
                          f"the format's limit of 2^32")
    return L.PLAN.pack(plan.arena_size, plan.activations_total, plan.lower_bound, L.TENSOR_ALIGN, 0)


def _metadata(meta: dict[str, str], strings: _Strings) -> bytes:
    meta = {**{str(k): str(v) for k, v in meta.items()}, "producer": f"tinyedge {__version__}"}
    out = bytearray(L.U32.pack(len(meta)))
    for key in sorted(meta):
        out += L.META_PAIR.pack(strings.ref(key, "metadata key"), strings.ref(meta[key], "metadata value"))
    return bytes(out)


def _assemble(sections: dict[int, bytes]) -> bytes:
    """Header, section table and sections (WEIGHTS last, 64-aligned), with the checksum."""
    table_end = L.HEADER_SIZE + len(sections) * L.SECTION_ENTRY.size
    placed: dict[int, int] = {}
    cursor = table_end
    for kind in sorted(k for k in sections if k != L.Section.WEIGHTS) + [L.Section.WEIGHTS]:
        align = L.WEIGHTS_ALIGN if kind == L.Section.WEIGHTS else L.SECTION_ALIGN
        placed[kind] = align_up(cursor, align)
        cursor = placed[kind] + len(sections[kind])
    buf = bytearray(cursor)
    table = b"".join(L.SECTION_ENTRY.pack(kind, 0, placed[kind], len(sections[kind]))
                     for kind in sorted(sections))
    buf[L.HEADER_SIZE:table_end] = table
    for kind, blob in sections.items():
        buf[placed[kind]:placed[kind] + len(blob)] = blob
    checksum = zlib.crc32(memoryview(buf)[L.HEADER_SIZE:]) & 0xFFFFFFFF
    buf[:L.HEADER_SIZE] = L.HEADER.pack(L.MAGIC, L.VERSION_MAJOR, L.VERSION_MINOR, L.ENDIAN_TAG,
                                        L.HEADER_SIZE, len(buf), len(sections), L.HEADER_SIZE,
                                        checksum, 0)
    return bytes(buf)


def serialize(graph: Graph, plan: MemoryPlan, meta: dict[str, str]) -> bytes:
    """The bytes of the .tem file of graph with its memory plan and metadata.

    meta holds the caller's keys (name, source, input_layouts, output_layouts); the writer adds
    `producer`. Raises FormatError when the graph cannot be represented (a dtype, rank, attribute
    value or plan the format does not hold)."""
    names = tensor_order(graph)
    for name in names:
        _check_tensor(graph.tensors[name])
    index = {name: i for i, name in enumerate(names)}
    strings = _Strings()
    weights, const_offsets = _weights(graph, names)
    quant, quant_index = _quant(graph, names)
    sections = {L.Section.TENSORS: _tensors(graph, plan, names, strings, const_offsets, quant_index)}
    sections[L.Section.OPS], sections[L.Section.IO], sections[L.Section.PARAMS] = _ops(graph, index, strings)
    sections[L.Section.GRAPH] = _graph_io(graph, index)
    sections[L.Section.PLAN] = _plan(plan)
    sections[L.Section.METADATA] = _metadata(meta, strings)
    sections[L.Section.WEIGHTS] = weights
    if quant:
        sections[L.Section.QUANT] = quant
    sections[L.Section.STRINGS] = strings.blob()  # last: every reference is known by now
    return _assemble(sections)


def write_tem(graph: Graph, plan: MemoryPlan, path: Union[str, os.PathLike],
              meta: dict[str, str]) -> int:
    """Write graph as a .tem file at path; returns the number of bytes written.

    The bytes go to a temporary file in the same folder, renamed over path once complete, so a
    failed write never leaves a partial file under the final name."""
    data = serialize(graph, plan, meta)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as for any file the user writes.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(data)
