"""The .tem writer and reader: round trips, the bytes against docs/format.md, and hostile files.

Byte positions used here are written from the tables of docs/format.md, not taken from
tinyedge/format/layout.py, so the layout module is checked against the spec too.
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest

from graph_zoo import zoo
from tinyedge import __version__
from tinyedge.errors import FormatError
from tinyedge.format import read_tem, serialize, write_tem
from tinyedge.ir import OPS, Graph, QuantParams, Tensor
from tinyedge.plan import plan_memory

META = {"name": "zoo", "source": "zoo.onnx", "input_layouts": "NHWC", "output_layouts": "NHWC"}
ZOO = zoo()


def tem_bytes(graph: Graph) -> bytes:
    return serialize(graph, plan_memory(graph), META)


def assert_same_attrs(op: str, a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for attr in OPS[op].attrs:
        x, y = a[attr.name], b[attr.name]
        if attr.kind.startswith("float"):  # stored as float32
            assert np.array_equal(np.float32(x), np.float32(y)), (op, attr.name, x, y)
        else:
            assert tuple(np.atleast_1d(x)) == tuple(np.atleast_1d(y)), (op, attr.name, x, y)


def assert_same_quant(a, b) -> None:
    assert (a is None) == (b is None)
    if a is not None:
        assert a.axis == b.axis
        assert np.asarray(a.scale, np.float32).tobytes() == np.asarray(b.scale, np.float32).tobytes()
        assert np.array_equal(a.zero_point, b.zero_point)


def assert_same_graph(a: Graph, b: Graph) -> None:
    assert (a.inputs, a.outputs) == (b.inputs, b.outputs)
    assert set(a.tensors) == set(b.tensors)
    for name, t in a.tensors.items():
        u = b.tensors[name]
        assert (t.shape, t.dtype, t.is_const) == (u.shape, u.dtype, u.is_const), name
        if t.is_const:  # bit-exact
            assert t.data.dtype == u.data.dtype and t.data.tobytes() == u.data.tobytes(), name
        assert_same_quant(t.quant, u.quant)
    assert len(a.nodes) == len(b.nodes)
    for n, m in zip(a.nodes, b.nodes):
        assert (n.op, n.name, n.inputs, n.outputs) == (m.op, m.name, m.inputs, m.outputs)
        assert_same_attrs(n.op, n.attrs, m.attrs)


# -- round trips -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ZOO))
def test_round_trip(name):
    graph = ZOO[name]
    plan = plan_memory(graph)
    data = serialize(graph, plan, META)
    model = read_tem(data)
    assert_same_graph(graph, model.to_graph())
    assert model.plan_offsets == plan.offsets
    assert (model.arena_size, model.activations_total, model.lower_bound, model.alignment) == \
        (plan.arena_size, plan.activations_total, plan.lower_bound, 64)
    assert model.meta == {**META, "producer": f"tinyedge {__version__}"}
    assert model.to_graph().meta == model.meta
    assert model.version == (1, 0) and model.file_size == len(data)
    assert model.weight_bytes == sum(t.nbytes for t in graph.tensors.values() if t.is_const)
    assert serialize(graph, plan, META) == data, "the same graph must give the same bytes"


def test_write_tem_to_disk(tmp_path):
    graph = ZOO["tiny_cnn"]
    path = tmp_path / "m.tem"
    size = write_tem(graph, plan_memory(graph), path, META)
    assert size == path.stat().st_size
    assert os.listdir(tmp_path) == ["m.tem"], "no temporary file may be left behind"
    assert_same_graph(graph, read_tem(path).to_graph())
    assert_same_graph(graph, read_tem(str(path)).to_graph())


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    graph = ZOO["add"]
    path = tmp_path / "m.tem"
    path.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_tem(graph, plan_memory(graph), path, META)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.tem"]


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_tem(tmp_path / "nope.tem")


def quantized_graph() -> Graph:
    """An int8 conv with per-channel weights, an int32 bias, and shared per-tensor parameters."""
    rng = np.random.default_rng(7)
    g = Graph()
    x = g.add_input("x", (1, 5, 5, 3), dtype="int8")
    w = g.add_const("w", rng.integers(-127, 128, (4, 3, 3, 3), dtype=np.int8))
    b = g.add_const("b", rng.integers(-1000, 1000, 4).astype(np.int32))
    (y,) = g.add_node("conv2d", [x, w, b], {"pads": (1, 1, 1, 1)}, name="conv")
    (z,) = g.add_node("max_pool2d", [y], {"kernel": (2, 2)}, name="pool")
    w_scale = rng.uniform(0.001, 0.01, 4).astype(np.float32)
    g.tensors[x].quant = QuantParams(np.float32([0.05]), np.int32([-3]))
    g.tensors[w].quant = QuantParams(w_scale, np.zeros(4, np.int32), axis=0)
    g.tensors[b].quant = QuantParams(w_scale * np.float32(0.05), np.zeros(4, np.int32), axis=0)
    g.tensors[y].quant = QuantParams(np.float32([0.1]), np.int32([5]))
    g.tensors[z].quant = QuantParams(np.float32([0.1]), np.int32([5]))
    g.outputs = [z]
    return g


def test_quant_round_trip():
    graph = quantized_graph()
    data = tem_bytes(graph)
    model = read_tem(data)
    assert "QUANT" in [s.name for s in model.sections]
    assert_same_graph(graph, model.to_graph())
    assert "QUANT" not in [s.name for s in read_tem(tem_bytes(ZOO["add"])).sections]


# -- the bytes against the spec ----------------------------------------------------------------------

def sections_of(data: bytes) -> dict[int, tuple[int, int]]:
    count, table = struct.unpack_from("<II", data, 24)
    entries = [struct.unpack_from("<IIQQ", data, table + 24 * i) for i in range(count)]
    return {kind: (off, size) for kind, _, off, size in entries}


@pytest.mark.parametrize("name", ["conv2d", "tiny_cnn", "concat"])
def test_bytes_follow_the_spec(name):
    graph = ZOO[name]
    data = tem_bytes(graph)
    magic, major, minor, endian, hsize, fsize, count, table, crc, flags = \
        struct.unpack_from("<4sHHIIQIIII", data, 0)
    assert (magic, major, minor, hsize, fsize, table, flags) == (b"TEDG", 1, 0, 64, len(data), 64, 0)
    assert data[8:12] == bytes([4, 3, 2, 1]) and data[40:64] == bytes(24)
    assert crc == zlib.crc32(data[64:])
    sec = sections_of(data)
    assert set(sec) == set(range(1, 10)) and count == 9
    assert all(off % 8 == 0 and off >= 64 + 24 * count for off, _ in sec.values())
    weights, _ = sec[9]
    assert weights % 64 == 0
    strings_off, strings_size = sec[1]
    strings = data[strings_off:strings_off + strings_size]
    names = strings.split(b"\0")[:-1]
    assert len(names) == len(set(names)), "strings are stored once"

    # Tensor records, decoded by hand: graph inputs first, constants 64-aligned and bit-exact.
    t_off, _ = sec[2]
    n_tensors = struct.unpack_from("<I", data, t_off)[0]
    records = {}
    for i in range(n_tensors):
        rec = struct.unpack_from("<IBBBB6IQQI", data, t_off + 8 + 64 * i)
        ref = rec[0]
        records[strings[ref:strings.index(b"\0", ref)].decode()] = (i, rec)
    for i, name_in in enumerate(graph.inputs):
        assert records[name_in][0] == i
    dtype_codes = {"float32": 1, "int8": 2, "uint8": 3, "int32": 4, "int16": 5}
    for tname, (_, rec) in records.items():
        t = graph.tensors[tname]
        _, dtype, rank, storage, _, *dims = rec[:11]
        offset, nbytes, quant = rec[11:]
        assert (dtype, rank, storage, nbytes, quant) == (dtype_codes[t.dtype], len(t.shape),
                                                         int(t.is_const), t.nbytes, 0xFFFFFFFF)
        assert tuple(dims[:rank]) == t.shape and not any(dims[rank:])
        assert offset % 64 == 0
        if t.is_const:
            assert data[weights + offset:weights + offset + nbytes] == t.data.tobytes()


def test_params_blob_follows_the_op_table_order():
    data = tem_bytes(ZOO["conv2d"])  # strides (2, 1), pads (1, 1, 1, 1), relu
    sec = sections_of(data)
    ops_off, _ = sec[3]
    opcode, _, _, n_in, n_out, p_off, p_size = struct.unpack_from("<IIIHHII", data, ops_off + 8)
    assert (opcode, n_in, n_out) == (1, 3, 1)
    expected = struct.pack("<I2iI2iI4iiff", 2, 2, 1, 2, 1, 1, 4, 1, 1, 1, 1, 1, 0.0, float("inf"))
    params_off, _ = sec[5]
    assert data[params_off + p_off:params_off + p_off + p_size] == expected


def test_constants_are_aligned_in_memory():
    model = read_tem(tem_bytes(ZOO["tiny_cnn"]))
    for t in model.tensors:
        if t.is_const:
            assert t.data.ctypes.data % 64 == 0 and not t.data.flags.writeable, t.name


# -- what the writer refuses -----------------------------------------------------------------------

def test_writer_refuses_what_the_format_cannot_hold():
    g = Graph()
    x = g.add_input("x", (1, 1, 1, 1, 1, 1, 2))
    g.outputs = g.add_node("sigmoid", [x], name="s")
    with pytest.raises(FormatError, match="rank 7"):
        tem_bytes(g)

    g = Graph()
    x = g.add_input("x", (2,), dtype="float64")
    g.outputs = g.add_node("sigmoid", [x], name="s")
    with pytest.raises(FormatError, match="dtype float64"):
        tem_bytes(g)

    g = Graph()
    x = g.add_input("x", (1,) * 6)
    g.outputs = g.add_node("reshape", [x], {"shape": (1,) * 6}, name="r")
    g.nodes[0].attrs["shape"] = (1,) * 17
    with pytest.raises(FormatError, match="'shape' has 17 values"):
        tem_bytes(g)

    g = Graph()
    x = g.add_input("x", (2,))
    g.outputs = g.add_node("leaky_relu", [x], {"alpha": 1e300}, name="lr")
    with pytest.raises(FormatError, match="node 'lr'.*'alpha'"):
        tem_bytes(g)

    graph = quantized_graph()
    graph.tensors["w"].quant = QuantParams(np.float32([0.1, 0.2]), np.int32([0, 0]), axis=0)
    with pytest.raises(FormatError, match="quantization of tensor 'w'"):
        tem_bytes(graph)


def test_writer_refuses_a_stale_plan():
    graph = ZOO["tiny_cnn"]
    plan = plan_memory(ZOO["add"])
    with pytest.raises(FormatError, match="no offset"):
        serialize(graph, plan, META)


# -- hostile files -----------------------------------------------------------------------------------

class Patch:
    """A mutable copy of a good file with helpers to change one field (positions from the spec)."""

    def __init__(self, data: bytes):
        self.buf = bytearray(data)
        self.model = read_tem(data)
        self.sec = {s.name: s.offset for s in self.model.sections}
        self.size = {s.name: s.size for s in self.model.sections}
        self.entry = {s.name: 64 + 24 * i for i, s in enumerate(self.model.sections)}
        self.index = {t.name: i for i, t in enumerate(self.model.tensors)}

    def put(self, fmt: str, offset: int, *values) -> "Patch":
        struct.pack_into("<" + fmt, self.buf, offset, *values)
        return self

    def tensor(self, name: str, field: int, fmt: str, value) -> "Patch":
        return self.put(fmt, self.sec["TENSORS"] + 8 + 64 * self.index[name] + field, value)

    def op(self, k: int, field: int, fmt: str, value) -> "Patch":
        return self.put(fmt, self.sec["OPS"] + 8 + 24 * k + field, value)

    def io(self, k: int, j: int, value: int) -> "Patch":
        first = struct.unpack_from("<I", self.buf, self.sec["OPS"] + 8 + 24 * k + 8)[0]
        return self.put("I", self.sec["IO"] + 4 * (first + j), value)

    def bytes(self, crc: bool = True) -> bytes:
        if crc:
            struct.pack_into("<I", self.buf, 32, zlib.crc32(self.buf[64:]))
        return bytes(self.buf)


GOOD = tem_bytes(ZOO["tiny_cnn"])
# tiny_cnn's ops: 0 conv1, 1 dw, 2 pool, 3 gap, 4 flatten, 5 fc, 6 prob.
HOSTILE = {
    "magic": (lambda p: p.put("4s", 0, b"TEDX"), "magic"),
    "major version": (lambda p: p.put("H", 4, 2), "format version 2"),
    "endian": (lambda p: p.put("I", 8, 0x04030201), "endian tag"),  # big-endian bytes
    "header size": (lambda p: p.put("I", 12, 128), "header_size"),
    "flags": (lambda p: p.put("I", 36, 1), "flags"),
    "file size": (lambda p: p.put("Q", 16, len(GOOD) + 1), "file_size"),
    "no sections": (lambda p: p.put("I", 24, 0), "section_count 0"),
    "too many sections": (lambda p: p.put("I", 24, 65), "section_count 65"),
    "table outside": (lambda p: p.put("I", 28, len(GOOD) - 8), "not inside the file"),
    "section outside": (lambda p: p.put("Q", p.entry["STRINGS"] + 16, 1 << 63), "not inside the file"),
    "section misaligned": (lambda p: p.put("Q", p.entry["PLAN"] + 8, p.sec["PLAN"] + 4), "8-aligned"),
    "weights misaligned": (lambda p: p.put("Q", p.entry["WEIGHTS"] + 8, p.sec["WEIGHTS"] - 8),
                           "64-aligned"),
    "kind twice": (lambda p: p.put("I", p.entry["GRAPH"], 7), "appears twice"),
    "overlap": (lambda p: p.put("Q", p.entry["TENSORS"] + 16, p.sec["OPS"] - p.sec["TENSORS"] + 8),
                "overlaps"),
    "missing section": (lambda p: p.put("I", p.entry["METADATA"], 77), "METADATA is missing"),
    "string ref": (lambda p: p.tensor("fc", 0, "I", 10**6), "string reference 1000000"),
    "string without NUL": (lambda p: p.put("B", p.sec["STRINGS"] + p.size["STRINGS"] - 1, ord("x")),
                           "no NUL"),
    "string not UTF-8": (lambda p: p.put("B", p.sec["STRINGS"], 0xFF), "UTF-8"),
    "tensor count": (lambda p: p.put("I", p.sec["TENSORS"], 0xFFFFFFFF), "do not fit"),
    "dtype": (lambda p: p.tensor("fc", 4, "B", 9), "dtype code 9"),
    "rank": (lambda p: p.tensor("fc", 5, "B", 7), "rank 7"),
    "zero dim": (lambda p: p.tensor("fc", 8, "I", 0), "dims"),
    "dim past rank": (lambda p: p.tensor("fc", 8 + 4 * 5, "I", 1), "dims"),
    "storage": (lambda p: p.tensor("fc", 6, "B", 2), "storage 2"),
    "nbytes": (lambda p: p.tensor("fc", 40, "Q", 12), "nbytes 12"),
    "nbytes overflow": (lambda p: p.tensor("fc", 8, "I", 0xFFFFFFFF).tensor("fc", 12, "I", 0xFFFFFFFF)
                        .tensor("fc", 40, "Q", 0xFFFFFFFE00000001 * 4 % (1 << 64)), "nbytes"),
    "offset misaligned": (lambda p: p.tensor("fc", 32, "Q", 4), "not 64-aligned"),
    "constant past weights": (lambda p: p.tensor("fc.w", 32, "Q", 1 << 20), "past WEIGHTS"),
    "quant index": (lambda p: p.tensor("fc", 48, "I", 0), "quant index 0"),
    "arena over 2^32": (lambda p: p.put("Q", p.sec["PLAN"], (1 << 32) + 64), "over 2^32"),
    "activation past arena": (lambda p: p.put("Q", p.sec["PLAN"], 64), "past the arena"),
    "graph counts": (lambda p: p.put("I", p.sec["GRAPH"], 1000), "do not fit"),
    "graph index": (lambda p: p.put("I", p.sec["GRAPH"] + 8, 999), "tensor index 999"),
    "graph input constant": (lambda p: p.put("I", p.sec["GRAPH"] + 8, p.index["fc.w"]), "constant"),
    "opcode": (lambda p: p.op(0, 0, "I", 99), "opcode 99"),
    "input count": (lambda p: p.op(0, 12, "H", 4), "4 inputs"),
    "output count": (lambda p: p.op(0, 14, "H", 2), "2 outputs"),
    "io range": (lambda p: p.op(0, 8, "I", 0xFFFFFFFF), "end past"),
    "none for a required input": (lambda p: p.io(0, 0, 0xFFFFFFFF), "NONE marks optional"),
    "io index": (lambda p: p.io(0, 1, 500), "tensor index 500"),
    "input not ready": (lambda p: p.io(0, 0, p.index["prob"]), "earlier op"),
    "output written twice": (lambda p: p.io(1, 2, p.index["conv1"]), "written by another op"),
    "output is a graph input": (lambda p: p.io(0, 3, p.index["image"]), "graph input"),
    "output is a constant": (lambda p: p.io(0, 3, p.index["fc.w"]), "constant"),
    "params range": (lambda p: p.op(0, 16, "I", 1 << 20), "PARAMS"),
    "params misaligned": (lambda p: p.op(1, 16, "I", 2), "4-aligned"),
    "params too long": (lambda p: p.op(0, 20, "I", 60), "params blob has 60 bytes"),
    "params too short": (lambda p: p.op(0, 20, "I", 52), "ends inside attribute 'act_max'"),
    "attribute too long": (lambda p: p.put("I", p.sec["PARAMS"], 17), "17 values"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file(case):
    mutate, message = HOSTILE[case]
    data = mutate(Patch(GOOD)).bytes()
    with pytest.raises(FormatError) as err:
        read_tem(data)
    if message:
        assert message in str(err.value), str(err.value)


def test_graph_output_must_be_written():
    g = Graph()
    x = g.add_input("x", (2, 3))
    (y,) = g.add_node("tanh", [x], name="t")
    g.tensors["ghost"] = Tensor("ghost", (2, 3))  # an activation nothing writes
    g.outputs = [y, "ghost"]
    plan = plan_memory(g)
    plan.offsets["ghost"] = 0
    with pytest.raises(FormatError, match="output 1 'ghost' is written by no op"):
        read_tem(serialize(g, plan, META))


def test_damaged_file_fails_the_checksum():
    data = Patch(GOOD).put("B", len(GOOD) - 1, GOOD[-1] ^ 1).bytes(crc=False)
    with pytest.raises(FormatError, match="checksum"):
        read_tem(data)


def test_absent_optional_input_is_read_as_none():
    p = Patch(GOOD)
    model = read_tem(p.io(0, 2, 0xFFFFFFFF).bytes())
    assert model.ops[0].inputs[2] is None
    assert model.to_graph().nodes[0].inputs == ["image", "conv1.w"]


def test_to_graph_refuses_shapes_the_op_table_does_not_infer():
    p = Patch(GOOD)
    p.tensor("prob", 8, "I", 4).tensor("prob", 12, "I", 1)  # (1, 4) becomes (4, 1), same bytes
    with pytest.raises(FormatError, match="op table infers"):
        read_tem(p.bytes()).to_graph()
    p = Patch(GOOD)
    p.op(1, 16, "I", struct.unpack_from("<I", p.buf, p.sec["OPS"] + 8 + 16)[0])  # dw reads conv1's params
    with pytest.raises(FormatError, match="OPS record 1"):
        read_tem(p.bytes()).to_graph()
    p = Patch(GOOD)
    p.tensor("conv1.b", 0, "I", struct.unpack_from("<I", p.buf, p.sec["TENSORS"] + 8 + 64)[0])
    with pytest.raises(FormatError, match="appears twice"):
        read_tem(p.bytes()).to_graph()


def test_every_truncation_is_refused():
    for n in range(len(GOOD)):
        with pytest.raises(FormatError):
            read_tem(GOOD[:n])


def test_minor_version_and_unknown_sections_are_read():
    """A 1.x file may add section kinds; a 1.0 reader skips them."""
    model = read_tem(GOOD)
    count = len(model.sections)
    extra = b"future!\0"
    shift = 64  # room for one more table entry, keeping every section's alignment
    out = bytearray(GOOD[:64]) + bytes(24 * (count + 1))
    out += bytes(64 + 24 * count + shift - len(out))
    out += GOOD[64 + 24 * count:]
    for i, s in enumerate(model.sections):
        struct.pack_into("<IIQQ", out, 64 + 24 * i, s.kind, 0, s.offset + shift, s.size)
    struct.pack_into("<IIQQ", out, 64 + 24 * count, 11, 0, len(out), len(extra))
    out += extra
    struct.pack_into("<H", out, 6, 1)  # version 1.1
    struct.pack_into("<QI", out, 16, len(out), count + 1)
    struct.pack_into("<I", out, 32, zlib.crc32(out[64:]))
    again = read_tem(bytes(out))
    assert again.version == (1, 1) and again.sections[-1].name == "?"
    assert_same_graph(model.to_graph(), again.to_graph())


def read_fully(data: bytes) -> None:
    """Read and rebuild; only FormatError may come out."""
    try:
        read_tem(data).to_graph()
    except FormatError:
        pass


@pytest.mark.parametrize("fix_crc", [False, True])
@pytest.mark.parametrize("which", ["tiny_cnn", "quantized"])
def test_random_byte_flips_raise_only_format_errors(which, fix_crc):
    good = GOOD if which == "tiny_cnn" else tem_bytes(quantized_graph())
    rng = np.random.default_rng([1234, fix_crc, len(which)])
    structure_end = read_tem(good).sections[-1].offset  # WEIGHTS: flips there are only data
    for variant in range(1500):
        p = Patch(good)
        for _ in range(int(rng.integers(1, 5))):
            p.buf[int(rng.integers(0, structure_end))] = int(rng.integers(0, 256))
        data = p.bytes(crc=fix_crc)
        try:
            read_fully(data)
        except Exception as e:  # noqa: BLE001 - the point is that nothing else escapes
            pytest.fail(f"variant {variant} (fix_crc={fix_crc}): {type(e).__name__}: {e}")
