"""Importing ONNX models already quantized in QDQ form (tinyedge/frontends/onnx_qdq.py).

Two small float CNNs (and a PyTorch MobileNetV2) are quantized by onnxruntime's own
`quantize_static` (QDQ format, per-channel and per-tensor weights, int8 and uint8 activations). The checks compare tinyedge with what
onnxruntime wrote or computes, never with itself:
- the annotations equal the QDQ model's initializers (uint8 zero points minus 128), weights are
  the dequantized initializers in the IR layout;
- after the passes each annotation sits on the tensor that holds its values: minmax calibration on
  the same samples means a tensor's observed range is its annotated range;
- the float graph matches onnxruntime on the original float model and on the QDQ model;
- quantize_graph keeps the model's parameters and its INT8 result is within a couple of output
  quantization steps of onnxruntime's integer kernels on the QDQ model.
"""
from __future__ import annotations

import inspect

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from nets import export, mobilenet_v2, randomize_bn
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from tinyedge.compiler import compile_graph
from tinyedge.errors import ModelError, UnsupportedOpError
from tinyedge.frontends import load_onnx
from tinyedge.frontends.onnx_qdq import CONVERTERS as QDQ_CONVERTERS
from tinyedge.reference import run as reference_run
from tinyedge.reference import run_all

SHAPE = (1, 3, 12, 12)
SAMPLES = 4
CONFIGS = [(per_channel, act) for per_channel in (False, True)
           for act in (QuantType.QInt8, QuantType.QUInt8)]
CONFIG_IDS = [f"{'per_channel' if pc else 'per_tensor'}-{act.name}" for pc, act in CONFIGS]


def _samples(seed=1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((SAMPLES,) + SHAPE).astype(np.float32)


def _init(rng, name, *shape, scale=0.3, positive=False):
    v = rng.uniform(0.5, 1.5, shape) if positive else rng.standard_normal(shape) * scale
    return numpy_helper.from_array(v.astype(np.float32), name)


def _model(nodes, inits, out_shape) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def mobile_cnn() -> onnx.ModelProto:
    """conv+relu, depthwise conv+relu6, a linear 1x1 conv with a residual add and relu, max pool,
    global average pool, flatten, classifier (Gemm with transB): every op has an INT8 form."""
    rng = np.random.default_rng(0)
    inits = [_init(rng, "w1", 8, 3, 3, 3), _init(rng, "b1", 8), _init(rng, "wd", 8, 1, 3, 3),
             _init(rng, "bd", 8), _init(rng, "w2", 8, 8, 1, 1), _init(rng, "b2", 8),
             _init(rng, "wf", 5, 8), _init(rng, "bf", 5),
             numpy_helper.from_array(np.float32(0), "zero"),
             numpy_helper.from_array(np.float32(6), "six")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1] * 4,
                              strides=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "wd", "bd"], ["cd"], name="dw", pads=[1] * 4, group=8),
             helper.make_node("Clip", ["cd", "zero", "six"], ["rd"]),
             helper.make_node("Conv", ["rd", "w2", "b2"], ["c2"], name="pw"),
             helper.make_node("Add", ["c2", "r1"], ["a"]),
             helper.make_node("Relu", ["a"], ["ra"]),
             helper.make_node("MaxPool", ["ra"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["p"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    return _model(nodes, inits, (1, 5))


def bn_net() -> onnx.ModelProto:
    """A BatchNormalization left after its conv (onnxruntime quantizes the conv's output before
    it), a concat, a MatMul weight [K, N] and a Gemm weight without transB."""
    rng = np.random.default_rng(2)
    inits = [_init(rng, "w1", 8, 3, 3, 3), _init(rng, "b1", 8), _init(rng, "bns", 8, positive=True),
             _init(rng, "bnb", 8), _init(rng, "bnm", 8), _init(rng, "bnv", 8, positive=True),
             _init(rng, "w2", 8, 8, 3, 3), _init(rng, "wm", 16, 10), _init(rng, "wg", 10, 6),
             numpy_helper.from_array(np.array([1, -1], np.int64), "flat")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1] * 4),
             helper.make_node("BatchNormalization", ["c1", "bns", "bnb", "bnm", "bnv"], ["bn"]),
             helper.make_node("Relu", ["bn"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p", "w2"], ["c2"], name="conv2", pads=[1] * 4),
             helper.make_node("Concat", ["p", "c2"], ["cat"], axis=1),
             helper.make_node("GlobalAveragePool", ["cat"], ["g"]),
             helper.make_node("Reshape", ["g", "flat"], ["f"]),
             helper.make_node("MatMul", ["f", "wm"], ["m"], name="mm"),
             helper.make_node("Relu", ["m"], ["mr"]),
             helper.make_node("Gemm", ["mr", "wg"], ["y"], name="fc", alpha=0.5)]
    return _model(nodes, inits, (1, 6))


class _Reader(CalibrationDataReader):
    def __init__(self, samples, name="x"):
        self.it = iter([{name: s} for s in samples])

    def get_next(self):
        return next(self.it, None)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{(net, per_channel, activation type): (float model path, QDQ model path)}."""
    root = tmp_path_factory.mktemp("qdq")
    out = {}
    for net in (mobile_cnn, bn_net):
        float_path = root / f"{net.__name__}.onnx"
        onnx.save(net(), str(float_path))
        for per_channel, act in CONFIGS:
            qdq_path = root / f"{net.__name__}_{int(per_channel)}_{act.name}.onnx"
            quantize_static(str(float_path), str(qdq_path), _Reader(_samples()),
                            quant_format=QuantFormat.QDQ, per_channel=per_channel,
                            activation_type=act, weight_type=QuantType.QInt8)
            out[net.__name__, per_channel, act] = float_path, qdq_path
    return out


NETS = ["mobile_cnn", "bn_net"]


def _case(models, net, config):
    return models[(net,) + config]


def _consts(model: onnx.ModelProto) -> dict:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _expected_params(consts, scale_name, zp_name):
    """(scale, int8 zero point) from onnxruntime's initializers: uint8 zero points minus 128."""
    zp = consts[zp_name]
    shift = -128 if zp.dtype == np.uint8 else 0
    scale = consts[scale_name].astype(np.float32).reshape(-1)
    return scale, zp.astype(np.int32).reshape(-1) + shift


def _ort(path, x, optimize=True):
    opts = ort.SessionOptions()
    if not optimize:  # QuantizeLinear/DequantizeLinear run one by one, in float
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]


# ---------------------------------------------------------------------------------------------
# The import: annotations equal what onnxruntime wrote.

@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("net", NETS)
def test_activation_annotations_equal_the_models_parameters(models, net, config):
    _, qdq_path = _case(models, net, config)
    model = onnx.load(str(qdq_path))
    consts = _consts(model)
    graph = load_onnx(qdq_path)
    dq_of = {n.input[0]: n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    checked = 0
    for q in model.graph.node:
        if q.op_type != "QuantizeLinear":
            continue
        # The annotated tensor is the value itself, or its DQ's output when a Relu is restored.
        name = dq_of[q.output[0]] if dq_of[q.output[0]] in graph.tensors else q.input[0]
        quant = graph.tensors[name].quant
        scale, zp = _expected_params(consts, q.input[1], q.input[2])
        assert quant is not None and quant.axis is None, name
        np.testing.assert_array_equal(quant.scale, scale)
        np.testing.assert_array_equal(quant.zero_point, zp)
        checked += 1
    assert checked >= 9


def _ir_weight(w: np.ndarray, op_type: str, trans_b: int) -> np.ndarray:
    """An ONNX weight in tinyedge's layout: conv OIHW -> OHWI, Gemm/MatMul -> [N, K]."""
    if op_type == "Conv":
        return w.transpose(0, 2, 3, 1)
    return w if trans_b else w.T


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("net", NETS)
def test_weights_are_dequantized_with_their_channel_axis_on_output_channels(models, net, config):
    _, qdq_path = _case(models, net, config)
    model = onnx.load(str(qdq_path))
    consts = _consts(model)
    dq = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear"}
    graph = load_onnx(qdq_path)
    layers = {n.name: n for n in graph.nodes if n.op in ("conv2d", "fully_connected")}
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        w_dq = dq[node.input[1]]
        q = consts[w_dq.input[0]]
        scale, zp = _expected_params(consts, w_dq.input[1], w_dq.input[2])
        axis = {a.name: helper.get_attribute_value(a) for a in w_dq.attribute}.get("axis", 1)
        per_axis = scale.size > 1
        bcast = [1] * q.ndim
        if per_axis:
            bcast[axis] = -1
        real = (q.astype(np.int32) - zp.reshape(bcast)).astype(np.float32) * scale.reshape(bcast)
        alpha = np.float32(attrs.get("alpha", 1.0))
        want = _ir_weight(real, node.op_type, attrs.get("transB", 0)) * alpha
        weight = graph.tensors[layers[node.name].inputs[1]]
        np.testing.assert_allclose(weight.data, want, rtol=1e-6, atol=0)
        assert weight.quant.axis == (0 if per_axis else None)
        np.testing.assert_allclose(weight.quant.scale, scale * alpha, rtol=1e-7)
        np.testing.assert_array_equal(weight.quant.zero_point, zp)
        # The annotation describes the weight: every value is on its grid.
        grid = weight.data / weight.quant.scale.reshape((-1,) + (1,) * (weight.data.ndim - 1))
        np.testing.assert_allclose(grid, np.rint(grid), atol=1e-3)


def test_uint8_and_int8_models_annotate_the_same_reals(models):
    """onnxruntime calibrates the same ranges for both activation types: converted to int8, the
    uint8 model's parameters are the int8 model's."""
    for net in NETS:
        for per_channel in (False, True):
            a = load_onnx(_case(models, net, (per_channel, QuantType.QInt8))[1])
            b = load_onnx(_case(models, net, (per_channel, QuantType.QUInt8))[1])
            qa, qb = ({k: t.quant for k, t in g.tensors.items()
                       if t.quant is not None and not t.is_const} for g in (a, b))
            assert qa.keys() == qb.keys()
            for k in qa:
                np.testing.assert_array_equal(qa[k].scale, qb[k].scale)
                np.testing.assert_array_equal(qa[k].zero_point, qb[k].zero_point)


# ---------------------------------------------------------------------------------------------
# After the passes: the annotations sit on the values they describe, the float graph computes.

def _observed_ranges(graph, samples) -> dict:
    lo, hi = {}, {}
    for x in samples:
        for name, v in run_all(graph, {"x": x}).items():
            lo[name] = min(lo.get(name, 0.0), float(v.min()))
            hi[name] = max(hi.get(name, 0.0), float(v.max()))
    return {k: (lo[k], hi[k]) for k in lo}


@pytest.mark.parametrize("config", CONFIGS[:2], ids=CONFIG_IDS[:2])
@pytest.mark.parametrize("net", NETS)
def test_annotations_follow_their_values_through_the_passes(models, net, config):
    _, qdq_path = _case(models, net, config)
    graph, _ = compile_graph(load_onnx(qdq_path))
    seen = _observed_ranges(graph, _samples())
    annotated = [k for k, t in graph.tensors.items() if t.quant is not None and not t.is_const]
    for name in annotated:
        q = graph.tensors[name].quant
        s, z = float(q.scale[0]), int(q.zero_point[0])
        lo, hi = s * (-128 - z), s * (127 - z)
        # Calibrated on these samples with the original weights (ours are dequantized) and a
        # rounded zero point: the ends agree within a couple of steps and 1% of the range.
        tol = 2 * s + 0.01 * (hi - lo)
        assert abs(seen[name][0] - lo) <= tol and abs(seen[name][1] - hi) <= tol, \
            f"{name}: values in {seen[name]}, annotation [{lo:.4g}, {hi:.4g}]"
    # onnxruntime quantizes every activation of these nets: so does every tensor left after the
    # passes (the pre-BatchNorm one is gone with the fold), inputs and outputs included.
    for node in graph.nodes:
        for o in node.outputs:
            assert graph.tensors[o].quant is not None or node.op == "transpose", (node.op, o)
    assert all(graph.tensors[t].quant is not None for t in graph.inputs + graph.outputs)


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("net", NETS)
def test_float_graph_matches_onnxruntime(models, net, config):
    """Against the original float model (the weights differ by their rounding) and the QDQ model
    run op by op in float (the activations also round there): both within a few output steps.
    The samples are the calibration ones: on others the QDQ model also saturates activations
    beyond their calibrated range, which the float graph does not."""
    float_path, qdq_path = _case(models, net, config)
    graph, _ = compile_graph(load_onnx(qdq_path))
    step = float(graph.tensors["y"].quant.scale[0])
    for x in _samples()[:2]:
        (got,) = reference_run(graph, {"x": x})
        assert np.abs(got - _ort(float_path, x)).max() <= 3 * step
        assert np.abs(got - _ort(qdq_path, x, optimize=False)).max() <= 3 * step


def test_relu_that_onnxruntime_removed_comes_back_as_a_fused_clamp(models):
    _, qdq_path = _case(models, "mobile_cnn", CONFIGS[0])
    assert not any(n.op_type in ("Relu", "Clip") for n in onnx.load(str(qdq_path)).graph.node)
    graph, _ = compile_graph(load_onnx(qdq_path))
    clamps = {n.name: n.attrs["act_min"] for n in graph.nodes if n.op == "conv2d"}
    assert clamps == {"conv1": 0.0, "dw": 0.0, "pw": -np.inf}
    assert [n.attrs["act_min"] for n in graph.nodes if n.op == "add"] == [0.0]
    assert not any(n.op == "clip" for n in graph.nodes)


# ---------------------------------------------------------------------------------------------
# End to end: the quantizer keeps the model's parameters.

@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_int8_graph_keeps_the_parameters_and_matches_onnxruntime(models, config):
    from tinyedge.quantize import QuantOptions, quantize_graph

    _, qdq_path = _case(models, "mobile_cnn", config)
    model = onnx.load(str(qdq_path))
    consts = _consts(model)
    graph, _ = compile_graph(load_onnx(qdq_path))
    # Other calibration samples: the model's own parameters must win over what they would give.
    qgraph, _ = quantize_graph(graph, {"x": _samples(seed=3) * 3}, QuantOptions())
    kept = 0
    for name, t in graph.tensors.items():
        if t.quant is not None and not t.is_const and qgraph.tensors[name].dtype == "int8":
            np.testing.assert_array_equal(qgraph.tensors[name].quant.scale, t.quant.scale)
            np.testing.assert_array_equal(qgraph.tensors[name].quant.zero_point, t.quant.zero_point)
            kept += 1
    assert kept >= 6  # conv x3, add, max pool, mean, reshape (the input and output stay float)
    dq = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear"}
    for node in model.graph.node:
        if node.op_type == "Conv":  # the int8 weights are onnxruntime's, in the IR layout
            w_dq = dq[node.input[1]]
            layer = next(n for n in qgraph.nodes if n.name == node.name)
            np.testing.assert_array_equal(qgraph.tensors[layer.inputs[1]].data,
                                          consts[w_dq.input[0]].transpose(0, 2, 3, 1))
    step = float(graph.tensors["y"].quant.scale[0])
    for x in _samples(seed=9)[:3]:
        (got,) = reference_run(qgraph, {"x": x})
        assert np.abs(got - _ort(qdq_path, x)).max() <= 2.01 * step


def test_torch_mobilenet_v2_end_to_end(tmp_path):
    """A MobileNetV2 exported by PyTorch (BatchNorm folded by the exporter, ReLU6 as Clip), then
    quantized by onnxruntime: every activation keeps its parameters through the passes and the
    INT8 graph follows onnxruntime's integer kernels."""
    from tinyedge.quantize import QuantOptions, quantize_graph

    torch.manual_seed(0)
    float_path = export(randomize_bn(mobilenet_v2(num_classes=10, width=0.35)), (1, 3, 32, 32),
                        tmp_path / "mobilenet_v2.onnx")
    xs = np.random.default_rng(0).standard_normal((3, 1, 3, 32, 32)).astype(np.float32)
    qdq_path = tmp_path / "mobilenet_v2_qdq.onnx"
    quantize_static(str(float_path), str(qdq_path),
                    _Reader(xs, "input"), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8)
    graph, _ = compile_graph(load_onnx(qdq_path))
    assert [(n.op, o) for n in graph.nodes for o in n.outputs
            if graph.tensors[o].quant is None] == [("transpose", graph.nodes[0].outputs[0])]
    qgraph, _ = quantize_graph(graph, {"input": xs[:, 0]}, QuantOptions())
    step = float(graph.tensors["output"].quant.scale[0])
    sess = ort.InferenceSession(str(qdq_path), providers=["CPUExecutionProvider"])
    for x in xs[:2]:
        (got,) = reference_run(qgraph, {"input": x})
        assert np.abs(got - sess.run(None, {"input": x})[0]).max() <= 2.01 * step


# ---------------------------------------------------------------------------------------------
# Hand-made QDQ graphs: constant folding, and what tinyedge refuses.

def test_converters_take_the_specs_attributes():
    """Every attribute of opsets 10..21 is a keyword, so none is dropped silently."""
    for op, fn in QDQ_CONVERTERS.items():
        spec = set()
        for version in range(10, 22):
            spec |= set(onnx.defs.get_schema(op, version).attributes)
        params = inspect.signature(fn).parameters.values()
        ours = {p.name for p in params if p.kind == p.KEYWORD_ONLY}
        assert ours == spec, op


def _qdq_model(nodes, inits, opset=13, out_shape=(1, 4)) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 4))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    ops = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=ops,
                             ir_version=helper.find_min_ir_version_for(ops))


def test_weight_quantized_in_the_graph_folds_to_its_dequantized_value():
    """Q -> DQ on a float weight (as QAT exporters write it) folds like onnxruntime computes it."""
    w = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    inits = {"w": w, "ws": np.array([0.02, 0.01, 0.03], np.float32), "wz": np.zeros(3, np.int8)}
    nodes = [helper.make_node("QuantizeLinear", ["w", "ws", "wz"], ["wq"], axis=0),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
             helper.make_node("Gemm", ["x", "wd"], ["y"], name="fc", transB=1)]
    model = _qdq_model(nodes, inits, out_shape=(1, 3))
    graph = load_onnx(model)
    fc = next(n for n in graph.nodes if n.op == "fully_connected")
    weight = graph.tensors[fc.inputs[1]]
    x = np.random.default_rng(5).standard_normal((1, 4)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(reference_run(graph, {"x": x})[0], want, rtol=1e-5, atol=1e-6)
    assert weight.quant.axis == 0
    np.testing.assert_array_equal(weight.quant.scale, inits["ws"])


def test_range_starting_at_zero_on_an_input_adds_no_clamp():
    inits = {"s": np.array(0.01, np.float32), "z": np.array(0, np.uint8)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
             helper.make_node("Sigmoid", ["d"], ["y"])]
    graph = load_onnx(_qdq_model(nodes, inits))
    assert [n.op for n in graph.nodes] == ["sigmoid"]
    assert int(graph.tensors["x"].quant.zero_point[0]) == -128


def test_two_dequantize_nodes_of_one_quantize_read_one_value():
    """One Q read by two DQs (a value with two readers) after a MatMul: one restored Relu serves
    both, and the float graph computes what onnxruntime does with the pair."""
    rng = np.random.default_rng(6)
    inits = {"w": rng.standard_normal((4, 4)).astype(np.float32),
             "s": np.array(0.02, np.float32), "z": np.array(-128, np.int8)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("QuantizeLinear", ["m", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d1"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d2"]),
             helper.make_node("Mul", ["d1", "d2"], ["y"])]
    model = _qdq_model(nodes, inits)
    graph = load_onnx(model)
    assert [n.op for n in graph.nodes] == ["fully_connected", "clip", "mul"]
    mul = graph.nodes[-1]
    assert mul.inputs[0] == mul.inputs[1] and graph.tensors[mul.inputs[0]].quant is not None
    x = np.array([[1.0, -2.0, 0.5, 3.0]], np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    got = reference_run(graph, {"x": x})[0]
    # y = d * d with d = relu(m) rounded to the 0.02 grid: |d - relu(m)| <= 0.01 moves y by at
    # most 2 * 0.01 * max d + 0.01 ** 2.
    assert np.any(x @ inits["w"] < 0)  # the restored Relu matters
    assert np.abs(got - want).max() <= 0.02 * np.sqrt(got.max()) + 1e-4


def _refused(model, *words):
    with pytest.raises(ModelError) as e:
        load_onnx(model)
    for w in words:
        assert w in str(e.value)
    return e.value


def test_qoperator_model_is_refused_naming_the_integer_op(models, tmp_path):
    float_path = _case(models, "mobile_cnn", CONFIGS[0])[0]
    qop = tmp_path / "qop.onnx"
    quantize_static(str(float_path), str(qop), _Reader(_samples()),
                    quant_format=QuantFormat.QOperator)
    err = _refused(qop, "QLinearConv", "QDQ")
    assert isinstance(err, UnsupportedOpError) and err.op == "QuantizeLinear"


def test_int16_quantization_is_refused():
    inits = {"s": np.array(0.01, np.float32), "z": np.array(0, np.int16)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    _refused(_qdq_model(nodes, inits, opset=21), "int16", "int8 and uint8")


def test_pair_that_requantizes_is_refused():
    inits = {"s": np.array(0.01, np.float32), "s2": np.array(0.02, np.float32),
             "z": np.array(3, np.int8)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s2", "z"], ["y"], name="dq")]
    err = _refused(_qdq_model(nodes, inits), "differ", "requantizes")
    assert err.node == "dq"


def test_per_axis_activation_and_int8_output_are_refused():
    inits = {"s": np.full(4, 0.01, np.float32), "z": np.zeros(4, np.int8)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)]
    _refused(_qdq_model(nodes, inits), "per-axis", "per tensor")
    inits = {"s": np.array(0.01, np.float32), "z": np.array(0, np.int8)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])]
    _refused(_qdq_model(nodes, inits), "graph output", "float32")
