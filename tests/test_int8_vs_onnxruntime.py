"""The numpy INT8 reference against onnxruntime's integer kernels (issue 3, point 2).

Every case is one op in two forms built from the same random parameters (tests/qdq_cases.py): an
ONNX model in QDQ form, which onnxruntime (ORT_ENABLE_ALL) fuses into its integer kernels, and the
tinyedge INT8 graph quantize -> op -> dequantize with the same scales and zero points. The test
first checks that onnxruntime's optimized graph holds the kernel the case names (QLinearConv,
QGemm, QLinearMatMul, QLinearAdd, QLinearMul, QLinearConcat, QLinearAveragePool,
QLinearGlobalAveragePool, QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax; int8 MaxPool,
Transpose, Reshape, Slice and nearest Resize once their Q/DQ pairs are dropped). Two ops have no
int8 form there and run in float between DequantizeLinear and QuantizeLinear: Pad and linear
Resize; they are compared all the same (an independent float computation).

The outputs must agree within one step of the output scale s_y. Both sides return
s_y * (q - z_y) in float32; `steps` recovers q - z_y exactly (the product's rounding is far below
half a step), so the comparison is on integers and the float border adds no slack. Inputs lie on
their quantization grid, so quantizing them is exact on both sides (the `quantize` cases test
off-grid values). One step, because onnxruntime requantizes with a float multiplier rounding half
to even where tinyedge uses the fixed-point rule of docs/quantization.md; softmax, average pooling
and linear resize also compute their intermediate values differently. Besides the bound, at most
MAX_OFF_BY_ONE of the outputs may differ at all: a systematic off-by-one (a wrong zero point or
rounding direction) would stay within one step but not within that share.
"""
from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qdq_cases import OPSET, Builder, Case, qparams
from tinyedge import reference
from tinyedge.ir import Graph
from tinyedge.reference.int8 import lut_table, softmax_exp_table

ort = pytest.importorskip("onnxruntime")

CASES_PER_OP = 20  # seeded random cases per op (~2 s in all)
# The share of outputs that may differ by one step. Most ops differ only where a value falls
# within float rounding of a tie, or within the rule's double-rounding window (SQRDMULH rounds,
# then the right shift by r rounds again: a window of 2^-(r+1) of a step around every half, a
# quarter of all values for multipliers in [0.25, 0.5)). Those four differ more, for a reason
# each: concat and mean requantize by s_x / s_y or s_x / (s_y n), often in [0.25, 0.5) here
# (tinyedge is then up to 0.75 step from the exact value, onnxruntime 0.5); avg_pool2d rounds an
# exact half away from zero where onnxruntime rounds it toward zero (n = 2 or 4 makes halves
# common); linear resize uses Q11 weights and a flooring shift where onnxruntime interpolates in
# float.
MAX_OFF_BY_ONE = {"default": 0.1, "concat": 0.4, "global_avg_pool": 0.4, "avg_pool": 0.45,
                  "resize_linear": 0.4}


def steps(y: np.ndarray, scale: float) -> np.ndarray:
    """y = s * (q - z) in float32 -> q - z (int64): exact, the product's rounding is far below half
    a step."""
    return np.rint(y.astype(np.float64) / np.float64(np.float32(scale))).astype(np.int64)


def _rng(op: str, i: int) -> np.random.Generator:
    return np.random.default_rng([sum(map(ord, op)), i])


def _scale(rng, lo=0.01, hi=0.1) -> float:
    return float(np.float32(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def _zp(rng, spread=40) -> int:
    return int(rng.integers(-spread, spread + 1))


# -- cases ---------------------------------------------------------------------------------------

def conv_case(i: int) -> Case:
    """conv2d with random geometry: depthwise every third case, per-tensor weights every third,
    dilations and a fused relu every other one."""
    rng = _rng("conv", i)
    depthwise = i % 3 == 1
    n, h, w = 1, int(rng.integers(5, 10)), int(rng.integers(5, 10))
    c = int(rng.integers(2, 6))
    group = c if depthwise else 1
    o = c * int(rng.integers(1, 3)) if depthwise else int(rng.integers(2, 7))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    strides = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dilations = (1, 1) if i % 2 else (int(rng.integers(1, 3)), 1)
    pads = tuple(int(rng.integers(0, k)) for k in (kh, kw, kh, kw))
    relu = i % 2 == 0
    b = Builder(rng, nchw=True)
    s_x, z_x = _scale(rng), _zp(rng)
    x, xq = b.input("x", (n, h, w, c), s_x, z_x)
    wq = rng.integers(-127, 128, (o, kh, kw, c // group))
    per_channel = i % 3 != 2
    s_w = rng.uniform(0.002, 0.02, o if per_channel else 1).astype(np.float32)
    wd, wi = b.weight("w", wq, s_w, wq.transpose(0, 3, 1, 2))
    bias = rng.integers(-2000, 2000, o)
    bd, bi = b.bias("b", bias, np.broadcast_to(s_w * np.float32(s_x), (o,)))
    k = kh * kw * c // group
    # An accumulator of k random products spreads over ~60 * sqrt(k) * 60 units: give it ~40 steps
    # (times a random factor), so that outputs use the int8 range without mostly saturating.
    s_y = _scale(rng, 0.5, 2.0) * s_x * float(s_w.mean()) * 60 * math.sqrt(k) / 40
    z_y = -128 if relu else _zp(rng)  # onnxruntime drops a Relu before Q only when z_y is -128
    attrs = dict(strides=strides, dilations=dilations, pads=pads, group=group)
    if relu:
        attrs["act_min"] = 0.0
    onnx_attrs = dict(strides=list(strides), dilations=list(dilations), pads=list(pads),
                      group=group)
    if relu:
        b.nodes.append(helper.make_node("Conv", [x, wd, bd], ["conv"], **onnx_attrs))
        y = b.op("Relu", ["conv"], "conv2d", [xq, wi, bi], attrs, s_y, z_y)
    else:
        y = b.op("Conv", [x, wd, bd], "conv2d", [xq, wi, bi], attrs, s_y, z_y, **onnx_attrs)
    return b.finish(f"conv{i}", y, s_y, {"QLinearConv"})


def gemm_case(i: int) -> Case:
    """fully_connected as ONNX Gemm(transB=1) with a per-channel weight [N, K] and a bias."""
    rng = _rng("gemm", i)
    m, k, n = int(rng.integers(1, 5)), int(rng.integers(3, 40)), int(rng.integers(2, 9))
    b = Builder(rng)
    s_x, z_x = _scale(rng), _zp(rng)
    x, xq = b.input("x", (m, k), s_x, z_x)
    wq = rng.integers(-127, 128, (n, k))
    s_w = rng.uniform(0.002, 0.02, n).astype(np.float32)
    wd, wi = b.weight("w", wq, s_w, wq)
    bd, bi = b.bias("b", rng.integers(-2000, 2000, n), s_w * np.float32(s_x))
    s_y = _scale(rng, 0.5, 2.0) * s_x * float(s_w.mean()) * 60 * math.sqrt(k) / 40
    y = b.op("Gemm", [x, wd, bd], "fully_connected", [xq, wi, bi], {}, s_y, _zp(rng), transB=1)
    return b.finish(f"gemm{i}", y, s_y, {"QGemm"})


def matmul_case(i: int) -> Case:
    """Batched matmul of an activation by a constant or by another activation, per tensor."""
    rng = _rng("matmul", i)
    batch = tuple(int(d) for d in rng.integers(1, 4, int(rng.integers(0, 3))))
    m, k, n = int(rng.integers(1, 6)), int(rng.integers(2, 20)), int(rng.integers(1, 7))
    b = Builder(rng)
    s_a, s_b = _scale(rng), _scale(rng)
    a, aq = b.input("a", batch + (m, k), s_a, _zp(rng))
    if i % 2:
        bb, bq = b.input("b", (k, n), s_b, _zp(rng))
    else:
        bb, bq = b.qconst("b", rng.integers(-128, 128, (k, n)), s_b, _zp(rng))
    s_y = _scale(rng, 0.5, 2.0) * s_a * s_b * 70 * 70 * math.sqrt(k) / 40
    y = b.op("MatMul", [a, bb], "matmul", [aq, bq], {}, s_y, _zp(rng))
    return b.finish(f"matmul{i}", y, s_y, {"QLinearMatMul"})


def _broadcast_shapes(rng) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shape = tuple(int(d) for d in rng.integers(1, 6, int(rng.integers(1, 5))))
    other = tuple(d if rng.random() < 0.6 else 1 for d in shape)[int(rng.integers(0, len(shape))):]
    return (shape, other) if rng.random() < 0.5 else (other, shape)


def binary_case(op: str, onnx_op: str, ort_op: str):
    def build(i: int) -> Case:
        rng = _rng(op, i)
        sa, sb = _broadcast_shapes(rng)
        b = Builder(rng)
        s_a, s_b = _scale(rng), _scale(rng) * (1 if i % 3 else 4)  # unlike scales too
        a, aq = b.input("a", sa, s_a, _zp(rng))
        # (onnxruntime folds a DequantizeLinear of a constant into a float constant and then
        # runs Add/Mul in float, so both operands are graph inputs here.)
        c, cq = b.input("b", sb, s_b, _zp(rng))
        spread = (s_a + s_b) * 128 if op == "add" else s_a * s_b * 128 * 128
        s_y = _scale(rng, 0.5, 2.0) * spread / 127
        y = b.op(onnx_op, [a, c], op, [aq, cq], {}, s_y, _zp(rng))
        return b.finish(f"{op}{i}", y, s_y, {ort_op})

    return build


def concat_case(i: int) -> Case:
    """Inputs with their own scales (requantized) and one with the output's (copied)."""
    rng = _rng("concat", i)
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 5, rank)]
    axis = int(rng.integers(0, rank))
    b = Builder(rng)
    s_y, z_y = _scale(rng), _zp(rng)
    onnx_in, ir_in = [], []
    for j in range(int(rng.integers(2, 5))):
        part = list(shape)
        part[axis] = int(rng.integers(1, 4))
        same = j == 1
        x, xq = b.input(f"x{j}", tuple(part), s_y if same else _scale(rng),
                        z_y if same else _zp(rng))
        onnx_in.append(x)
        ir_in.append(xq)
    y = b.op("Concat", onnx_in, "concat", ir_in, {"axis": axis}, s_y, z_y, axis=axis)
    return b.finish(f"concat{i}", y, s_y, {"QLinearConcat"})


def _pool_geometry(rng):
    kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    strides = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pads = tuple(int(rng.integers(0, k)) for k in kernel + kernel)
    return kernel, strides, pads


def max_pool_case(i: int) -> Case:
    rng = _rng("max_pool", i)
    shape = (1, int(rng.integers(4, 9)), int(rng.integers(4, 9)), int(rng.integers(1, 5)))
    kernel, strides, pads = _pool_geometry(rng)
    ceil_mode = i % 2
    dilations = (1 + (i % 3 == 0), 1)
    b = Builder(rng, nchw=True)
    s, z = _scale(rng), _zp(rng)
    x, xq = b.input("x", shape, s, z)
    y = b.op("MaxPool", [x], "max_pool2d", [xq],
             dict(kernel=kernel, strides=strides, pads=pads, ceil_mode=ceil_mode,
                  dilations=dilations), s, z,
             kernel_shape=list(kernel), strides=list(strides), pads=list(pads), ceil_mode=ceil_mode,
             dilations=list(dilations))
    return b.finish(f"max_pool{i}", y, s, {"MaxPool"})


def avg_pool_case(i: int) -> Case:
    rng = _rng("avg_pool", i)
    shape = (1, int(rng.integers(4, 9)), int(rng.integers(4, 9)), int(rng.integers(1, 5)))
    kernel, strides, pads = _pool_geometry(rng)
    include = i % 2
    b = Builder(rng, nchw=True)
    s, z = _scale(rng), _zp(rng)
    x, xq = b.input("x", shape, s, z)
    y = b.op("AveragePool", [x], "avg_pool2d", [xq],
             dict(kernel=kernel, strides=strides, pads=pads, count_include_pad=include), s, z,
             kernel_shape=list(kernel), strides=list(strides), pads=list(pads),
             count_include_pad=include)
    return b.finish(f"avg_pool{i}", y, s, {"QLinearAveragePool"})


def global_avg_pool_case(i: int) -> Case:
    """GlobalAveragePool is mean over H, W; the output has its own parameters."""
    rng = _rng("global_avg_pool", i)
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 9)),
             int(rng.integers(1, 6)))
    b = Builder(rng, nchw=True)
    s = _scale(rng)
    x, xq = b.input("x", shape, s, _zp(rng))
    s_y = s * _scale(rng, 0.1, 1.0)
    y = b.op("GlobalAveragePool", [x], "mean", [xq], {"axes": (1, 2), "keepdims": 1}, s_y,
             _zp(rng))
    return b.finish(f"global_avg_pool{i}", y, s_y, {"QLinearGlobalAveragePool"})


def pad_case(i: int) -> Case:
    rng = _rng("pad", i)
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(2, 5, rank))
    mode = ("constant", "reflect", "edge")[i % 3]
    pads = [int(rng.integers(0, d)) for d in shape + shape]  # below each dim: valid for reflect
    b = Builder(rng)
    s, z = _scale(rng), _zp(rng)
    x, xq = b.input("x", shape, s, z)
    value = float(rng.uniform(-2, 2)) * s * 50
    inputs = [x, b.init("pads", np.array(pads, np.int64))]
    if mode == "constant":
        inputs.append(b.qdq(b.init("value", np.float32(value)), "value", s, z))
    y = b.op("Pad", inputs, "pad", [xq], {"pads": pads, "mode": i % 3, "value": value}, s, z,
             mode=mode)
    return b.finish(f"pad{i}", y, s, {"Pad"})


def movement_case(i: int) -> Case:
    """reshape, transpose and slice: copies with the input's parameters."""
    rng = _rng("movement", i)
    shape = tuple(int(d) for d in rng.integers(1, 5, 4))
    b = Builder(rng)
    s, z = _scale(rng), _zp(rng)
    x, xq = b.input("x", shape, s, z)
    kind = ("Transpose", "Reshape", "Slice")[i % 3]
    if kind == "Transpose":
        perm = [int(p) for p in rng.permutation(4)]
        y = b.op("Transpose", [x], "transpose", [xq], {"perm": perm}, s, z, perm=perm)
    elif kind == "Reshape":
        new = (int(np.prod(shape[:2])), -1)
        size = int(np.prod(shape)) // new[0]
        target = b.init("shape", np.array(new, np.int64))
        y = b.op("Reshape", [x, target], "reshape", [xq], {"shape": (new[0], size)}, s, z)
    else:
        starts = [int(rng.integers(0, d)) for d in shape]
        ends = [int(rng.integers(st + 1, d + 1)) for st, d in zip(starts, shape)]
        onnx_in = [x] + [b.init(n, np.array(v, np.int64)) for n, v in
                         (("starts", starts), ("ends", ends))]
        y = b.op("Slice", onnx_in, "slice", [xq],
                 {"starts": starts, "ends": ends, "steps": [1] * 4}, s, z)
    return b.finish(f"{kind.lower()}{i}", y, s, {kind})


RESIZE_COORDS = ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel")


def resize_case(mode: str):
    def build(i: int) -> Case:
        rng = _rng(f"resize_{mode}", i)
        shape = (1, int(rng.integers(2, 6)), int(rng.integers(2, 6)), int(rng.integers(1, 4)))
        scales = (float(rng.choice([0.5, 1.5, 2.0, 3.0, 0.75])), float(rng.choice([1.5, 2.0, 2.5])))
        size = tuple(int(math.floor(d * f)) for d, f in zip(shape[1:3], scales))
        coord = RESIZE_COORDS[i % len(RESIZE_COORDS)]
        b = Builder(rng, nchw=True)
        s, z = _scale(rng), _zp(rng)
        x, xq = b.input("x", shape, s, z)
        onnx_in = [x, "", b.init("scales", np.array((1, 1) + scales, np.float32))]
        y = b.op("Resize", onnx_in, "resize", [xq],
                 {"size": size, "scales": scales, "mode": ("nearest", "linear").index(mode),
                  "coord_mode": i % len(RESIZE_COORDS), "nearest_mode": 1 - i % 2}, s, z,
                 mode=mode, coordinate_transformation_mode=coord,
                 nearest_mode=("round_prefer_floor", "round_prefer_ceil")[1 - i % 2])
        return b.finish(f"resize_{mode}{i}", y, s, {"Resize"})

    return build


def lut_case(op: str, onnx_op: str, ort_op: str, out=None, **attrs):
    """An activation that tinyedge runs as a lut, onnxruntime as its QLinear kernel."""
    def build(i: int) -> Case:
        rng = _rng(op, i)
        shape = tuple(int(d) for d in rng.integers(1, 6, int(rng.integers(1, 4))))
        b = Builder(rng)
        s, z = _scale(rng, 0.01, 0.2), _zp(rng)
        x, xq = b.input("x", shape, s, z)
        s_y, z_y = out or (_scale(rng), _zp(rng))
        table = b.graph.add_const("table", lut_table(op, attrs, (s, z), (s_y, z_y)))
        y = b.op(onnx_op, [x], "lut", [xq, table], {}, s_y, z_y, **attrs)
        return b.finish(f"{op}{i}", y, s_y, {ort_op})

    return build


def softmax_case(i: int) -> Case:
    rng = _rng("softmax", i)
    shape = tuple(int(d) for d in rng.integers(1, 8, int(rng.integers(1, 4))))
    axis = -1 if i % 2 else int(rng.integers(0, len(shape)))
    b = Builder(rng)
    s, z = _scale(rng, 0.01, 0.2), _zp(rng)
    x, xq = b.input("x", shape, s, z)
    table = b.graph.add_const("exp_table", softmax_exp_table(s))
    y = b.op("Softmax", [x], "softmax", [xq, table], {"axis": axis}, 1 / 256, -128, axis=axis)
    return b.finish(f"softmax{i}", y, 1 / 256, {"QLinearSoftmax"})


def quantize_case(i: int) -> Case:
    """The graph borders alone: float x -> quantize -> dequantize, x off the grid and partly
    outside the int8 range (saturation)."""
    rng = _rng("quantize", i)
    shape = tuple(int(d) for d in rng.integers(1, 9, int(rng.integers(1, 4))))
    s, z = _scale(rng), _zp(rng)
    x = rng.uniform(-200 * s, 200 * s, shape).astype(np.float32)
    scale = numpy_helper.from_array(np.float32(s), "s")
    zero = numpy_helper.from_array(np.int8(z), "z")
    g = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
         helper.make_node("DequantizeLinear", ["q", "s", "z"], ["output"])], "quantize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)], [scale, zero])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    graph = Graph()
    xi = graph.add_input("x", shape)
    (q,) = graph.add_node("quantize", [xi], name="quantize", dtype="int8")
    graph.tensors[q].quant = qparams(s, z)
    graph.outputs = graph.add_node("dequantize", [q], name="dequantize", dtype="float32")
    return Case(f"quantize{i}", model, graph, [x], s, {"QuantizeLinear", "DequantizeLinear"})


CASES = {"conv": conv_case, "gemm": gemm_case, "matmul": matmul_case,
         "add": binary_case("add", "Add", "QLinearAdd"),
         "mul": binary_case("mul", "Mul", "QLinearMul"),
         "concat": concat_case, "max_pool": max_pool_case, "avg_pool": avg_pool_case,
         "global_avg_pool": global_avg_pool_case, "pad": pad_case, "movement": movement_case,
         "resize_nearest": resize_case("nearest"), "resize_linear": resize_case("linear"),
         "sigmoid": lut_case("sigmoid", "Sigmoid", "QLinearSigmoid", out=(1 / 256, -128)),
         "leaky_relu": lut_case("leaky_relu", "LeakyRelu", "QLinearLeakyRelu", alpha=0.1),
         "softmax": softmax_case, "quantize": quantize_case}


def all_cases() -> list[tuple[str, int]]:
    return [(op, i) for op in CASES for i in range(CASES_PER_OP)]


# -- running -------------------------------------------------------------------------------------

def _session(model: onnx.ModelProto, optimized_path: str | None = None):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3  # no warning about saving a hardware-specific optimized model
    if optimized_path:
        opts.optimized_model_filepath = optimized_path
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def run_ort(case: Case, tmp_path) -> tuple[np.ndarray, list[str]]:
    """onnxruntime's output (in the IR's layout) and the op types of its optimized graph."""
    path = str(tmp_path / "optimized.onnx")
    sess = _session(case.model, path)
    feeds = {v.name: x.transpose(0, 3, 1, 2) if case.nchw and x.ndim == 4 else x
             for v, x in zip(case.model.graph.input, case.inputs)}
    (y,) = sess.run(None, feeds)
    if case.nchw and y.ndim == 4:
        y = y.transpose(0, 2, 3, 1)
    return y, [n.op_type for n in onnx.load(path).graph.node]


@pytest.mark.parametrize("op, i", all_cases())
def test_int8_reference_agrees_with_onnxruntime(op, i, tmp_path):
    case = CASES[op](i)
    want, ort_ops = run_ort(case, tmp_path)
    assert case.ort_ops <= set(ort_ops), f"onnxruntime did not run {case.ort_ops}: {ort_ops}"
    (got,) = reference.run(case.graph, case.inputs)
    assert got.shape == want.shape
    ours, theirs = steps(got, case.out_scale), steps(want, case.out_scale)
    diff = np.abs(ours - theirs)
    if diff.max() > 1:
        where = tuple(int(j) for j in np.argwhere(diff > 1)[0])
        raise AssertionError(f"{case.name}: {int((diff > 1).sum())} of {diff.size} outputs differ "
                             f"by more than one step, first at {where}: tinyedge {ours[where]}, "
                             f"onnxruntime {theirs[where]} (steps of {case.out_scale:g})")
    share = float(np.mean(diff > 0))
    limit = MAX_OFF_BY_ONE.get(op, MAX_OFF_BY_ONE["default"])
    assert share <= limit, (f"{case.name}: {share:.0%} of the outputs differ by one step "
                            f"(> {limit:.0%})")
