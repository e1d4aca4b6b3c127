"""The Python API of the C runtime (tinyedge.load, tinyedge.runtime): describing a model, running it on a list, a
dict or a single array, and the one-line errors for bad inputs and bad files. Outputs are compared
with the numpy reference executor on the same IR graph.
"""
from __future__ import annotations

import numpy as np
import pytest

from graph_zoo import zoo
import tinyedge
from tinyedge import __version__, reference
from tinyedge.errors import InputError, RuntimeLoadError
from tinyedge.format import serialize, write_tem
from tinyedge.ir import Graph, QuantParams
from tinyedge.plan import plan_memory
from tinyedge.runtime import OpInfo, TensorInfo, load_bytes

# Float kernels and the reference may sum in different orders: a few float32 ulps on values of
# order 1, after at most a few hundred accumulations.
RTOL = ATOL = 1e-5


def two_input_graph() -> Graph:
    """a (2, 3, 4) float and b (1, 4) int8 -> dequantize -> sub -> tanh -> y, and mul(a, 2) -> z:
    two inputs, two outputs."""
    g = Graph()
    a = g.add_input("a", (2, 3, 4))
    b = g.add_input("b", (1, 4), dtype="int8")
    g.tensors[b].quant = QuantParams(scale=np.array([0.25], np.float32), zero_point=np.array([-3]))
    (bf,) = g.add_node("dequantize", [b], name="b_float", dtype="float32")
    (d,) = g.add_node("sub", [a, bf], name="diff")
    (y,) = g.add_node("tanh", [d], name="y")
    (z,) = g.add_node("mul", [a, g.add_const("two", np.full((1,), 2.0, np.float32))], name="z")
    g.outputs = [y, z]
    return g


def write(graph: Graph, path, meta=None) -> str:
    write_tem(graph, plan_memory(graph), path, meta or {"name": "api", "source": "api.onnx"})
    return str(path)


@pytest.fixture()
def two(tmp_path):
    graph = two_input_graph()
    return graph, tinyedge.load(write(graph, tmp_path / "two.tem"))


def random_inputs(graph: Graph, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, graph.tensors[n].shape).astype(np.float32)
            if graph.tensors[n].dtype == "float32"
            else rng.integers(-128, 128, graph.tensors[n].shape).astype(graph.tensors[n].dtype)
            for n in graph.inputs]


def test_inputs_and_outputs_are_described(two):
    _, model = two
    assert model.inputs == [TensorInfo("a", (2, 3, 4), np.dtype(np.float32), None, None),
                            TensorInfo("b", (1, 4), np.dtype(np.int8), 0.25, -3)]
    assert [(t.name, t.shape, t.dtype) for t in model.outputs] == [
        ("y", (2, 3, 4), np.float32), ("z", (2, 3, 4), np.float32)]


def test_ops_meta_and_arena(two):
    graph, model = two
    assert [(op.name, op.op, op.kernel) for op in model.ops] == [
        ("b_float", "dequantize", "te_dequantize_s8__ref"), ("diff", "sub", "te_sub_f32__ref"), ("y", "tanh", "te_tanh_f32__ref"),
        ("z", "mul", "te_mul_f32__ref")]
    assert all(isinstance(op, OpInfo) and op.macs >= 0 for op in model.ops)
    assert model.meta("name") == "api" and model.meta("source") == "api.onnx"
    assert model.meta("producer") == f"tinyedge {__version__}"
    assert model.meta("no such key") is None
    assert model.arena_size == plan_memory(graph).arena_size


def test_list_dict_and_single_array_agree_with_the_reference(two, tmp_path):
    graph, model = two
    xs = random_inputs(graph)
    want = reference.run(graph, xs)
    for got in (model.run(xs), model.run(tuple(xs)), model.run({"b": xs[1], "a": xs[0]})):
        assert len(got) == 2
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
    cnn = zoo()["tiny_cnn"]
    single = tinyedge.load(write(cnn, tmp_path / "cnn.tem"))
    (x,) = random_inputs(cnn, seed=3)
    (got,) = single.run(x)
    np.testing.assert_allclose(got, reference.run(cnn, [x])[0], rtol=RTOL, atol=ATOL)


def test_outputs_are_new_arrays_and_inputs_may_be_views(two):
    graph, model = two
    xs = random_inputs(graph)
    first = model.run(xs)
    kept = [o.copy() for o in first]
    flipped = [x[..., ::-1] for x in xs]  # non-contiguous views
    second = model.run(flipped)
    for f, k in zip(first, kept):
        np.testing.assert_array_equal(f, k)
    for g, w in zip(second, reference.run(graph, [np.ascontiguousarray(x) for x in flipped])):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def test_profile_times_every_op(two):
    graph, model = two
    xs = random_inputs(graph)
    outs, ns = model.profile(xs)
    assert len(ns) == len(model.ops) and all(isinstance(t, int) and t >= 0 for t in ns)
    for g, w in zip(outs, model.run(xs)):
        np.testing.assert_array_equal(g, w)


def test_load_bytes(two):
    graph, _ = two
    model = load_bytes(serialize(graph, plan_memory(graph), {"name": "mem"}), name="mem.tem")
    xs = random_inputs(graph)
    for g, w in zip(model.run(xs), reference.run(graph, xs)):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
    with pytest.raises(RuntimeLoadError, match=r"^mem\.tem: header: magic bytes"):
        load_bytes(b"\0" * 100, name="mem.tem")


@pytest.mark.parametrize("inputs, message", [
    (lambda a, b: [a, b[:, :3]],
     r"^input 'b': expected shape \(1, 4\) int8, got \(1, 3\) int8$"),
    (lambda a, b: [a.astype(np.float64), b],
     r"^input 'a': expected \(2, 3, 4\) float32, got \(2, 3, 4\) float64; cast it with "
     r"\.astype\(np\.float32\)$"),
    (lambda a, b: [a], r"^expected 2 input\(s\) \('a', 'b'\), got 1$"),
    (lambda a, b: {"a": a}, r"^missing input 'b'; the model's inputs are 'a', 'b'$"),
    (lambda a, b: {"a": a, "b": b, "c": b}, r"^unknown input 'c'; the model's inputs are 'a', 'b'$"),
    (lambda a, b: a, r"^the model has 2 inputs \('a', 'b'\): pass a list in that order or a dict"),
])
def test_bad_inputs_raise_one_clear_line(two, inputs, message):
    graph, model = two
    a, b = random_inputs(graph)
    with pytest.raises(InputError, match=message):
        model.run(inputs(a, b))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.tem"
    with pytest.raises(RuntimeLoadError, match=f"^{path}: no such file$") as err:
        tinyedge.load(path)
    assert err.value.status == "io error"


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(RuntimeLoadError, match="is a directory") as err:
        tinyedge.load(tmp_path)
    assert err.value.status == "io error"


def test_non_tem_file_says_so(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(200))
    with pytest.raises(RuntimeLoadError, match=f"^{path}: header: .*not a .tem file$") as err:
        tinyedge.load(path)
    assert err.value.status == "format error"
    empty = tmp_path / "empty.tem"
    empty.write_bytes(b"")
    with pytest.raises(RuntimeLoadError, match="fewer than the 64-byte header"):
        tinyedge.load(empty)


def test_threads_from_0_to_64_are_accepted(two, tmp_path):
    """te_options.threads: 0 and 1 run on the caller, 2..64 start a pool; outside that range the
    load fails with TE_ERR_ARG naming the allowed range."""
    graph, _ = two
    path = write(graph, tmp_path / "t.tem")
    feeds = random_inputs(graph)
    want = tinyedge.load(path, threads=1).run(feeds)
    for threads in (0, 2, 4, 64):
        got = tinyedge.load(path, threads=threads).run(feeds)
        assert [g.tobytes() for g in got] == [w.tobytes() for w in want], threads
    for threads in (-1, 65):
        with pytest.raises(RuntimeLoadError, match=f"threads = {threads}; allowed: .* up to 64") as err:
            tinyedge.load(path, threads=threads)
        assert err.value.status == "bad argument"


def test_c_api_arguments_and_caller_arena(two):
    """The C calls under the binding: argument checks, and a caller-owned arena used in place."""
    from tinyedge._runtime import ffi, lib

    graph, model = two
    data = serialize(graph, plan_memory(graph), {"name": "c"})
    store = np.zeros(len(data) + 128, np.uint8)
    start = (-store.ctypes.data) % 64
    store[start:start + len(data)] = np.frombuffer(data, np.uint8)
    out = ffi.new("te_model **")
    err = ffi.new("char[]", 256)
    misaligned = ffi.from_buffer(store[start + 1:start + 1 + len(data)])
    assert lib.te_model_load_buffer(misaligned, len(data), ffi.NULL, out, err, 256) == lib.TE_ERR_ARG
    assert b"not 64-byte aligned" in ffi.string(err) and out[0] == ffi.NULL

    aligned = ffi.from_buffer(store[start:start + len(data)])
    arena = np.zeros(model.arena_size + 128, np.uint8)
    arena_start = (-arena.ctypes.data) % 64
    options = ffi.new("te_options *")
    options.arena = ffi.from_buffer(arena[arena_start + 8:])
    options.arena_size = model.arena_size
    assert lib.te_model_load_buffer(aligned, len(data), options, out, err, 256) == lib.TE_ERR_ARG
    options.arena = ffi.from_buffer(arena[arena_start:])
    options.arena_size = model.arena_size - 64
    assert lib.te_model_load_buffer(aligned, len(data), options, out, err, 256) == lib.TE_ERR_ARG
    assert b"smaller than the" in ffi.string(err)
    options.arena_size = model.arena_size
    assert lib.te_model_load_buffer(aligned, len(data), options, out, err, 256) == lib.TE_OK
    m = ffi.gc(out[0], lib.te_model_free)

    info = ffi.new("te_tensor_info *")
    assert lib.te_model_input_info(m, 2, info) == lib.TE_ERR_ARG
    assert ffi.string(lib.te_model_error(m)) == b"input 2 is out of range (the model has 2)"
    assert lib.te_model_input_data(m, -1) == ffi.NULL and lib.te_model_output_data(m, 2) == ffi.NULL
    xs = random_inputs(graph)
    assert lib.te_model_set_input(m, 0, ffi.from_buffer(xs[0]), xs[0].nbytes - 4) == lib.TE_ERR_ARG
    for i, x in enumerate(xs):
        assert lib.te_model_set_input(m, i, ffi.from_buffer(x), x.nbytes) == lib.TE_OK
    assert lib.te_model_invoke(m) == lib.TE_OK
    # Outputs live in the caller's arena: read them there, with no copy through the API.
    y_ptr = lib.te_model_output_data(m, 0)
    offset = int(ffi.cast("uintptr_t", y_ptr)) - (arena.ctypes.data + arena_start)
    assert 0 <= offset <= model.arena_size - 96
    y = arena[arena_start + offset:arena_start + offset + 96].view(np.float32).reshape(2, 3, 4)
    np.testing.assert_allclose(y, reference.run(graph, xs)[0], rtol=RTOL, atol=ATOL)

    assert ffi.string(lib.te_version()) == b"0.1.0"
    assert ffi.string(lib.te_opcode_name(1)) == b"conv2d" and lib.te_opcode_name(0) == ffi.NULL
    assert ffi.string(lib.te_status_name(lib.TE_ERR_CHECKSUM)) == b"checksum error"
