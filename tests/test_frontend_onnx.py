"""The ONNX frontend's behaviours: errors, opsets, dynamic dims, constant folding, naming.

Numerical results are compared with onnxruntime; structure (which IR ops a model becomes) with what
the frontend promises the later passes.
"""
from __future__ import annotations

import inspect

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tinyedge.errors import ModelError, UnsupportedOpError
from tinyedge.frontends import load_onnx
from tinyedge.frontends.onnx_fold import FOLDERS
from tinyedge.frontends.onnx_ops import CONVERTERS
from tinyedge.reference import run as reference_run

RTOL = 1e-4  # float32 sums in another order than onnxruntime; see test_ops_onnx.py


def make_model(nodes, inputs, outputs, inits=(), opset=13, input_dims=None) -> onnx.ModelProto:
    """inputs: {name: array}; input_dims overrides a declared shape (symbolic dims as strings)."""
    dims = input_dims or {}
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, dims.get(k, v.shape))
         for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in dict(inits).items()])
    ops = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=ops, ir_version=helper.find_min_ir_version_for(ops))


def ort_run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_matches_ort(graph, model, feeds) -> None:
    for got, want in zip(reference_run(graph, feeds), ort_run(model, feeds)):
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= RTOL * max(np.abs(want).max(), 1e-6)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Errors name the op, the node and the file.

def test_unsupported_op_names_op_node_and_file(tmp_path):
    x = rand(2, 3)
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="first"),
             helper.make_node("Erf", ["r"], ["y"], name="the_erf")]
    path = tmp_path / "erf_model.onnx"
    onnx.save(make_model(nodes, {"x": x}, ["y"]), str(path))
    with pytest.raises(UnsupportedOpError) as e:
        load_onnx(path)
    msg = str(e.value)
    assert "'Erf'" in msg and "'the_erf'" in msg and "erf_model.onnx" in msg
    assert "Conv" in msg  # says what is supported instead
    assert (e.value.op, e.value.node, e.value.source) == ("Erf", "the_erf", "erf_model.onnx")


@pytest.mark.parametrize("node, opset, detail", [
    (helper.make_node("Pad", ["x", "p"], ["y"], name="n", mode="wrap"), 19, "mode 'wrap'"),
    (helper.make_node("Resize", ["x", "", "s"], ["y"], name="n", mode="cubic"), 13, "mode 'cubic'"),
    (helper.make_node("Conv", ["x", "w3"], ["y"], name="n"), 13, "rank 3"),
    (helper.make_node("LeakyRelu", ["x"], ["y"], name="n", gamma=1.0), 13, "attribute 'gamma'"),
    (helper.make_node("Relu", ["x"], ["y"], name="n", domain="com.microsoft"), 13, "com.microsoft"),
])
def test_unsupported_attribute_values_are_errors(node, opset, detail):
    x = rand(1, 2, 5, 5)
    inits = {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64),
             "s": np.array([1, 1, 2, 2], np.float32), "w3": rand(4, 2, 3)}
    if node.input[0] == "x" and node.op_type == "Conv":
        x = rand(1, 2, 7)
    model = make_model([node], {"x": x}, ["y"], {k: v for k, v in inits.items() if k in node.input},
                       opset)
    if node.domain:
        model.opset_import.append(helper.make_opsetid(node.domain, 1))
    with pytest.raises(UnsupportedOpError, match=detail) as e:
        load_onnx(model, source="m.onnx")
    assert "'n'" in str(e.value) and "m.onnx" in str(e.value)


def test_unused_output_is_ignored_but_a_used_one_is_an_error():
    x = rand(1, 1, 4, 4)
    pool = helper.make_node("MaxPool", ["x"], ["y", "idx"], name="pool", kernel_shape=[2, 2])
    graph = load_onnx(make_model([pool], {"x": x}, ["y"]))  # Indices produced but unread
    assert [n.op for n in graph.nodes] == ["transpose", "max_pool2d", "transpose"]
    use = helper.make_node("Cast", ["idx"], ["y2"], to=TensorProto.FLOAT)
    with pytest.raises(UnsupportedOpError, match="output 1 .'idx'. is not supported"):
        load_onnx(make_model([pool, use], {"x": x}, ["y", "y2"]))


def test_folder_only_op_on_an_activation_is_an_error():
    node = helper.make_node("Gather", ["x", "i"], ["y"], name="g")
    model = make_model([node], {"x": rand(4, 3)}, ["y"], {"i": np.array([0, 2], np.int64)})
    with pytest.raises(UnsupportedOpError, match="only on constant inputs.*'x'"):
        load_onnx(model)


@pytest.mark.parametrize("opset, match", [(22, "opset 22 is not supported"),
                                          (5, "opset 5 is not supported")])
def test_opsets_out_of_range_are_refused(opset, match):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": rand(2)}, ["y"])
    model.opset_import[0].version = opset
    with pytest.raises(ModelError, match=match):
        load_onnx(model)


def test_unreadable_files_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\x00 this is not a protobuf")
    with pytest.raises(ModelError, match="bad.onnx"):
        load_onnx(bad)


def test_non_float_input_is_refused():
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.INT64, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, [3])])
    with pytest.raises(ModelError, match="'x' is INT64; only float32"):
        load_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))


def test_constant_output_is_refused():
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT)]
    with pytest.raises(ModelError, match="output 'sf' is a constant"):
        load_onnx(make_model(nodes, {"x": rand(2, 3)}, ["y", "sf"]))


# ---------------------------------------------------------------------------------------------
# Dynamic dims.

def _dynamic_model(dims):
    return make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": rand(2, 3, 4)}, ["y"],
                      input_dims={"x": dims})


def test_symbolic_batch_becomes_one():
    graph = load_onnx(_dynamic_model(["batch", 3, 4]))
    assert graph.tensors["x"].shape == (1, 3, 4)
    assert graph.tensors[graph.outputs[0]].shape == (1, 3, 4)


def test_other_symbolic_dims_need_input_shapes():
    model = _dynamic_model(["batch", "seq", 4])
    with pytest.raises(ModelError, match=r"'x' has dynamic dims \(batch, seq, 4\); pass "
                                         r"--input-shape x=d0,d1,\.\.\."):
        load_onnx(model)
    assert load_onnx(model, input_shapes={"x": (2, 7, 4)}).tensors["x"].shape == (2, 7, 4)


def test_input_shapes_must_fit_the_model():
    model = _dynamic_model(["batch", "seq", 4])
    with pytest.raises(ModelError, match="declares"):
        load_onnx(model, input_shapes={"x": (2, 7, 5)})
    with pytest.raises(ModelError, match="names \\['nope'\\]"):
        load_onnx(model, input_shapes={"nope": (1,)})


# ---------------------------------------------------------------------------------------------
# Opsets, initializers, folding, naming.

@pytest.mark.parametrize("opset", [7, 8])
def test_old_opset_model_is_upgraded_and_matches_onnxruntime(opset):
    x = rand(1, 2, 5, 5)
    inits = {"w": rand(3, 2, 3, 3, seed=1), "b": rand(3, seed=2), "k": rand(1, 3, 1, 1, seed=3)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Upsample", ["c"], ["u"], scales=[1.0, 1.0, 2.0, 2.0]),
             helper.make_node("Mul", ["u", "k"], ["m"]),
             helper.make_node("Dropout", ["m"], ["y"], ratio=0.3)]
    model = make_model(nodes, {"x": x}, ["y"], inits, opset=opset)
    graph = load_onnx(model)
    assert "resize" in [n.op for n in graph.nodes]
    assert_matches_ort(graph, model, {"x": x})


def test_initializer_listed_as_input_is_a_constant():
    x, w = rand(2, 4), rand(4, 3, seed=1)
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": x, "w": w}, ["y"], {"w": w})
    graph = load_onnx(model)
    assert graph.inputs == ["x"]
    assert [n.op for n in graph.nodes] == ["fully_connected"]
    assert_matches_ort(graph, model, {"x": x})


def test_exporter_shape_chain_folds_to_one_reshape():
    """x.view(x.size(0), -1) as exporters write it: Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    x = rand(2, 3, 4, 5)
    c = lambda name, v: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(
        np.array(v, np.int64), name))
    nodes = [helper.make_node("Shape", ["x"], ["shape"]), c("zero", 0),
             helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0), c("axes", [0]),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]), c("minus1", [-1]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"], name="flatten")]
    model = make_model(nodes, {"x": x}, ["y"], opset=13)
    graph = load_onnx(model)
    assert [(n.op, n.attrs["shape"]) for n in graph.nodes] == [("reshape", (2, 60))]
    assert all(not t.is_const for t in graph.tensors.values()), "folded constants stay behind"
    assert_matches_ort(graph, model, {"x": x})


def test_ir_ops_on_constants_are_folded_with_the_reference():
    x = rand(3, 4)
    nodes = [helper.make_node("Sigmoid", ["c"], ["sc"]), helper.make_node("Transpose", ["sc"], ["t"]),
             helper.make_node("Add", ["x", "t"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"c": rand(4, 3, seed=1)})
    graph = load_onnx(model)
    assert [n.op for n in graph.nodes] == ["add"]
    assert_matches_ort(graph, model, {"x": x})


def test_spatial_ops_are_wrapped_in_transposes_and_weights_move_to_ohwi():
    x, w = rand(1, 3, 6, 6), rand(8, 3, 3, 2, seed=1)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], {"x": x}, ["y"],
                       {"w": w})
    graph = load_onnx(model)
    assert [n.op for n in graph.nodes] == ["transpose", "conv2d", "transpose"]
    assert graph.nodes[0].attrs["perm"] == (0, 2, 3, 1) and graph.nodes[2].attrs["perm"] == (0, 3, 1, 2)
    conv = graph.nodes[1]
    np.testing.assert_array_equal(graph.const(conv.inputs[1]), w.transpose(0, 2, 3, 1))
    assert "bias" not in conv.inputs and len(conv.inputs) == 2
    assert_matches_ort(graph, model, {"x": x})


def test_batchnorm_becomes_mul_add_with_channel_constants():
    x = rand(2, 4, 3, 3)
    inits = {"s": rand(4, seed=1), "b": rand(4, seed=2), "m": rand(4, seed=3),
             "v": np.abs(rand(4, seed=4)) + 0.5}
    model = make_model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])],
                       {"x": x}, ["y"], inits)
    graph = load_onnx(model)
    assert [n.op for n in graph.nodes] == ["mul", "add"]
    assert [graph.tensors[n.inputs[1]].shape for n in graph.nodes] == [(4, 1, 1), (4, 1, 1)]
    assert_matches_ort(graph, model, {"x": x})


def test_outputs_keep_onnx_names_and_metadata_is_set(tmp_path):
    x = rand(1, 2, 3, 3)
    nodes = [helper.make_node("Relu", ["x"], ["relu_out"]),
             helper.make_node("Identity", ["relu_out"], ["alias_out"]),
             helper.make_node("Flatten", ["relu_out"], ["flat_out"])]
    model = make_model(nodes, {"x": x}, ["relu_out", "alias_out", "flat_out", "x"])
    model.graph.name = "demo_graph"
    path = tmp_path / "named.onnx"
    onnx.save(model, str(path))
    graph = load_onnx(path)
    assert graph.outputs == ["relu_out", "alias_out", "flat_out", "x"]
    assert graph.meta == {"name": "demo_graph", "source": "named.onnx", "input_layouts": "NCHW",
                          "output_layouts": "NCHW,NCHW,-,NCHW"}
    assert_matches_ort(graph, model, {"x": x})


def test_unnamed_graph_takes_the_file_stem(tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": rand(3)}, ["y"])
    model.graph.name = ""
    onnx.save(model, str(tmp_path / "stem_name.onnx"))
    graph = load_onnx(tmp_path / "stem_name.onnx", source="given.onnx")
    assert graph.meta["name"] == "stem_name" and graph.meta["source"] == "given.onnx"


@pytest.mark.parametrize("table", [CONVERTERS, FOLDERS], ids=["converters", "folders"])
def test_keyword_defaults_are_the_specs_attribute_names(table):
    """Each converter/folder takes exactly the attributes the ONNX schemas of opsets 9..21 define,
    so an attribute is never dropped silently nor misspelt (it would be refused as unknown)."""
    for op, fn in table.items():
        spec = set()
        for version in range(9, 22):
            try:
                spec |= set(onnx.defs.get_schema(op, version).attributes)
            except onnx.defs.SchemaError:  # the op does not exist yet at that opset
                pass
        ours = {p.name for p in inspect.signature(fn).parameters.values() if p.kind == p.KEYWORD_ONLY}
        assert ours == spec, f"{op}: extra {sorted(ours - spec)}, missing {sorted(spec - ours)}"
