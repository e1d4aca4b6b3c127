"""The .tem reader: checks a file the way the C loader does (docs/format.md) and decodes it.

Every count, offset and size is checked against the bytes that hold it before it is used, so a
truncated, damaged or hostile file raises FormatError (naming the section, the record and the
rule), never another exception. Python integers do not overflow, so `a + b <= size` is safe here;
the C loader writes the same checks as `b <= size - a`.
"""
from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import FormatError
from ..ir import DTYPE_BY_CODE, OPS, OPS_BY_CODE, Graph, Node, QuantParams, ShapeError, Tensor
from ..ir import fill_attrs, infer_shapes
from . import layout as L


@dataclass(frozen=True)
class TemSection:
    """One entry of the section table; name is '?' for a kind this version does not know."""

    kind: int
    name: str
    offset: int
    size: int


@dataclass
class TemTensor:
    """One tensor record. data: a read-only view of a constant's weights (None for activations)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    storage: int  # layout.STORAGE_ACTIVATION or STORAGE_CONSTANT
    offset: int  # constants: into WEIGHTS; activations: into the arena
    nbytes: int
    quant: Optional[QuantParams] = None
    data: Optional[np.ndarray] = None

    @property
    def is_const(self) -> bool:
        return self.storage == L.STORAGE_CONSTANT


@dataclass
class TemOp:
    """One op record; inputs and outputs are tensor indices (None for an absent optional input)."""

    opcode: int
    op: str
    name: str
    inputs: list[Optional[int]]
    outputs: list[int]
    attrs: dict


@dataclass
class TemModel:
    """A checked .tem file, decoded. inputs and outputs are tensor indices."""

    version: tuple[int, int]
    tensors: list[TemTensor]
    ops: list[TemOp]
    inputs: list[int]
    outputs: list[int]
    arena_size: int
    activations_total: int
    lower_bound: int
    alignment: int
    meta: dict[str, str]
    file_size: int
    sections: list[TemSection]
    weight_bytes: int  # sum of the constants' sizes (WEIGHTS' size also counts alignment padding)
    buffer: np.ndarray = field(repr=False, default=None)  # the whole file, 64-byte aligned, read-only

    @property
    def plan_offsets(self) -> dict[str, int]:
        """Arena offset of every activation, by tensor name."""
        return {t.name: t.offset for t in self.tensors if not t.is_const}

    def to_graph(self) -> Graph:
        """Rebuild the IR graph (constants are read-only views of the file's weights).

        Checks what the IR needs beyond the file rules: unique tensor names, absent inputs only at
        the end of an op's input list, and every output shape equal to what the op table infers."""
        graph = Graph(meta=dict(self.meta))
        for t in self.tensors:
            if t.name in graph.tensors:
                raise FormatError(f"TENSORS: tensor name '{t.name}' appears twice")
            graph.tensors[t.name] = Tensor(t.name, t.shape, t.dtype, t.data, t.quant)
        names = [t.name for t in self.tensors]
        graph.inputs = [names[i] for i in self.inputs]
        graph.outputs = [names[i] for i in self.outputs]
        for k, op in enumerate(self.ops):
            where = f"OPS record {k} ('{op.name}', {op.op})"
            inputs = list(op.inputs)
            while inputs and inputs[-1] is None:
                inputs.pop()
            if None in inputs:
                raise FormatError(f"{where}: an absent input before a present one; the IR only "
                                  f"omits trailing optional inputs")
            node = Node(op.op, [names[i] for i in inputs], [names[i] for i in op.outputs],
                        fill_attrs(op.op, op.attrs), op.name)
            try:
                shapes = infer_shapes(node.op, [graph.tensors[i].shape for i in node.inputs], node.attrs)
            except ShapeError as e:
                raise FormatError(f"{where}: {e}") from None
            except (ArithmeticError, ValueError, IndexError, TypeError) as e:
                # The shape functions trust attributes a frontend built (a stride is never 0, pads
                # come in fours); a damaged file can hold anything, so a slip there is its fault.
                raise FormatError(f"{where}: attributes the op table cannot use "
                                  f"({type(e).__name__}: {e})") from None
            for out, shape in zip(node.outputs, shapes):
                if graph.tensors[out].shape != shape:
                    raise FormatError(f"{where}: output '{out}' has shape {graph.tensors[out].shape}, "
                                      f"the op table infers {shape}")
            graph.nodes.append(node)
        return graph


_SECTION_NAMES = {kind.value: kind.name for kind in L.Section}


def _aligned_copy(data: bytes) -> np.ndarray:
    """data in a fresh read-only uint8 array whose first byte is 64-byte aligned (as the runtime's)."""
    raw = np.empty(len(data) + L.WEIGHTS_ALIGN, np.uint8)
    start = -raw.ctypes.data % L.WEIGHTS_ALIGN
    buf = raw[start:start + len(data)]
    buf[:] = np.frombuffer(data, np.uint8)
    buf.flags.writeable = False
    return buf


class _Reader:
    """Checks and decodes one file, in the order of docs/format.md's check list."""

    def __init__(self, buf: np.ndarray):
        self.buf = buf
        self.mv = memoryview(buf.data).cast("B")
        self.size = len(buf)
        self.sections: dict[int, tuple[int, int]] = {}
        self.strings: Optional[bytes] = None  # the STRINGS section, once the table is checked

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def fail(where: str, rule: str) -> FormatError:
        return FormatError(f"{where}: {rule}")

    def section(self, kind: L.Section) -> tuple[int, int]:
        return self.sections[kind]

    def unpack(self, fmt: struct.Struct, kind: L.Section, rel: int):
        """Unpack fmt at rel bytes into section kind (the caller checked that it fits)."""
        return fmt.unpack_from(self.mv, self.sections[kind][0] + rel)

    def table_count(self, kind: L.Section, record: int, head: int = L.TABLE_HEAD.size) -> int:
        """The record count at the start of a table section, checked to fit the section."""
        off, size = self.section(kind)
        if size < head:
            raise self.fail(kind.name, f"{size} bytes cannot hold its {head}-byte count")
        count = L.U32.unpack_from(self.mv, off)[0]
        if count > (size - head) // record:
            raise self.fail(kind.name, f"count {count} records of {record} bytes do not fit in "
                                       f"its {size} bytes")
        return count

    def string(self, ref: int, where: str) -> str:
        if self.strings is None:
            off, size = self.section(L.Section.STRINGS)
            self.strings = bytes(self.mv[off:off + size])
        if ref >= len(self.strings):
            raise self.fail(where, f"string reference {ref} is past the end of STRINGS "
                                   f"({len(self.strings)} bytes)")
        end = self.strings.find(b"\0", ref)
        if end < 0:
            raise self.fail(where, f"string at {ref} has no NUL before the end of STRINGS")
        try:
            return self.strings[ref:end].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(where, f"string at {ref} is not valid UTF-8") from None

    # -- 1. header --------------------------------------------------------------------------------
    def header(self) -> tuple[int, int, int, int, int]:
        if self.size < L.HEADER_SIZE:
            raise self.fail("header", f"the file has {self.size} bytes, fewer than the "
                                      f"{L.HEADER_SIZE}-byte header")
        (magic, major, minor, endian, header_size, file_size, count, table, checksum,
         flags) = L.HEADER.unpack_from(self.mv, 0)
        if magic != L.MAGIC:
            raise self.fail("header", f"magic {magic!r} is not {L.MAGIC!r}: not a .tem file")
        if major != L.VERSION_MAJOR:
            raise self.fail("header", f"format version {major}.{minor}; this tinyedge reads "
                                      f"{L.VERSION_MAJOR}.x")
        if endian != L.ENDIAN_TAG:
            raise self.fail("header", f"endian tag {endian:#010x} is not {L.ENDIAN_TAG:#010x} "
                                      f"(a big-endian or damaged file)")
        if header_size != L.HEADER_SIZE:
            raise self.fail("header", f"header_size {header_size} is not {L.HEADER_SIZE}")
        if flags != 0:
            raise self.fail("header", f"flags {flags:#x} are not 0")
        if file_size != self.size:
            raise self.fail("header", f"file_size says {file_size} bytes but the file has "
                                      f"{self.size} (truncated or extended)")
        return major, minor, count, table, checksum

    # -- 2. section table -------------------------------------------------------------------------
    def section_table(self, count: int, table: int) -> list[TemSection]:
        if not 1 <= count <= L.MAX_SECTIONS:
            raise self.fail("section table", f"section_count {count} is not in 1..{L.MAX_SECTIONS}")
        entry = L.SECTION_ENTRY.size
        if table < L.HEADER_SIZE or table + count * entry > self.size:
            raise self.fail("section table", f"{count} entries at offset {table} are not inside the "
                                             f"file past the header")
        table_end = table + count * entry
        out = []
        for i in range(count):
            kind, _flags, off, size = L.SECTION_ENTRY.unpack_from(self.mv, table + i * entry)
            name = _SECTION_NAMES.get(kind, "?")
            where = f"section table entry {i} (kind {kind} {name})"
            if off < table_end or off + size > self.size:
                raise self.fail(where, f"bytes [{off}, {off + size}) are not inside the file past "
                                       f"the section table (which ends at {table_end})")
            align = L.WEIGHTS_ALIGN if kind == L.Section.WEIGHTS else L.SECTION_ALIGN
            if off % align:
                raise self.fail(where, f"offset {off} is not {align}-aligned")
            if any(s.kind == kind for s in out):
                raise self.fail(where, "the kind appears twice")
            for s in out:
                if off < s.offset + s.size and s.offset < off + size:
                    raise self.fail(where, f"overlaps section kind {s.kind} {s.name}")
            out.append(TemSection(kind, name, off, size))
            self.sections[kind] = (off, size)
        for kind in L.REQUIRED_SECTIONS:
            if kind not in self.sections:
                raise self.fail("section table", f"required section {kind.name} is missing")
        return out

    # -- 3. checksum ------------------------------------------------------------------------------
    def checksum(self, expected: int) -> None:
        actual = zlib.crc32(self.mv[L.HEADER_SIZE:]) & 0xFFFFFFFF
        if actual != expected:
            raise self.fail("header", f"checksum {expected:#010x} does not match the contents "
                                      f"({actual:#010x}): the file is damaged")

    # -- 5. quantization records and the tensor table ---------------------------------------------
    def quant_records(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        if L.Section.QUANT not in self.sections:
            return []
        off, size = self.section(L.Section.QUANT)
        records = []
        for i in range(self.table_count(L.Section.QUANT, L.QUANT.size)):
            where = f"QUANT record {i}"
            axis, n, data, _ = self.unpack(L.QUANT, L.Section.QUANT, L.TABLE_HEAD.size + i * L.QUANT.size)
            if not -1 <= axis < L.MAX_RANK or n < 1 or axis == -1 and n != 1:
                raise self.fail(where, f"axis {axis} and n {n}: axis must be -1 (with n 1) or "
                                       f"0..{L.MAX_RANK - 1} (with n >= 1)")
            if data % 4 or data + 8 * n > size:
                raise self.fail(where, f"{n} scales and zero points at {data} are not 4-aligned "
                                       f"inside QUANT ({size} bytes)")
            scales = self.buf[off + data:off + data + 4 * n].view("<f4")
            zeros = self.buf[off + data + 4 * n:off + data + 8 * n].view("<i4")
            if not np.all(np.isfinite(scales) & (scales > 0)):
                raise self.fail(where, "a scale is not finite and > 0")
            records.append((axis, scales, zeros))
        return records

    def tensor(self, i: int, quants, weights: tuple[int, int]) -> TemTensor:
        (name_ref, dtype, rank, storage, _, *rest) = self.unpack(
            L.TENSOR, L.Section.TENSORS, L.TABLE_HEAD.size + i * L.TENSOR.size)
        dims, (offset, nbytes, quant) = rest[:L.MAX_RANK], rest[L.MAX_RANK:]
        where = f"TENSORS record {i}"
        name = self.string(name_ref, where)
        where = f"TENSORS record {i} ('{name}')"
        if dtype not in DTYPE_BY_CODE:
            raise self.fail(where, f"dtype code {dtype} is not one of "
                                   + ", ".join(f"{c} {n}" for c, n in DTYPE_BY_CODE.items()))
        if rank > L.MAX_RANK:
            raise self.fail(where, f"rank {rank} > {L.MAX_RANK}")
        if any(d < 1 for d in dims[:rank]) or any(dims[rank:]):
            raise self.fail(where, f"dims {dims} with rank {rank}: need >= 1 below the rank, 0 after")
        if storage not in (L.STORAGE_ACTIVATION, L.STORAGE_CONSTANT):
            raise self.fail(where, f"storage {storage} is not 0 (activation) or 1 (constant)")
        shape = tuple(dims[:rank])
        if nbytes != math.prod(shape) * L.DTYPE_SIZES[dtype]:
            raise self.fail(where, f"nbytes {nbytes} is not the product of dims {shape} times "
                                   f"{L.DTYPE_SIZES[dtype]}")
        if offset % L.TENSOR_ALIGN:
            raise self.fail(where, f"offset {offset} is not {L.TENSOR_ALIGN}-aligned")
        data = None
        if storage == L.STORAGE_CONSTANT:
            woff, wsize = weights
            if offset + nbytes > wsize:
                raise self.fail(where, f"constant bytes [{offset}, {offset + nbytes}) end past "
                                       f"WEIGHTS ({wsize} bytes)")
            dt = np.dtype(DTYPE_BY_CODE[dtype]).newbyteorder("<")
            data = self.buf[woff + offset:woff + offset + nbytes].view(dt).reshape(shape)
        qp = None
        if quant != L.NONE:
            if quant >= len(quants):
                raise self.fail(where, f"quant index {quant} is not below the {len(quants)} "
                                       f"QUANT records")
            axis, scales, zeros = quants[quant]
            if axis == -1 and len(scales) != 1 or axis >= 0 and (axis >= rank or len(scales) != shape[axis]):
                raise self.fail(where, f"QUANT record {quant} (axis {axis}, n {len(scales)}) does not "
                                       f"fit shape {shape}: per tensor needs n 1, per axis n = dims[axis]")
            qp = QuantParams(scales.copy(), zeros.astype(np.int32), None if axis == -1 else axis)
        return TemTensor(name, DTYPE_BY_CODE[dtype], shape, storage, offset, nbytes, qp, data)

    # -- 6. plan ----------------------------------------------------------------------------------
    def plan(self, tensors: list[TemTensor]) -> tuple[int, int, int, int]:
        if self.section(L.Section.PLAN)[1] < L.PLAN.size:
            raise self.fail("PLAN", f"{self.section(L.Section.PLAN)[1]} bytes, fewer than {L.PLAN.size}")
        arena, total, bound, alignment, _ = self.unpack(L.PLAN, L.Section.PLAN, 0)
        if arena > L.ARENA_MAX:
            raise self.fail("PLAN", f"arena_size {arena} is over 2^32")
        for i, t in enumerate(tensors):
            if not t.is_const and t.offset + t.nbytes > arena:
                raise self.fail(f"TENSORS record {i} ('{t.name}')",
                                f"activation bytes [{t.offset}, {t.offset + t.nbytes}) end past the "
                                f"arena ({arena} bytes)")
        return arena, total, bound, alignment

    # -- 7. graph inputs and outputs ----------------------------------------------------------------
    def graph_io(self, tensors: list[TemTensor]) -> tuple[list[int], list[int]]:
        off, size = self.section(L.Section.GRAPH)
        if size < L.TABLE_HEAD.size:
            raise self.fail("GRAPH", f"{size} bytes cannot hold its two counts")
        n_in, n_out = self.unpack(L.TABLE_HEAD, L.Section.GRAPH, 0)
        if (n_in + n_out) * 4 > size - L.TABLE_HEAD.size:
            raise self.fail("GRAPH", f"{n_in} inputs and {n_out} outputs do not fit in {size} bytes")
        ids = struct.unpack_from(f"<{n_in + n_out}I", self.mv, off + L.TABLE_HEAD.size)
        for k, idx in enumerate(ids):
            what = f"input {k}" if k < n_in else f"output {k - n_in}"
            if idx >= len(tensors):
                raise self.fail("GRAPH", f"{what}: tensor index {idx} is not below {len(tensors)}")
            if tensors[idx].is_const:
                raise self.fail("GRAPH", f"{what}: tensor '{tensors[idx].name}' is a constant, "
                                         f"not an activation")
        return list(ids[:n_in]), list(ids[n_in:])

    # -- 8. ops -----------------------------------------------------------------------------------
    def params(self, where: str, op: str, off: int, size: int) -> dict:
        """Decode one op's attribute blob, which its attributes must consume exactly."""
        base = self.section(L.Section.PARAMS)[0] + off
        pos, attrs = 0, {}
        for attr in OPS[op].attrs:
            need = 4
            if pos + need > size:
                raise self.fail(where, f"params blob of {size} bytes ends inside attribute "
                                       f"'{attr.name}'")
            if attr.kind in ("int", "float"):
                fmt = L.I32 if attr.kind == "int" else L.F32
                attrs[attr.name] = fmt.unpack_from(self.mv, base + pos)[0]
                pos += 4
                continue
            n = L.U32.unpack_from(self.mv, base + pos)[0]
            if n > L.MAX_ATTR_LEN or pos + 4 + 4 * n > size:
                raise self.fail(where, f"attribute '{attr.name}' has {n} values: more than "
                                       f"{L.MAX_ATTR_LEN} or past the end of its params blob")
            code = "i" if attr.kind == "ints" else "f"
            attrs[attr.name] = struct.unpack_from(f"<{n}{code}", self.mv, base + pos + 4)
            pos += 4 + 4 * n
        if pos != size:
            raise self.fail(where, f"params blob has {size} bytes, the attributes use {pos}")
        return attrs

    def op(self, k: int, tensors, io: tuple[int, int], written: set[int], inputs: set[int]) -> TemOp:
        opcode, name_ref, first, n_in, n_out, p_off, p_size = self.unpack(
            L.OP, L.Section.OPS, L.TABLE_HEAD.size + k * L.OP.size)
        where = f"OPS record {k}"
        name = self.string(name_ref, where)
        if opcode not in OPS_BY_CODE:
            raise self.fail(f"{where} ('{name}')", f"opcode {opcode} is unknown (known: 1..{max(OPS_BY_CODE)})")
        d = OPS_BY_CODE[opcode]
        where = f"OPS record {k} ('{name}', {d.name})"
        if not d.min_inputs <= n_in <= d.max_inputs or n_out != d.n_outputs:
            raise self.fail(where, f"{n_in} inputs and {n_out} outputs; the op takes "
                                   f"{d.min_inputs}..{d.max_inputs} inputs and {d.n_outputs} outputs")
        io_off, io_count = io
        if first + n_in + n_out > io_count:
            raise self.fail(where, f"IO entries [{first}, {first + n_in + n_out}) end past the "
                                   f"{io_count} entries of IO")
        ids = struct.unpack_from(f"<{n_in + n_out}I", self.mv, io_off + 4 * first)
        ins: list[Optional[int]] = []
        for j, idx in enumerate(ids[:n_in]):
            if idx == L.NONE and not d.variadic and j >= d.min_inputs:
                ins.append(None)
                continue
            if idx >= len(tensors):
                raise self.fail(where, f"input {j}: tensor index {idx} is not below {len(tensors)}"
                                       + ("" if idx != L.NONE else " (NONE marks optional inputs only)"))
            if not (tensors[idx].is_const or idx in inputs or idx in written):
                raise self.fail(where, f"input {j} '{tensors[idx].name}' is not a constant, a graph "
                                       f"input or the output of an earlier op")
            ins.append(idx)
        for j, idx in enumerate(ids[n_in:]):
            if idx >= len(tensors):
                raise self.fail(where, f"output {j}: tensor index {idx} is not below {len(tensors)}")
            t = tensors[idx]
            if t.is_const or idx in inputs or idx in written:
                raise self.fail(where, f"output {j} '{t.name}' is a constant, a graph input or "
                                       f"written by another op")
            written.add(idx)
        self.check_no_aliasing(where, tensors, [i for i in ins if i is not None], list(ids[n_in:]))
        p_total = self.section(L.Section.PARAMS)[1]
        if p_off % L.PARAMS_ALIGN or p_off + p_size > p_total:
            raise self.fail(where, f"params [{p_off}, {p_off + p_size}) are not 4-aligned inside "
                                   f"PARAMS ({p_total} bytes)")
        attrs = self.params(where, d.name, p_off, p_size)
        return TemOp(opcode, d.name, name, ins, list(ids[n_in:]), attrs)

    def check_no_aliasing(self, where: str, tensors, ins: list[int], outs: list[int]) -> None:
        """An output must not share arena bytes with the op's inputs or other outputs (kernels read
        their inputs while writing their outputs)."""
        for j, o in enumerate(outs):
            a = tensors[o]
            for other in ins + outs[:j]:
                b = tensors[other]
                if b.is_const or other == o:
                    continue
                if a.offset < b.offset + b.nbytes and b.offset < a.offset + a.nbytes:
                    raise self.fail(where, f"output '{a.name}' overlaps '{b.name}' in the arena")

    def metadata(self) -> dict[str, str]:
        count = self.table_count(L.Section.METADATA, L.META_PAIR.size, head=L.U32.size)
        meta = {}
        for i in range(count):
            key, value = self.unpack(L.META_PAIR, L.Section.METADATA, L.U32.size + i * L.META_PAIR.size)
            where = f"METADATA record {i}"
            meta[self.string(key, where)] = self.string(value, where)
        return meta

    # -- all of it --------------------------------------------------------------------------------
    def read(self) -> TemModel:
        major, minor, count, table, checksum = self.header()
        sections = self.section_table(count, table)
        self.checksum(checksum)
        quants = self.quant_records()
        weights = self.section(L.Section.WEIGHTS)
        tensors = [self.tensor(i, quants, weights)
                   for i in range(self.table_count(L.Section.TENSORS, L.TENSOR.size))]
        arena, total, bound, alignment = self.plan(tensors)
        inputs, outputs = self.graph_io(tensors)
        io_off, io_size = self.section(L.Section.IO)
        written: set[int] = set()
        ops = [self.op(k, tensors, (io_off, io_size // 4), written, set(inputs))
               for k in range(self.table_count(L.Section.OPS, L.OP.size))]
        for k, idx in enumerate(outputs):
            if idx not in written and idx not in inputs:
                raise self.fail("GRAPH", f"output {k} '{tensors[idx].name}' is written by no op and "
                                         f"is not a graph input")
        return TemModel((major, minor), tensors, ops, inputs, outputs, arena, total, bound, alignment,
                        self.metadata(), self.size, sections,
                        sum(t.nbytes for t in tensors if t.is_const), self.buf)


def read_tem(source: Union[str, os.PathLike, bytes, bytearray, memoryview]) -> TemModel:
    """Read and check a .tem file from a path or from its bytes.

    Raises FormatError (naming the file, section, record and rule) for any malformed file; OSError
    from opening a path passes through."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        label, data = "<bytes>", bytes(source)
    else:
        label, data = str(source), Path(source).read_bytes()
    try:
        return _Reader(_aligned_copy(data)).read()
    except FormatError as e:
        raise FormatError(f"{label}: {e}") from None
