"""The quantizer (float IR -> INT8 IR): structure, borders, parameter rules, tables, QDQ presets, the
report, and a MobileNetV2-style network that stays close to its float model (issue point 4).

Parameters are checked against the rules of docs/quantization.md recomputed here from the float
reference's own activations; accuracy against the float model run by the numpy reference and, for
the C runtime, bit-exactness with the numpy INT8 reference."""
import json
import math

import numpy as np
import pytest
import torch

from tinyedge.compiler import compile_graph, import_model
from tinyedge.format.writer import serialize
from tinyedge.ir import Graph, QuantParams
from tinyedge.plan import plan_memory
from tinyedge.quantize import QuantOptions, quantize_graph
from tinyedge.reference import evaluate, run, run_all

from graph_zoo import zoo
from nets import export, mobilenet_v2, randomize_bn

SEED = 7


def _rand(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def small_graph(rng) -> Graph:
    """conv(relu) -> max pool -> {sigmoid, tanh} ; sub (float only) -> reshape -> softmax; the pool
    output is also a graph output, read by three nodes."""
    g = Graph()
    g.add_input("x", (1, 8, 8, 3))
    w = g.add_const("w", _rand(rng, 6, 3, 3, 3))
    b = g.add_const("b", _rand(rng, 6, scale=0.1))
    c, = g.add_node("conv2d", ["x", w, b], {"pads": (1, 1, 1, 1), "act_min": 0.0}, name="conv")
    p, = g.add_node("max_pool2d", [c], {"kernel": (2, 2), "strides": (2, 2)}, name="pool")
    s, = g.add_node("sigmoid", [p], name="sig")
    t, = g.add_node("tanh", [p], name="tanh")
    d, = g.add_node("sub", [s, t], name="sub")
    r, = g.add_node("reshape", [d], {"shape": (1, 96)}, name="flat")
    sm, = g.add_node("softmax", [r], name="soft")
    g.outputs = [sm, p]
    return g


def samples_for(graph, rng, n=12):
    return {name: _rand(rng, n, *graph.tensors[name].shape) for name in graph.inputs}


def doc_params(lo, hi):
    """docs/quantization.md: widen to include 0, s = (max - min) / 255, z = sat8(-128 - round(min / s))."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    s = np.float32((hi - lo) / 255)
    return s, int(np.clip(-128 - np.rint(lo / float(s)), -128, 127))


def observed_range(graph, samples, tensor):
    values = [run_all(graph, {k: v[i] for k, v in samples.items()})[tensor]
              for i in range(len(next(iter(samples.values()))))]
    return float(min(v.min() for v in values)), float(max(v.max() for v in values))


def params(graph, tensor):
    q = graph.tensors[tensor].quant
    assert q is not None and q.axis is None, f"{tensor}: {q}"
    return np.float32(q.scale[0]), int(q.zero_point[0])


def producer(graph, tensor):
    return next(n for n in graph.nodes if tensor in n.outputs)


@pytest.fixture(scope="module")
def quantized():
    rng = np.random.default_rng(SEED)
    g = small_graph(rng)
    samples = samples_for(g, rng)
    q, report = quantize_graph(g, samples, QuantOptions())
    return g, samples, q, report


def test_int8_ops_and_borders(quantized):
    g, _, q, _ = quantized
    ops = {n.name: n for n in q.nodes}
    assert [n.name for n in g.nodes] == [n.name for n in q.nodes if n.op not in ("quantize", "dequantize")]
    for name in ("conv", "pool", "flat", "soft"):
        assert ops[name].op == g.nodes[[n.name for n in g.nodes].index(name)].op
        assert all(q.tensors[o].dtype == "int8" for o in ops[name].outputs), name
    assert ops["sig"].op == ops["tanh"].op == "lut"
    assert ops["sub"].op == "sub" and q.tensors["sub"].dtype == "float32"
    # sub reads both luts through a dequantize each; its output reaches the reshape through a quantize.
    for t in ops["sub"].inputs:
        assert producer(q, t).op == "dequantize"
    assert producer(q, ops["flat"].inputs[0]).op == "quantize"
    # One quantize for x; the pool output (read by two luts and a graph output) is dequantized once.
    assert [n.op for n in q.nodes].count("quantize") == 2
    assert [n.op for n in q.nodes].count("dequantize") == 4  # sig, tanh, pool (output), soft (output)
    assert q.inputs == ["x"] and q.outputs == g.outputs
    for t in q.inputs + q.outputs:
        assert q.tensors[t].dtype == "float32" and q.tensors[t].shape == g.tensors[t].shape
    assert producer(q, "pool").op == "dequantize"
    q.validate()


def test_io_int8_keeps_names_with_int8_tensors():
    rng = np.random.default_rng(SEED)
    g = small_graph(rng)
    samples = samples_for(g, rng)
    q, report = quantize_graph(g, samples, QuantOptions(io="int8"))
    assert q.inputs == ["x"] and q.outputs == g.outputs
    for t in q.inputs + q.outputs:
        assert q.tensors[t].dtype == "int8" and q.tensors[t].quant is not None
    assert not any(n.op == "quantize" and n.inputs == ["x"] for n in q.nodes)
    assert params(q, "x") == doc_params(*observed_range(g, samples, "x"))
    # The int8 graph computes the same values as with float io, minus the edge conversions.
    x = samples["x"][0]
    sx, zx = params(q, "x")
    xq = np.clip(np.rint(x / sx) + zx, -128, 127).astype(np.int8)
    got = run(q, [xq])
    q_float, _ = quantize_graph(g, samples, QuantOptions())
    want = run_all(q_float, [x])
    assert np.array_equal(got[0], want["soft_q"]) and np.array_equal(got[1], want["pool_q"])


def test_activation_params_follow_the_rules(quantized):
    g, samples, q, _ = quantized
    # Calibrated (minmax): the range the float model produced, widened to 0.
    assert params(q, "conv") == doc_params(*observed_range(g, samples, "conv"))
    x_q = producer(q, "conv").inputs[0]
    assert params(q, x_q) == doc_params(*observed_range(g, samples, "x"))
    # Same parameters as the input: pooling and reshape.
    assert params(q, "pool_q") == params(q, "conv")
    assert params(q, "flat") == params(q, producer(q, "flat").inputs[0])
    # Fixed by the op.
    assert params(q, "soft_q") == (np.float32(1 / 256), -128)
    assert params(q, "sig") == (np.float32(1 / 256), -128)
    assert params(q, "tanh") == (np.float32(1 / 128), 0)


def test_weights_and_bias(quantized):
    g, _, q, report = quantized
    conv = next(n for n in q.nodes if n.name == "conv")
    w, b = g.const("w"), g.const("b")
    wq = q.tensors[conv.inputs[1]]
    assert wq.dtype == "int8" and wq.quant.axis == 0 and not wq.quant.zero_point.any()
    s_w = np.abs(w).reshape(6, -1).max(axis=1) / 127
    assert np.allclose(wq.quant.scale, s_w, rtol=1e-6)
    assert wq.data.min() >= -127 and wq.data.max() <= 127
    assert np.abs(wq.data * wq.quant.scale[:, None, None, None] - w).max() <= wq.quant.scale.max() / 2 * 1.0001
    bq = q.tensors[conv.inputs[2]]
    s_x, _ = params(q, conv.inputs[0])
    assert bq.dtype == "int32" and bq.quant is None
    assert np.array_equal(bq.data, np.rint(b.astype(np.float64) / (np.float64(s_x) * wq.quant.scale)))
    assert not report.warnings


def test_per_tensor_weights():
    rng = np.random.default_rng(SEED)
    g = small_graph(rng)
    q, _ = quantize_graph(g, samples_for(g, rng), QuantOptions(per_channel=False))
    wq = q.tensors[next(n for n in q.nodes if n.name == "conv").inputs[1]]
    assert wq.quant.axis is None and len(wq.quant.scale) == 1
    assert np.isclose(wq.quant.scale[0], np.abs(g.const("w")).max() / 127, rtol=1e-6)


def test_tables(quantized):
    g, _, q, _ = quantized
    for name, f in (("sig", lambda v: 1 / (1 + np.exp(-v))), ("tanh", np.tanh)):
        node = next(n for n in q.nodes if n.name == name)
        table = q.const(node.inputs[1])
        s_x, z_x = params(q, node.inputs[0])
        s_y, z_y = params(q, node.outputs[0])
        levels = np.arange(-128, 128)
        real = np.float64(s_x) * (levels - z_x)
        want = np.clip(np.rint(f(real).astype(np.float32) / s_y) + z_y, -128, 127)
        assert table.dtype == np.int8 and np.array_equal(table, want), name
        # Against the float reference kernel of the op: at most one step apart (float32 vs float64).
        ref = evaluate(g.nodes[[n.name for n in g.nodes].index(name)].op, [real.astype(np.float32)], {})[0]
        assert np.abs(table - np.clip(np.rint(ref / s_y) + z_y, -128, 127)).max() <= 1
    soft = next(n for n in q.nodes if n.name == "soft")
    s_x, _ = params(q, soft.inputs[0])
    table = q.const(soft.inputs[1])
    assert table.dtype == np.int32 and table[0] == 65536
    assert np.array_equal(table, np.rint(np.exp(-np.float64(s_x) * np.arange(256)) * 65536))


def test_more_luts_and_calibrated_outputs():
    rng = np.random.default_rng(SEED)
    g = Graph()
    g.add_input("x", (1, 5, 7))
    ys = [g.add_node(op, ["x"], attrs, name=op)[0] for op, attrs in
          (("hard_sigmoid", {"alpha": 0.3}), ("hard_swish", {}), ("leaky_relu", {"alpha": 0.1}))]
    g.outputs = ys
    samples = {"x": _rand(rng, 16, 1, 5, 7, scale=3.0)}
    q, report = quantize_graph(g, samples, QuantOptions())
    for y in ys:
        node = producer(q, f"{y}_q")
        assert node.op == "lut" and q.const(node.inputs[1]).shape == (256,)
        assert params(q, f"{y}_q") == doc_params(*observed_range(g, samples, y))
    assert all(v > 30 for v in report.outputs.values()), report.outputs


def test_qdq_preset_params_are_kept():
    rng = np.random.default_rng(SEED)
    g = small_graph(rng)
    # As the ONNX frontend leaves a QDQ model: float weights that are scale * int8, annotated.
    w_int = rng.integers(-127, 128, size=(6, 3, 3, 3)).astype(np.int8)
    w_scale = rng.uniform(0.001, 0.01, size=6).astype(np.float32)
    g.tensors["w"].data = (w_int * w_scale[:, None, None, None]).astype(np.float32)
    g.tensors["w"].quant = QuantParams(w_scale, np.zeros(6, np.int32), axis=0)
    g.tensors["conv"].quant = QuantParams(np.array([0.05], np.float32), np.array([-100], np.int32))
    g.tensors["x"].quant = QuantParams(np.array([0.03], np.float32), np.array([3], np.int32))
    q, _ = quantize_graph(g, samples_for(g, rng), QuantOptions(per_channel=False))
    conv = next(n for n in q.nodes if n.name == "conv")
    assert params(q, "conv") == (np.float32(0.05), -100)
    assert params(q, conv.inputs[0]) == (np.float32(0.03), 3)
    wq = q.tensors[conv.inputs[1]]
    assert np.array_equal(wq.data, w_int) and np.array_equal(wq.quant.scale, w_scale)
    assert wq.quant.axis == 0
    assert q.tensors["x"].quant is None  # the float input does not keep an int8 annotation


def test_bias_saturation_is_reported():
    rng = np.random.default_rng(SEED)
    g = Graph()
    g.add_input("x", (1, 4))
    w = g.add_const("w", _rand(rng, 3, 4, scale=1e-3))
    b = g.add_const("b", np.array([1e6, 0.0, -1e6], np.float32))
    g.outputs = g.add_node("fully_connected", ["x", w, b], name="fc")
    q, report = quantize_graph(g, {"x": _rand(rng, 4, 1, 4, scale=1e-3)}, QuantOptions())
    bias = q.const(next(n for n in q.nodes if n.name == "fc").inputs[2])
    headroom = 2**31 - 1 - 4 * 255 * 127  # the accumulator must hold bias + 4 products
    assert bias[0] == headroom and bias[2] == -headroom
    assert any("fc" in w and "saturate" in w for w in report.warnings), report.warnings


def test_report(quantized, tmp_path):
    g, _, q, report = quantized
    assert [r.name for r in report.layers] == ["conv", "pool", "sig", "tanh", "flat", "soft"]
    assert all(r.precision == "int8" for r in report.layers)
    assert report.float_ops == [{"name": "sub", "op": "sub", "reason": "sub has no INT8 form"}]
    assert report.int8_mac_share == 1.0
    conv = report.layers[0]
    assert conv.macs == 8 * 8 * 6 * 27 and conv.weight_bytes_float == (162 + 6) * 4
    assert conv.weight_bytes_int8 == 162 + 6 * 4
    assert report.weight_bytes_float == (162 + 6) * 4
    assert report.weight_bytes_int8 == 162 + 6 * 4 + 2 * 256 + 256 * 4  # + two luts, exp_table
    assert set(report.outputs) == set(g.outputs) and all(15 < v < math.inf for v in report.outputs.values())
    # The SQNR of a layer is that of its output tensor, dequantized, against the float model.
    samples = quantized[1]
    s, z = params(q, "conv")
    signal = noise = 0.0
    for i in range(len(samples["x"])):
        x = {k: v[i] for k, v in samples.items()}
        ref, got = run_all(g, x)["conv"].astype(np.float64), run_all(q, x)["conv"]
        signal += (ref ** 2).sum()
        noise += ((ref - np.float64(s) * (got.astype(np.float64) - z)) ** 2).sum()
    assert math.isclose(conv.sqnr_db, 10 * math.log10(signal / noise), rel_tol=1e-6)
    path = tmp_path / "r.json"
    report.save(path)
    data = json.loads(path.read_text())
    assert data["layers"][0]["name"] == "conv" and data["outputs"].keys() == report.outputs.keys()


def test_report_renders():
    from rich.console import Console

    rng = np.random.default_rng(SEED)
    g = small_graph(rng)
    stages = set()
    _, report = quantize_graph(g, samples_for(g, rng), QuantOptions(float_layers=("tanh",)),
                               progress=lambda stage, done, total: stages.add(stage))
    assert {"calibrate", "report"} <= stages
    console = Console(record=True, width=140)
    report.render(console)
    text = console.export_text()
    assert "conv" in text and "kept in float: tanh" in text and "MACs in INT8" in text


FLOAT_ZOO = {name: g for name, g in zoo().items() if not name.startswith("int8")}


@pytest.mark.parametrize("name", sorted(FLOAT_ZOO))
def test_every_op_quantizes_and_the_c_runtime_agrees(name):
    """Each float zoo graph: every op with an INT8 form becomes INT8, the graph is valid and the C
    runtime computes what the numpy reference does (bit-exact when every op is INT8; a float op
    that remains may round differently in C, within 1e-5 of the output's range)."""
    import tinyedge.runtime
    from tinyedge.ir import OPS
    from tinyedge.quantize.tables import LUT_OPS

    g = FLOAT_ZOO[name]
    rng = np.random.default_rng(SEED)
    samples = {i: _rand(rng, 6, *g.tensors[i].shape) for i in g.inputs}
    q, report = quantize_graph(g, samples, QuantOptions())
    for node in g.nodes:
        dtype, = {q.tensors[o].dtype for n in q.nodes if n.name == node.name for o in n.outputs}
        assert dtype == ("int8" if OPS[node.op].int8 or node.op in LUT_OPS else "float32"), node.name
    assert all(v > 25 for v in report.outputs.values()), report.outputs
    x = [s[0] for s in samples.values()]
    want = run(q, x)
    got = tinyedge.runtime.load_bytes(serialize(q, plan_memory(q), {})).run(x)
    exact = all(OPS[n.op].int8 or n.op in LUT_OPS for n in g.nodes)
    for a, b in zip(got, want):
        if exact:
            assert np.array_equal(a, b), f"max diff {np.abs(a - b).max()}"
        else:
            assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()


def _mobilenet(tmp_path):
    torch.manual_seed(0)
    model = randomize_bn(mobilenet_v2(num_classes=16, width=0.5))
    path = export(model, (1, 3, 64, 64), tmp_path / "mobilenet_v2.onnx")
    graph, _ = compile_graph(import_model(path))
    return graph


def _images(rng, n):
    """Smooth random images (low-frequency noise upsampled), normalized like ImageNet inputs."""
    coarse = rng.standard_normal((n, 3, 8, 8)).astype(np.float32)
    img = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(64, 64), mode="bilinear",
                                          align_corners=False).numpy()
    img += 0.2 * rng.standard_normal(img.shape).astype(np.float32)
    return img[:, None].astype(np.float32)


def cosine(a, b):
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_mobilenet_v2_int8_stays_close_to_float(tmp_path):
    """Issue point 4: 32 calibration samples, 32 other samples, cosine similarity >= 0.99."""
    rng = np.random.default_rng(SEED)
    graph = _mobilenet(tmp_path)
    calib, test = _images(rng, 32), _images(rng, 32)
    q, report = quantize_graph(graph, {"input": calib}, QuantOptions())
    assert report.int8_mac_share == 1.0 and report.samples == 32
    ops = {n.op for n in q.nodes}
    assert ops <= {"conv2d", "add", "mean", "reshape", "fully_connected", "transpose", "quantize",
                   "dequantize"}, ops
    want = [run(graph, [x])[0] for x in test]
    got = [run(q, [x])[0] for x in test]
    worst = min(cosine(w, g) for w, g in zip(want, got))
    assert worst >= 0.99, f"worst cosine similarity {worst:.4f}"

    # The C runtime runs the same file bit-exactly like the numpy INT8 reference.
    import tinyedge.runtime

    m = tinyedge.runtime.load_bytes(serialize(q, plan_memory(q), {}))
    for x, ref in zip(test[:4], got[:4]):
        c_out = m.run([x])[0]
        assert np.array_equal(c_out, ref), f"C vs reference: max diff {np.abs(c_out - ref).max()}"
