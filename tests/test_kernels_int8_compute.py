"""The C INT8 reference kernels of the compute-heavy ops against the numpy INT8 reference
(tinyedge/reference/int8), bit for bit.

conv2d (plain, grouped, depthwise), fully_connected, matmul, max_pool2d, avg_pool2d, mean and
softmax. Each case builds a one-op IR graph over int8 tensors with QuantParams, writes it as a .tem
file, runs it with the C runtime and compares with tinyedge.reference.run on the same graph with
np.array_equal: docs/quantization.md defines every output bit. Cases draw shapes, strides, pads,
dilations, groups, zero points over all of int8, scales whose multipliers range from below 2^-32
(every output is z_y) to above 1 (a positive shift, outputs saturate), per-channel and per-tensor
weights, fused clamps and accumulators at the edge of int32. The last part edits valid graphs into
ones the kernels must refuse at load, and checks the message says why.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from test_kernels_compute import CLAMPS, matmul_shapes, pool_cases
from tinyedge import reference
from tinyedge.errors import RuntimeLoadError
from tinyedge.format.writer import write_tem
from tinyedge.ir import Graph, QuantParams
from tinyedge.ir.ops import ShapeError, conv_out_size
from tinyedge.plan import plan_memory
from tinyedge.reference.int8.tables import softmax_exp_table

runtime = pytest.importorskip("tinyedge.runtime", reason="the C runtime extension is not built")

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
SEEDS = st.integers(0, 2**32 - 1)
ZERO_POINTS = st.integers(-128, 127)
# log2 of a layer's real multiplier: -40 is below 2^-32 (quantize_multiplier gives (0, 0)), -20..-8
# spreads typical accumulators over the int8 range, 0..6 is a positive shift that saturates.
MULTIPLIER_EXPONENTS = st.one_of(st.just(-40), st.floats(-26.0, 6.0))
INT32_MAX = 2**31 - 1
SOFTMAX_OUT = (1.0 / 256.0, -128)


def qp(scale: float, zero_point: int) -> QuantParams:
    """Per-tensor parameters."""
    return QuantParams(scale=np.array([scale], np.float32),
                       zero_point=np.array([zero_point], np.int32), axis=None)


def weight_qp(scales: np.ndarray, per_channel: bool) -> QuantParams:
    """Symmetric weight parameters: one scale per output channel (axis 0) or the first for all."""
    scales = np.asarray(scales, np.float32)
    if not per_channel:
        scales = scales[:1]
    return QuantParams(scale=scales, zero_point=np.zeros(scales.size, np.int32),
                       axis=0 if per_channel else None)


def int8_values(rng: np.random.Generator, shape) -> np.ndarray:
    """Random int8 over the whole range, -128 and 127 included whenever there are two elements."""
    x = rng.integers(-128, 128, size=shape).astype(np.int8)
    flat = x.reshape(-1)
    if flat.size >= 2:
        flat[:2] = (-128, 127)
        rng.shuffle(flat)
    return x


def int8_weights(rng: np.random.Generator, shape) -> np.ndarray:
    """Symmetric int8 weights, [-127, 127], the extremes included whenever there is room."""
    w = rng.integers(-127, 128, size=shape).astype(np.int8)
    flat = w.reshape(-1)
    if flat.size >= 2:
        flat[:2] = (-127, 127)
        rng.shuffle(flat)
    return w


def assert_equal_int8(got: np.ndarray, want: np.ndarray) -> None:
    """np.array_equal, with where and how much when not: first bad index, count, worst difference."""
    assert got.shape == want.shape and got.dtype == want.dtype == np.int8, \
        (got.shape, got.dtype, want.shape, want.dtype)
    if np.array_equal(got, want):
        return
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
    bad = np.argwhere(diff > 0)
    first = tuple(int(i) for i in bad[0])
    raise AssertionError(f"{len(bad)} of {got.size} outputs differ, first at {first}: C {got[first]}, "
                         f"reference {want[first]}; worst difference {diff.max()}")


def one_op_graph(op: str, inputs: dict, consts: dict, order: list, attrs: dict,
                 out_quant: QuantParams) -> Graph:
    """op(order...) with inputs {name: (array, quant)} as graph inputs and consts {name: (array,
    quant)} as constants; None in order stands for an absent optional input."""
    g = Graph()
    for name, (value, q) in inputs.items():
        g.add_input(name, value.shape, str(value.dtype))
        g.tensors[name].quant = q
    for name, (value, q) in consts.items():
        assert g.add_const(name, value) == name
        g.tensors[name].quant = q
    g.outputs = g.add_node(op, [n for n in order if n is not None], attrs, name=f"{op}_under_test")
    g.tensors[g.outputs[0]].quant = out_quant
    return g


def load(g: Graph, tmp_path):
    g.validate()
    path = tmp_path / "model.tem"
    write_tem(g, plan_memory(g), path, {"name": "int8_kernel_test"})
    return runtime.load(str(path))


def check(tmp_path, op: str, inputs: dict, consts: dict, order: list, attrs: dict,
          out_quant: QuantParams) -> np.ndarray:
    """Run the one-op graph in C (its INT8 reference kernel) and in numpy; they must be equal."""
    g = one_op_graph(op, inputs, consts, order, attrs, out_quant)
    feeds = {name: value for name, (value, _) in inputs.items()}
    (want,) = reference.run(g, feeds)
    model = load(g, tmp_path)
    # The kernel the loader picks here: the reference one, or on an x86-64 CPU with AVX2 an AVX2
    # kernel (test_avx2_int8.py checks which one by name).
    assert model.ops[0].op == op and model.ops[0].kernel.endswith(("_s8__ref", "__avx2")), \
        model.ops
    (got,) = model.run(feeds)
    assert_equal_int8(got, want)
    return got


def output_scale(s_x: float, s_w: float, exponent: float) -> float:
    """The output scale that makes s_x * s_w / s_y = 2^exponent."""
    return float(np.float32(s_x * s_w / 2.0**exponent))


# -- convolutions -----------------------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    kind = draw(st.sampled_from(["plain", "grouped", "depthwise"]))
    group = 1 if kind == "plain" else draw(st.integers(2, 4))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    case = dict(n=draw(st.integers(1, 2)), h=draw(st.integers(1, 8)), w=draw(st.integers(1, 8)),
                group=group, cin_g=1 if kind == "depthwise" else draw(st.integers(1, 5)),
                cout_g=draw(st.integers(1, 3)), k=k,
                strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                dilations=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                pads=tuple(draw(st.integers(0, 3)) for _ in range(4)),
                bias=draw(st.booleans()), per_channel=draw(st.booleans()),
                clamp=draw(st.sampled_from(sorted(CLAMPS))), z_x=draw(ZERO_POINTS),
                z_y=draw(ZERO_POINTS), exponent=draw(MULTIPLIER_EXPONENTS), seed=draw(SEEDS))
    try:  # a window larger than the padded input is not a conv2d: draw another case
        conv_out_size(case["h"], k[0], case["strides"][0], case["dilations"][0], case["pads"][0],
                      case["pads"][2])
        conv_out_size(case["w"], k[1], case["strides"][1], case["dilations"][1], case["pads"][1],
                      case["pads"][3])
    except ShapeError:
        assume(False)
    return case


def layer_params(rng: np.random.Generator, channels: int, exponent: float):
    """(s_x, per-channel s_w, s_y): weight scales spread over a factor 16 around the first, s_y
    set so that the first channel's multiplier is 2^exponent."""
    s_x = float(np.float32(2.0 ** rng.uniform(-8, 2)))
    s_w = (2.0 ** rng.uniform(-10, -4) * 2.0 ** rng.uniform(-2, 2, channels)).astype(np.float32)
    return s_x, s_w, output_scale(s_x, float(s_w[0]), exponent)


def int32_bias(rng: np.random.Generator, channels: int) -> np.ndarray:
    """Biases of every magnitude up to 2^24 (both signs), so some dominate the sum."""
    magnitude = 2.0 ** rng.uniform(0, 24, channels)
    return (np.sign(rng.standard_normal(channels)) * magnitude).astype(np.int32)


@SETTINGS
@given(conv_cases())
def test_conv2d(tmp_path, case):
    rng = np.random.default_rng(case["seed"])
    g, cin, cout = case["group"], case["cin_g"] * case["group"], case["cout_g"] * case["group"]
    (kh, kw) = case["k"]
    s_x, s_w, s_y = layer_params(rng, cout, case["exponent"])
    consts = {"weight": (int8_weights(rng, (cout, kh, kw, case["cin_g"])),
                         weight_qp(s_w, case["per_channel"]))}
    if case["bias"]:
        consts["bias"] = (int32_bias(rng, cout), None)
    attrs = dict(strides=case["strides"], dilations=case["dilations"], pads=case["pads"], group=g,
                 **CLAMPS[case["clamp"]])
    x = int8_values(rng, (case["n"], case["h"], case["w"], cin))
    check(tmp_path, "conv2d", {"x": (x, qp(s_x, case["z_x"]))}, consts,
          ["x", "weight", "bias" if case["bias"] else None], attrs, qp(s_y, case["z_y"]))


@pytest.mark.parametrize("channels, multiplier", [(8, 1), (16, 3), (5, 2)])
def test_depthwise_conv2d_3x3_with_channel_multiplier(tmp_path, channels, multiplier):
    """The MobileNet shape: 3x3 depthwise, stride 2, pads 1, relu6, per-channel weights."""
    rng = np.random.default_rng(channels)
    cout = channels * multiplier
    s_w = (rng.uniform(0.5, 2.0, cout) * 0.01).astype(np.float32)
    consts = {"w": (int8_weights(rng, (cout, 3, 3, 1)), weight_qp(s_w, True)),
              "b": (rng.integers(-5000, 5000, cout).astype(np.int32), None)}
    x = int8_values(rng, (1, 9, 10, channels))
    check(tmp_path, "conv2d", {"x": (x, qp(0.04, -7))}, consts, ["x", "w", "b"],
          dict(strides=(2, 2), pads=(1, 1, 1, 1), group=channels, act_min=0.0, act_max=6.0),
          qp(0.03, -128))


# -- fully connected and matmul ---------------------------------------------------------------------

@SETTINGS
@given(lead=st.lists(st.integers(1, 4), max_size=3), k=st.integers(1, 64), n=st.integers(1, 20),
       bias=st.booleans(), per_channel=st.booleans(), clamp=st.sampled_from(sorted(CLAMPS)),
       z_x=ZERO_POINTS, z_y=ZERO_POINTS, exponent=MULTIPLIER_EXPONENTS, seed=SEEDS)
def test_fully_connected(tmp_path, lead, k, n, bias, per_channel, clamp, z_x, z_y, exponent, seed):
    rng = np.random.default_rng(seed)
    s_x, s_w, s_y = layer_params(rng, n, exponent)
    consts = {"weight": (int8_weights(rng, (n, k)), weight_qp(s_w, per_channel))}
    if bias:
        consts["bias"] = (int32_bias(rng, n), None)
    check(tmp_path, "fully_connected", {"x": (int8_values(rng, (*lead, k)), qp(s_x, z_x))}, consts,
          ["x", "weight", "bias" if bias else None], CLAMPS[clamp], qp(s_y, z_y))


@SETTINGS
@given(shapes=matmul_shapes(), b_const=st.booleans(), z=st.tuples(ZERO_POINTS, ZERO_POINTS, ZERO_POINTS),
       exponent=MULTIPLIER_EXPONENTS, seed=SEEDS)
def test_matmul(tmp_path, shapes, b_const, z, exponent, seed):
    rng = np.random.default_rng(seed)
    s_a, s_b = (float(np.float32(2.0 ** rng.uniform(-8, 2))) for _ in range(2))
    a = (int8_values(rng, shapes[0]), qp(s_a, z[0]))
    b = (int8_values(rng, shapes[1]), qp(s_b, z[1]))
    inputs, consts = ({"a": a}, {"b": b}) if b_const else ({"a": a, "b": b}, {})
    check(tmp_path, "matmul", inputs, consts, ["a", "b"], {},
          qp(output_scale(s_a, s_b, exponent), z[2]))


# -- accumulators and multipliers at their limits ---------------------------------------------------

def fc_graph(x_quant, w: np.ndarray, w_scale: float, bias: Optional[np.ndarray], y_quant,
             attrs: Optional[dict] = None, x_shape=None) -> Graph:
    g = Graph()
    g.add_input("x", x_shape or (1, w.shape[1]), "int8")
    g.tensors["x"].quant = x_quant
    g.add_const("w", w)
    g.tensors["w"].quant = weight_qp(np.full(w.shape[0], w_scale, np.float32), True)
    names = ["x", "w"]
    if bias is not None:
        names.append(g.add_const("b", bias))
    g.outputs = g.add_node("fully_connected", names, attrs or {}, name="bad_node")
    g.tensors[g.outputs[0]].quant = y_quant
    return g


# (s_x, s_w, s_y): multipliers 2^-31.5, 2^-20 and 2^5.9 (SQSHL saturates), and two just below 1
# and 64 ((1 + a)(1 - b) / (1 + a - b) = 1 - 7e-9 from float32 scales: M = 2^31 - 15), where
# requantize(2^31 - 1) is 2^31 - 16 and adding z_y = 127 needs more than 32 bits.
LIMIT_SCALES = [(0.5, 0.25, output_scale(0.5, 0.25, e)) for e in (-31.5, -20.0, 5.9)] + [
    (float(np.float32(k * (1 + 1000 * 2.0**-23))), float(np.float32(1 - 1000 * 2.0**-24)),
     float(np.float32(1 + 500 * 2.0**-23))) for k in (1, 64)]


@pytest.mark.parametrize("s_x, s_w, s_y", LIMIT_SCALES,
                         ids=["2^-31.5", "2^-20", "2^5.9", "1-7e-9", "64(1-7e-9)"])
def test_accumulator_at_the_int32_limit(tmp_path, s_x, s_w, s_y):
    """bias + (x - z_x) * w reaches exactly +(2^31 - 1) in channel 0 and -(2^31 - 1) in channel 1:
    the largest accumulators prepare allows; then requantized and z_y added."""
    reach = 255 * 127  # z_x = -128: x - z_x goes up to 255
    w = np.array([[127], [-127], [1]], np.int8)
    bias = np.array([INT32_MAX - reach, -(INT32_MAX - reach), 0], np.int32)
    x = np.array([[127], [0], [-128]], np.int8)
    for z_y in (-128, 0, 127):
        g = fc_graph(qp(s_x, -128), w, s_w, bias, qp(s_y, z_y), x_shape=x.shape)
        (want,) = reference.run(g, [x])
        (got,) = load(g, tmp_path).run([x])
        assert_equal_int8(got, want)


def test_requantize_every_accumulator_sign_and_tie(tmp_path):
    """An identity-like FC (K = 1, weight 1) maps x - z_x onto the accumulator; with multipliers
    2^-1..2^-8 and a bias walking a range, every rounding tie of the final shift occurs."""
    x = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    w = np.ones((1, 1), np.int8)
    for shift in range(1, 9):
        for bias in (-300, -1, 0, 1, 300):
            g = fc_graph(qp(1.0, 0), w, 1.0, np.array([bias], np.int32), qp(2.0**shift, 3),
                         x_shape=(256, 1))
            (want,) = reference.run(g, [x])
            (got,) = load(g, tmp_path).run([x])
            assert_equal_int8(got, want)


# -- pooling and mean -------------------------------------------------------------------------------

@SETTINGS
@given(case=pool_cases(dilated=True), scale=st.floats(1e-4, 10.0), zero_point=ZERO_POINTS)
def test_max_pool2d(tmp_path, case, scale, zero_point):
    rng = np.random.default_rng(case["seed"])
    attrs = {key: case[key] for key in ("kernel", "strides", "pads", "ceil_mode", "dilations")}
    q = qp(scale, zero_point)
    x = int8_values(rng, (case["n"], case["h"], case["w"], case["c"]))
    check(tmp_path, "max_pool2d", {"x": (x, q)}, {}, ["x"], attrs, q)


@SETTINGS
@given(case=pool_cases(dilated=False), count_include_pad=st.integers(0, 1), scale=st.floats(1e-4, 10.0),
       zero_point=ZERO_POINTS, constant=st.sampled_from([None, -128, 127]))
def test_avg_pool2d(tmp_path, case, count_include_pad, scale, zero_point, constant):
    """Random windows, and constant inputs whose every window sum divides with a remainder."""
    rng = np.random.default_rng(case["seed"])
    attrs = dict({key: case[key] for key in ("kernel", "strides", "pads", "ceil_mode")},
                 count_include_pad=count_include_pad)
    q = qp(scale, zero_point)
    shape = (case["n"], case["h"], case["w"], case["c"])
    x = int8_values(rng, shape) if constant is None else np.full(shape, constant, np.int8)
    check(tmp_path, "avg_pool2d", {"x": (x, q)}, {}, ["x"], attrs, q)


def test_avg_pool2d_rounds_half_away_from_zero(tmp_path):
    """Window sums of +-1 and +-3 over 2 pixels (count_include_pad halves at the edge): exact ties
    on both signs, where half-to-even or floor rounding would differ."""
    x = np.array([0, 1, 0, -1, 3, 0, -3, 0], np.int8).reshape(1, 1, 8, 1)
    q = qp(0.1, 0)
    for cip in (0, 1):
        check(tmp_path, "avg_pool2d", {"x": (x, q)}, {}, ["x"],
              dict(kernel=(1, 2), strides=(1, 1), pads=(0, 1, 0, 1), count_include_pad=cip), q)


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), max_size=5), data=st.data(), keepdims=st.integers(0, 1),
       z=st.tuples(ZERO_POINTS, ZERO_POINTS), ratio=st.floats(-12.0, 8.0), seed=SEEDS)
def test_mean(tmp_path, shape, data, keepdims, z, ratio, seed):
    rng = np.random.default_rng(seed)
    r = len(shape)  # rank 0 included: no axes, the requantized value itself
    axes = data.draw(st.lists(st.integers(0, r - 1), unique=True, max_size=r) if r else st.just([]))
    axes = [a - r if data.draw(st.booleans()) else a for a in axes]
    s_x = float(np.float32(2.0 ** rng.uniform(-8, 2)))
    check(tmp_path, "mean", {"x": (int8_values(rng, shape), qp(s_x, z[0]))}, {}, ["x"],
          dict(axes=axes, keepdims=keepdims), qp(float(np.float32(s_x * 2.0**ratio)), z[1]))


def test_global_average_pool(tmp_path):
    """mean over H, W of an NHWC tensor (GlobalAveragePool), a 7x7 map of 64 channels."""
    rng = np.random.default_rng(3)
    x = int8_values(rng, (2, 7, 7, 64))
    check(tmp_path, "mean", {"x": (x, qp(0.07, -20))}, {}, ["x"], dict(axes=(1, 2), keepdims=1),
          qp(0.02, 5))


# -- softmax ----------------------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), data=st.data(),
       scale=st.floats(1e-3, 2.0), zero_point=ZERO_POINTS, seed=SEEDS)
def test_softmax(tmp_path, shape, data, scale, zero_point, seed):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    s_x = float(np.float32(scale))
    check(tmp_path, "softmax", {"x": (int8_values(rng, shape), qp(s_x, zero_point))},
          {"exp_table": (softmax_exp_table(s_x), None)}, ["x", "exp_table"], {"axis": axis},
          qp(*SOFTMAX_OUT))


@pytest.mark.parametrize("n", [1, 2, 3, 255, 1000])
def test_softmax_long_and_flat_rows(tmp_path, n):
    """Rows of equal values (each gets 1/n, a one-element row saturates at 127) and rows with one
    peak, over lengths where 256 / n is exact, a tie or far below a step."""
    rows = np.stack([np.zeros(n, np.int8), np.full(n, -128, np.int8),
                     np.where(np.arange(n) == n // 2, 127, -128).astype(np.int8)])
    s_x = 0.05
    check(tmp_path, "softmax", {"x": (rows, qp(s_x, 0))},
          {"exp_table": (softmax_exp_table(s_x), None)}, ["x", "exp_table"], {"axis": 1},
          qp(*SOFTMAX_OUT))


# -- prepare refuses what eval could not run --------------------------------------------------------

def refused(g: Graph, tmp_path) -> str:
    path = tmp_path / "bad.tem"
    write_tem(g, plan_memory(g), path, {"name": "hostile"})
    with pytest.raises(RuntimeLoadError) as err:
        runtime.load(str(path))
    message = str(err.value)
    assert "bad_node" in message, message
    return message


def conv_graph(w: Optional[np.ndarray] = None, w_quant: Optional[QuantParams] = None,
               bias: Optional[np.ndarray] = None) -> Graph:
    g = Graph()
    g.add_input("x", (1, 6, 6, 2), "int8")
    g.tensors["x"].quant = qp(0.1, 0)
    g.add_const("w", np.ones((4, 3, 3, 2), np.int8) if w is None else w)
    g.tensors["w"].quant = w_quant or weight_qp(np.full(4, 0.01, np.float32), True)
    names = ["x", "w"]
    if bias is not None:
        names.append(g.add_const("b", bias))
    g.outputs = g.add_node("conv2d", names, {}, name="bad_node")
    g.tensors[g.outputs[0]].quant = qp(0.2, 0)
    return g


def softmax_graph(table: Optional[np.ndarray], out_quant=qp(*SOFTMAX_OUT)) -> Graph:
    g = Graph()
    g.add_input("x", (2, 5), "int8")
    g.tensors["x"].quant = qp(0.1, 0)
    names = ["x"] + ([g.add_const("t", table)] if table is not None else [])
    g.outputs = g.add_node("softmax", names, {}, name="bad_node")
    g.tensors[g.outputs[0]].quant = out_quant
    return g


def pool_graph(out_quant: QuantParams) -> Graph:
    g = Graph()
    g.add_input("x", (1, 4, 4, 2), "int8")
    g.tensors["x"].quant = qp(0.1, 3)
    g.outputs = g.add_node("max_pool2d", ["x"], {"kernel": (2, 2)}, name="bad_node")
    g.tensors[g.outputs[0]].quant = out_quant
    return g


def matmul_graph(k: int) -> Graph:
    g = Graph()
    g.add_input("a", (1, k), "int8")
    g.add_input("b", (k, 1), "int8")
    g.tensors["a"].quant = qp(0.1, -128)
    g.tensors["b"].quant = qp(0.1, -128)
    g.outputs = g.add_node("matmul", ["a", "b"], {}, name="bad_node")
    g.tensors[g.outputs[0]].quant = qp(0.1, 0)
    return g


def unquantized_input() -> Graph:
    g = conv_graph()
    g.tensors["x"].quant = None
    return g


def with_weight(values) -> Graph:
    w = np.ones((4, 3, 3, 2), np.int8)
    w.reshape(-1)[: len(values)] = values
    return conv_graph(w)


EXP = softmax_exp_table(0.1)
HOSTILE = [
    ("conv2d input without parameters", unquantized_input, "per-tensor quantization parameters"),
    ("conv2d weight zero point", lambda: conv_graph(w_quant=QuantParams(
        np.full(4, 0.01, np.float32), np.array([0, 0, 1, 0], np.int32), 0)), "zero point 1"),
    ("conv2d weight -128", lambda: with_weight([-128]), "-128"),
    ("conv2d weight per input channel", lambda: conv_graph(w_quant=QuantParams(
        np.full(2, 0.01, np.float32), np.zeros(2, np.int32), 3)), "per output channel"),
    ("conv2d float bias", lambda: conv_graph(bias=np.zeros(4, np.float32)), "int32"),
    ("conv2d accumulator beyond int32", lambda: conv_graph(
        bias=np.array([0, 0, INT32_MAX, 0], np.int32)), "beyond int32"),
    ("fully_connected multiplier 2^30", lambda: fc_graph(qp(1.0, 0), np.ones((2, 3), np.int8), 2.0**15,
                                                None, qp(2.0**-15, 0)), "multiplier"),
    ("fully_connected NaN clamp", lambda: fc_graph(qp(1.0, 0), np.ones((2, 3), np.int8), 0.1, None,
                                                   qp(0.1, 0), {"act_max": float("nan")}), "NaN"),
    ("matmul K overflows int32", lambda: matmul_graph(INT32_MAX // (255 * 255) + 1), "K ="),
    ("max_pool2d changes parameters", lambda: pool_graph(qp(0.1, 4)), "must equal"),
    ("softmax without exp_table", lambda: softmax_graph(None), "exp_table"),
    ("softmax float exp_table", lambda: softmax_graph(EXP.astype(np.float32)), "int32"),
    ("softmax negative table entry", lambda: softmax_graph(np.where(np.arange(256) == 9, -1, EXP)
                                                           .astype(np.int32)), "exp_table[9]"),
    ("softmax table entry 0 is 0", lambda: softmax_graph(np.zeros(256, np.int32)), "exp_table[0]"),
    ("softmax output parameters", lambda: softmax_graph(EXP, qp(1.0 / 255.0, -128)), "1/256"),
]


@pytest.mark.parametrize("build, words", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_prepare_refuses(tmp_path, build, words):
    message = refused(build(), tmp_path)
    assert words in message, message
