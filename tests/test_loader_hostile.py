"""One handcrafted hostile .tem file per check of the C loader (docs/format.md, "What the loader
checks"), each loaded through tinyedge.load: the status and a message naming the rule.

A valid base file is written by tinyedge.format from a small conv net; each case patches its bytes
with struct at positions computed from the tables of docs/format.md (not from the writer's layout
module). Cases about checks that come after the checksum recompute it, so that the loader reaches
the check under test.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import tinyedge
from tinyedge import reference
from tinyedge.errors import RuntimeLoadError
from tinyedge.format import serialize
from tinyedge.ir import Graph, QuantParams
from tinyedge.plan import plan_memory

NONE = 0xFFFFFFFF
STRINGS, TENSORS, OPS, IO, PARAMS, GRAPH, PLAN, METADATA, WEIGHTS, QUANT = range(1, 11)


def base_graph() -> Graph:
    """x -> conv2d(w, b, pad 1, relu) -> add(c) -> output 1 -> quantize -> dequantize -> output 2;
    the int8 tensor between the last two carries the file's one quantization record."""
    rng = np.random.default_rng(7)
    g = Graph()
    x = g.add_input("x", (1, 6, 5, 3))
    w = g.add_const("w", rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32))
    b = g.add_const("b", rng.uniform(-1, 1, (4,)).astype(np.float32))
    (y,) = g.add_node("conv2d", [x, w, b], {"pads": (1, 1, 1, 1), "act_min": 0.0}, name="conv")
    c = g.add_const("c", rng.uniform(-1, 1, (4,)).astype(np.float32))
    (z,) = g.add_node("add", [y, c], name="add")
    (q,) = g.add_node("quantize", [z], name="q", dtype="int8")
    g.tensors[q].quant = QuantParams(scale=np.array([0.5], np.float32), zero_point=np.array([2]))
    g.outputs = [z] + g.add_node("dequantize", [q], name="dq", dtype="float32")
    return g


class Tem:
    """A mutable .tem file with the positions of its records (docs/format.md)."""

    def __init__(self, data: bytes):
        self.b = bytearray(data)
        count, table = struct.unpack_from("<II", data, 24)
        self.entry = {}  # kind -> position of its section-table entry
        self.sec = {}  # kind -> (offset, size)
        for i in range(count):
            kind, _, off, size = struct.unpack_from("<IIQQ", data, table + 24 * i)
            self.entry[kind] = table + 24 * i
            self.sec[kind] = (off, size)
        n = self.u32(self.sec[TENSORS][0])
        self.tensor_names = [self.string(self.u32(self.tensor(i))) for i in range(n)]

    def u32(self, pos: int) -> int:
        return struct.unpack_from("<I", self.b, pos)[0]

    def put(self, fmt: str, pos: int, *values) -> None:
        struct.pack_into("<" + fmt, self.b, pos, *values)

    def string(self, ref: int) -> str:
        off = self.sec[STRINGS][0] + ref
        return bytes(self.b[off:self.b.index(0, off)]).decode()

    def tensor(self, i: int) -> int:
        """Position of tensor record i."""
        return self.sec[TENSORS][0] + 8 + 64 * i

    def index(self, name: str) -> int:
        return self.tensor_names.index(name)

    def op(self, i: int) -> int:
        """Position of op record i."""
        return self.sec[OPS][0] + 8 + 24 * i

    def io(self, op: int, k: int) -> int:
        """Position of the IO entry k (inputs, then outputs) of op."""
        return self.sec[IO][0] + 4 * (self.u32(self.op(op) + 8) + k)

    def fix(self) -> "Tem":
        """Recompute file_size and the checksum."""
        self.put("Q", 16, len(self.b))
        self.put("I", 32, zlib.crc32(bytes(self.b[64:])) & 0xFFFFFFFF)
        return self


def drop_section(t: Tem, kind: int) -> None:
    """Turn a section's entry into an unknown kind (the loader skips it, so the kind is missing)."""
    t.put("I", t.entry[kind], 200)


def string_without_nul(t: Tem) -> None:
    """The last string of STRINGS loses its NUL (tensor 0's name is made to be that string)."""
    off, size = t.sec[STRINGS]
    t.put("I", t.tensor(0), size - 1)
    t.b[off + size - 1] = ord("A")


def huge_dims(t: Tem) -> None:
    """Tensor 0 of rank 6 with every dim 2^31-1: the element count overflows 64 bits."""
    t.b[t.tensor(0) + 5] = 6
    t.put("6I", t.tensor(0) + 8, *([0x7FFFFFFF] * 6))


def conv_output_too_short(t: Tem) -> None:
    """The conv output declared (1, 5, 5, 4) instead of (1, 6, 5, 4), nbytes to match."""
    conv = t.tensor(t.index("conv"))
    t.put("I", conv + 8 + 4, 5)
    t.put("Q", conv + 40, 5 * 5 * 4 * 4)


def conv_params(t: Tem) -> int:
    """Position of the conv2d op's PARAMS blob: strides, dilations, pads (ints), group, ..."""
    return t.sec[PARAMS][0] + t.u32(t.op(0) + 16)


# name -> (patch, recompute checksum, status, text the message must contain)
CASES: dict[str, tuple[Callable[[Tem], None], bool, str, str]] = {
    "short_file": (lambda t: t.b.__delitem__(slice(40, None)), False, "format error",
                   "fewer than the 64-byte header"),
    "bad_magic": (lambda t: t.put("4s", 0, b"PK\x03\x04"), False, "format error", "not a .tem file"),
    "major_version": (lambda t: t.put("H", 4, 2), False, "version error", "version 2.0"),
    "endian_tag": (lambda t: t.put("I", 8, 0x04030201), False, "version error", "big-endian"),
    "header_size": (lambda t: t.put("I", 12, 128), False, "format error", "header_size is 128"),
    "header_flags": (lambda t: t.put("I", 36, 1), False, "format error", "flags"),
    "file_size": (lambda t: t.b.extend(bytes(8)), False, "format error", "file_size says"),
    "section_count": (lambda t: t.put("I", 24, 65), True, "format error", "section_count is 65"),
    "section_table_past_end": (lambda t: t.put("I", 28, len(t.b) - 8), True, "format error",
                               "section table"),
    "section_out_of_file": (lambda t: t.put("Q", t.entry[PARAMS] + 16, 1 << 40), True,
                            "format error", "is not inside the file"),
    "section_offset_wraps": (lambda t: t.put("QQ", t.entry[PARAMS] + 8, (1 << 64) - 8, 16), True,
                             "format error", "is not inside the file"),
    "section_unaligned": (lambda t: t.put("Q", t.entry[PLAN] + 8, t.sec[PLAN][0] + 4), True,
                          "format error", "(PLAN): offset"),
    "weights_unaligned": (lambda t: t.put("Q", t.entry[WEIGHTS] + 8, t.sec[WEIGHTS][0] - 8), True,
                          "format error", "not 64-byte aligned"),
    "sections_overlap": (lambda t: t.put("Q", t.entry[OPS] + 8, t.sec[TENSORS][0] + 64), True,
                         "format error", "overlaps"),
    "duplicate_kind": (lambda t: t.put("I", t.entry[PLAN], GRAPH), True, "format error",
                       "appears twice"),
    "missing_section": (lambda t: drop_section(t, PLAN), True, "format error",
                        "required section PLAN"),
    "bad_checksum": (lambda t: t.put("I", 32, t.u32(32) ^ 1), False, "checksum error", "checksum"),
    "damaged_byte": (lambda t: t.b.__setitem__(-1, t.b[-1] ^ 0x40), False, "checksum error",
                     "damaged"),
    "string_without_nul": (string_without_nul, True, "format error", "does not end with a NUL"),
    "string_not_utf8": (lambda t: t.b.__setitem__(t.sec[STRINGS][0], 0xFF), True, "format error",
                        "is not valid UTF-8"),
    "string_ref_out_of_range": (lambda t: t.put("I", t.op(0) + 4, 1 << 20), True, "format error",
                                "OPS[0]: name string reference 1048576"),
    "tensor_count_huge": (lambda t: t.put("I", t.sec[TENSORS][0], NONE), True, "format error",
                          "TENSORS: count 4294967295 needs"),
    # count * 64 wraps to 64 in 32 bits: an unsafe `8 + count * 64 <= size` check would pass.
    "tensor_count_wraps": (lambda t: t.put("I", t.sec[TENSORS][0], 0x04000001), True,
                           "format error", "TENSORS: count 67108865 needs"),
    "bad_dtype": (lambda t: t.b.__setitem__(t.tensor(t.index("b")) + 4, 9), True, "format error",
                  "'b': dtype 9 is not 1..5"),
    "bad_rank": (lambda t: t.b.__setitem__(t.tensor(0) + 5, 7), True, "format error", "rank 7"),
    "zero_dim": (lambda t: t.put("I", t.tensor(0) + 8 + 4, 0), True, "format error",
                 "dims[1] = 0"),
    "dim_past_rank": (lambda t: t.put("I", t.tensor(t.index("b")) + 8 + 4, 3), True,
                      "format error", "past rank 1 must be 0"),
    "dims_overflow": (huge_dims, True, "format error", "overflows"),
    "bad_storage": (lambda t: t.b.__setitem__(t.tensor(0) + 6, 2), True, "format error",
                    "storage 2"),
    "nbytes_mismatch": (lambda t: t.put("Q", t.tensor(t.index("w")) + 40, 4), True, "format error",
                        "'w': nbytes 4 != product(dims)"),
    "unaligned_offset": (lambda t: t.put("Q", t.tensor(t.index("w")) + 32, 4), True, "format error",
                         "'w': offset 4 is not 64-byte aligned"),
    "weights_out_of_range": (lambda t: t.put("Q", t.tensor(t.index("c")) + 32, 1 << 20), True,
                             "format error", "exceeds WEIGHTS"),
    "activation_outside_arena": (lambda t: t.put("Q", t.tensor(t.index("conv")) + 32, 1 << 30),
                                 True, "format error", "'conv': offset 1073741824 + nbytes"),
    "arena_too_large": (lambda t: t.put("Q", t.sec[PLAN][0], (1 << 32) + 64), True, "format error",
                        "arena_size 4294967360 is above the limit"),
    "quant_index_out_of_range": (lambda t: t.put("I", t.tensor(0) + 48, 5), True, "format error",
                                 "quant index 5"),
    "quant_scale_negative": (lambda t: t.put("f", t.sec[QUANT][0] + t.u32(t.sec[QUANT][0] + 16),
                                             -1.0), True, "format error", "scales must be finite"),
    "graph_index_out_of_range": (lambda t: t.put("I", t.sec[GRAPH][0] + 8, 999), True,
                                 "format error", "GRAPH: input 0 is tensor index 999"),
    "graph_count_overflow": (lambda t: t.put("II", t.sec[GRAPH][0], 1, NONE), True, "format error",
                             "GRAPH: 1 inputs and 4294967295 outputs"),
    "graph_input_constant": (lambda t: t.put("I", t.sec[GRAPH][0] + 8, t.index("w")), True,
                             "format error", "a constant"),
    "opcode_unknown": (lambda t: t.put("I", t.op(1), 99), True, "unsupported",
                       "opcode 99 is not an op this runtime knows"),
    "too_many_inputs": (lambda t: t.put("H", t.op(1) + 12, 3), True, "format error",
                        "3 inputs; the op takes 2..2"),
    "io_range": (lambda t: t.put("I", t.op(1) + 8, NONE), True, "format error",
                 "run past the"),
    "tensor_index_out_of_range": (lambda t: t.put("I", t.io(1, 1), 1000), True, "format error",
                                  "input 1 is tensor index 1000"),
    "none_on_required_input": (lambda t: t.put("I", t.io(0, 1), NONE), True, "format error",
                               "NONE only marks an absent optional input"),
    "params_unaligned": (lambda t: t.put("I", t.op(1) + 16, t.u32(t.op(1) + 16) + 2), True,
                         "format error", "params"),
    "params_too_short": (lambda t: t.put("I", t.op(0) + 20, t.u32(t.op(0) + 20) - 4), True,
                         "format error", "ends before attribute 5"),
    "params_too_long": (lambda t: t.put("I", t.op(0) + 20, t.u32(t.op(0) + 20) + 4), True,
                        "format error", "4 bytes left after the 6 attributes"),
    "params_list_too_long": (lambda t: t.put("I", conv_params(t), 17), True, "format error",
                             "17 values, at most 16"),
    "read_before_write": (lambda t: t.put("I", t.io(0, 0), t.index("add")), True, "format error",
                          "reads tensor"),
    "output_is_constant": (lambda t: t.put("I", t.io(1, 2), t.index("c")), True, "format error",
                           "output 0 is tensor"),
    "output_is_graph_input": (lambda t: t.put("I", t.io(0, 3), t.index("x")), True, "format error",
                              "a graph input"),
    "output_written_twice": (lambda t: t.put("I", t.io(1, 2), t.index("conv")), True,
                             "format error", "already written by another op"),
    "output_overlaps_input": (lambda t: t.put("Q", t.tensor(t.index("conv")) + 32,
                                              t.u32(t.tensor(t.index("x")) + 32)), True,
                              "format error", "overlaps input 0 'x'"),
    "graph_output_never_written": (lambda t: t.put("I", t.sec[OPS][0], 1), True, "format error",
                                   "which no op writes"),
    "conv_inconsistent_shapes": (conv_output_too_short, True, "shape error",
                                 "OPS[0] 'conv' (conv2d"),
    # group follows three ints lists: strides (4 + 2*4), dilations (4 + 2*4), pads (4 + 4*4) = 44.
    "conv_group_mismatch": (lambda t: t.put("i", conv_params(t) + 44, 2), True, "shape error",
                            "group 2"),
}


@pytest.fixture(scope="module")
def base() -> bytes:
    g = base_graph()
    return serialize(g, plan_memory(g), {"name": "hostile", "source": "hostile.onnx"})


def test_base_file_loads_and_matches_the_reference(base, tmp_path):
    path = tmp_path / "base.tem"
    path.write_bytes(base)
    model = tinyedge.load(path)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 6, 5, 3)).astype(np.float32)
    want = reference.run(base_graph(), [x])
    got = model.run(x)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[1], want[1])  # quantize -> dequantize: exact in both


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_is_refused(case, base, tmp_path):
    patch, recompute, status, text = CASES[case]
    tem = Tem(base)
    patch(tem)
    if recompute:
        tem.fix()
    path = tmp_path / f"{case}.tem"
    path.write_bytes(bytes(tem.b))
    with pytest.raises(RuntimeLoadError) as err:
        tinyedge.load(path)
    message = str(err.value)
    assert err.value.status == status, message
    assert message.startswith(f"{path}: "), message
    assert text in message, message
    assert "\n" not in message


def test_absent_optional_input_is_accepted(base, tmp_path):
    """NONE in an optional input's place (conv2d's bias) is valid: the op runs without bias."""
    tem = Tem(base)
    tem.put("I", tem.io(0, 2), NONE)
    path = tmp_path / "nobias.tem"
    path.write_bytes(bytes(tem.fix().b))
    g = base_graph()
    g.nodes[0].inputs = g.nodes[0].inputs[:2]
    x = np.random.default_rng(2).uniform(-1, 1, (1, 6, 5, 3)).astype(np.float32)
    got = tinyedge.load(path).run(x)
    np.testing.assert_allclose(got[0], reference.run(g, [x])[0], rtol=1e-5, atol=1e-5)


def test_unknown_section_kind_is_skipped(base, tmp_path):
    """A later minor version may add section kinds: a 1.0 loader skips what it does not know."""
    tem = Tem(base)
    tem.put("I", tem.entry[QUANT], 77)  # QUANT is optional; the quant index now points nowhere
    tem.put("I", tem.tensor(tem.index("q")) + 48, NONE)
    tem.put("H", 6, 3)  # minor version 3
    path = tmp_path / "minor.tem"
    path.write_bytes(bytes(tem.fix().b))
    with pytest.raises(RuntimeLoadError, match="'q' needs per-tensor quantization parameters"):
        tinyedge.load(path)  # the file is read; the int8 tensor has lost its record
