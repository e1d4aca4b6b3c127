"""The numpy INT8 reference on hand-computed cases (docs/quantization.md).

Each case is small enough that its result can be worked out on paper; the expected values below
are written from the document's formulas, not from the code. They pin what onnxruntime cannot: the
exact rounding (ties toward +inf, the rule's double rounding, avg_pool2d's half away from zero),
saturation, zero points in padding, add's 2^20 path, the softmax table. The last part checks that
parameters an op cannot use are errors naming the op.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from tinyedge import reference
from tinyedge.ir import Graph, QuantParams
from tinyedge.reference import evaluate
from tinyedge.reference.int8 import lut_table, softmax_exp_table


def q(scale: float, zero_point: int = 0) -> QuantParams:
    return QuantParams(np.array([scale], np.float32), np.array([zero_point], np.int32))


def per_channel(*scales: float) -> QuantParams:
    return QuantParams(np.array(scales, np.float32), np.zeros(len(scales), np.int32), axis=0)


def i8(*values) -> np.ndarray:
    return np.array(values, np.int8)


def run(op, inputs, attrs, in_q, out_q) -> np.ndarray:
    (y,) = evaluate(op, inputs, attrs, in_q, [out_q])
    return y


def assert_int8(got: np.ndarray, want) -> None:
    want = np.asarray(want, np.int8)
    assert got.dtype == np.int8 and got.shape == want.shape, (got.dtype, got.shape, want.shape)
    assert np.array_equal(got, want), f"got {got.tolist()}, want {want.tolist()}"


# -- quantize / dequantize -------------------------------------------------------------------------

def test_quantize_saturates_and_maps_nan_to_the_zero_point():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.74, 1000, -1000, np.inf, -np.inf, np.nan],
                 np.float32)
    got = run("quantize", [x], {}, [None], q(0.5, 3))
    # x / 0.5 = 1, 3, 5, -1, -3, -5, 1.48 (-> 1), saturated, saturated, NaN -> zero point
    assert_int8(got, [4, 6, 8, 2, 0, -2, 4, 127, -128, 127, -128, 3])


def test_quantize_ties_land_on_even_steps():
    x = np.array([0.25, 0.75, -0.25, -0.75], np.float32)  # x / 0.5 = +-0.5, +-1.5
    assert_int8(run("quantize", [x], {}, [None], q(0.5, 0)), [0, 2, 0, -2])


def test_dequantize():
    got = run("dequantize", [i8(-128, 3, 127)], {}, [q(0.5, 3)], None)
    assert got.dtype == np.float32 and got.tolist() == [-65.5, 0.0, 62.0]


# -- conv2d, fully_connected, matmul ---------------------------------------------------------------

def test_conv2d_padding_holds_the_zero_point_and_ties_round_up():
    # Every input is z_x + 1 = 3; a 3x3 kernel of ones with pads 1 sees 4 (corner), 6 (edge) or
    # 9 (center) real inputs, plus bias 1: acc 5, 7, 10. m = (1 * 1) / 2 = 0.5: 2.5 -> 3,
    # 3.5 -> 4, 5 -> 5 (ties toward +inf), then + z_y = -3.
    x = np.full((1, 3, 3, 1), 3, np.int8)
    w = np.ones((1, 3, 3, 1), np.int8)
    b = np.array([1], np.int32)
    got = run("conv2d", [x, w, b], {"pads": (1, 1, 1, 1)}, [q(1.0, 2), per_channel(1.0)],
              q(2.0, -3))
    assert_int8(got[0, :, :, 0], [[0, 1, 0], [1, 2, 1], [0, 1, 0]])


def test_conv2d_per_channel_multipliers_and_saturation():
    # 1x1 conv, two output channels reading one input channel: weights 1 and 100, scales 1 and
    # 0.5, s_y 2: m = 0.5 and 0.25.
    x = i8(-3, 5, 127).reshape(1, 1, 3, 1)
    w = i8(1, 100).reshape(2, 1, 1, 1)
    got = run("conv2d", [x, w], {}, [q(1.0, 0), per_channel(1.0, 0.5)], q(2.0, 0))
    # channel 0: -1.5 -> -1 (tie toward +inf), 2.5 -> 3, 63.5 -> 64
    # channel 1: -75, 125, 3175 -> saturated to 127
    assert_int8(got[0, 0], [[-1, -75], [3, 125], [64, 127]])


def test_conv2d_fused_relu_clamps_at_the_zero_point():
    x = i8(-4, 4).reshape(1, 1, 2, 1)
    w = i8(1).reshape(1, 1, 1, 1)
    attrs = {"act_min": 0.0, "act_max": 2.0}  # [lo, hi] = [z_y, z_y + 2 / 0.5]
    got = run("conv2d", [x, w], attrs, [q(0.5), per_channel(1.0)], q(0.5, 10))
    assert_int8(got.reshape(-1), [10, 14])


def test_depthwise_conv2d_uses_each_channels_own_weights_and_scale():
    # group = C = 2: channel c of the output reads only channel c of the input.
    x = np.array([[[[1, 10], [2, 20]]]], np.int8)  # (1, 1, 2, 2)
    w = np.array([[[[3]], [[1]]], [[[5]], [[-1]]]], np.int8).transpose(0, 2, 1, 3)  # (2, 1, 2, 1)
    got = run("conv2d", [x, w], {"group": 2}, [q(1.0), per_channel(1.0, 0.5)], q(1.0))
    # channel 0: 1*3 + 2*1 = 5; channel 1: (10*5 + 20*(-1)) * 0.5 = 15
    assert_int8(got.reshape(-1), [5, 15])


def test_fully_connected_and_its_bias():
    x = i8(6, 7, 3).reshape(1, 3)  # z_x = 5: [1, 2, -2]
    w = i8(1, 1, 1, 2, -1, 3).reshape(2, 3)
    b = np.array([10, -4], np.int32)
    got = run("fully_connected", [x, w, b], {}, [q(1.0, 5), per_channel(1.0, 1.0)], q(1.0, 1))
    # acc = [10 + 1 + 2 - 2, -4 + 2 - 2 - 6] = [11, -10]; + z_y
    assert_int8(got, [[12, -9]])


def test_matmul_subtracts_both_zero_points():
    a = i8(3, 4).reshape(1, 2)  # z_a = 2: [1, 2]
    b = i8(0, 1, 2, 3).reshape(2, 2)  # z_b = 1: [[-1, 0], [1, 2]]
    got = run("matmul", [a, b], {}, [q(1.0, 2), q(0.5, 1)], q(1.0, 0))
    # sum: [-1 + 2, 0 + 4] = [1, 4]; m = 0.5: 0.5 -> 1 (tie up), 2
    assert_int8(got, [[1, 2]])


def test_requantization_double_rounds_as_the_rule_says():
    # m = 0.25 is M = 2^30, shift -1: SQRDMULH halves with rounding (5 -> 2.5 -> 3), the rounding
    # shift halves again (3 -> 1.5 -> 2). So 5 * 0.25 = 1.25 gives 2, not round(1.25) = 1: the
    # documented ARM rule, not a correctly rounded product.
    x = i8(5, -5, 6, -6).reshape(1, 4)
    w = i8(1).reshape(1, 1)
    got = run("fully_connected", [x.reshape(4, 1), w], {}, [q(1.0), per_channel(1.0)], q(4.0))
    # -5: SQRDMULH gives floor(-2.5 + 0.5) = -2, then (-2 + 1) >> 1 = -1;
    # 6 -> 3 -> 2; -6 -> -3 -> -1
    assert_int8(got.reshape(-1), [2, -1, 2, -1])


# -- add and mul -----------------------------------------------------------------------------------

def test_add_with_equal_scales_is_exact():
    a, b = i8(1, -7, 100, 127), i8(2, 3, 27, 127)
    got = run("add", [a, b], {}, [q(1.0, 0), q(1.0, 0)], q(1.0, -1))
    assert_int8(got, [2, -5, 126, 127])  # a + b - 1, saturated


def test_add_20_bit_path_rounds_ties_up():
    # t = 2 * max(s_a, s_b) = 2; a' = (a - z_a) * 2^19, b' = b * 2^18 (m_b = 0.25: an exact
    # halving of b * 2^20 / 2), m_y = 2 / 2^20: y = round_half_up(a + b / 2).
    a, b = i8(1, -1, 2, 0), i8(1, -1, 3, -1)
    got = run("add", [a, b], {}, [q(1.0, 0), q(0.5, 0)], q(1.0, 0))
    assert_int8(got, [2, -1, 4, 0])  # 1.5 -> 2, -1.5 -> -1, 3.5 -> 4, -0.5 -> 0


def test_add_broadcasts_and_clamps():
    a = i8(-3, 5).reshape(2, 1)
    b = i8(0, 1, 2)
    got = run("add", [a, b], {"act_min": 0.0}, [q(1.0, 0), q(1.0, 0)], q(1.0, 4))
    # a + b + 4, clamped below at z_y = 4 (relu)
    assert_int8(got, [[4, 4, 4], [9, 10, 11]])


def test_mul():
    a, b = i8(2, -2, 5, 10, 127), i8(3, 3, 1, 100, 127)
    got = run("mul", [a, b], {}, [q(1.0, 0), q(1.0, 0)], q(4.0, 0))
    # products / 4: 1.5 -> 2, -1.5 -> -1, 1.25 -> 2 (double rounding, as above), 250, 4032
    assert_int8(got, [2, -1, 2, 127, 127])


def test_mul_zero_points_and_clamp():
    a, b = i8(3, 1), i8(-2, -2)  # z_a = 1, z_b = -4: (2, 0) * (2, 2)
    got = run("mul", [a, b], {"act_max": 1.0}, [q(1.0, 1), q(1.0, -4)], q(0.5, 0))
    assert_int8(got, [2, 0])  # 4 / 0.5 = 8 clamped at quantize_value(1.0) = 2


# -- concat ----------------------------------------------------------------------------------------

def test_concat_copies_matching_inputs_and_rescales_the_others():
    same = i8(-128, 0, 127)
    other = i8(3, -3, 100)  # s 1, z 0 into s 2, z 1: m = 0.5
    big = i8(100)  # s 4 into s 2: m = 2, 200 + 1 saturates
    got = run("concat", [same, other, big], {"axis": 0}, [q(2.0, 1), q(1.0, 0), q(4.0, 0)],
              q(2.0, 1))
    # 1.5 -> 2, -1.5 -> -1, 50, then + 1; 100 * 4 / 2 = 200 -> saturated
    assert_int8(got, [-128, 0, 127, 3, 0, 51, 127])


# -- pooling and mean ------------------------------------------------------------------------------

def test_max_pool_padding_never_wins():
    x = np.full((1, 2, 2, 1), -100, np.int8)
    got = run("max_pool2d", [x], {"kernel": (2, 2), "pads": (1, 1, 1, 1)}, [q(1.0, 5)], q(1.0, 5))
    assert_int8(got, np.full((1, 3, 3, 1), -100))


def test_avg_pool_rounds_half_away_from_zero():
    z = 5
    x = (np.array([1, 2, -1, -2, 1, 0, -1, 0]) + z).astype(np.int8).reshape(1, 1, 8, 1)
    got = run("avg_pool2d", [x], {"kernel": (1, 2), "strides": (1, 2)}, [q(1.0, z)], q(1.0, z))
    # 3 / 2 -> 2, -3 / 2 -> -2, 1 / 2 -> 1, -1 / 2 -> -1
    assert_int8(got.reshape(-1), np.array([2, -2, 1, -1]) + z)


@pytest.mark.parametrize("include, want", [(1, [2, 4, 2]), (0, [3, 4, 4])])
def test_avg_pool_divisor_follows_count_include_pad(include, want):
    z = -7
    x = np.array([3, 4], np.int64).reshape(1, 1, 2, 1) + z
    attrs = {"kernel": (1, 2), "pads": (0, 1, 0, 1), "count_include_pad": include}
    got = run("avg_pool2d", [x.astype(np.int8)], attrs, [q(1.0, z)], q(1.0, z))
    # windows [pad, 3], [3, 4], [4, pad]: n = 2 everywhere with the pads counted (1.5 -> 2,
    # 3.5 -> 4, 2), n = 1, 2, 1 without them (3, 3.5 -> 4, 4)
    assert_int8(got.reshape(-1), np.array(want) + z)


def test_mean_requantizes_the_sum():
    x = np.array([[1, 2, 3, 4], [-1, -2, -3, -4], [127, 127, 127, 127]], np.int8)
    got = run("mean", [x], {"axes": (1,), "keepdims": 0}, [q(1.0, 0)], q(1.0, 0))
    # m = 1 / 4: 10 -> 2.5 -> 3; -10 -> -2.5 -> -2 (ties toward +inf); 127
    assert_int8(got, [3, -2, 127])


def test_mean_changes_parameters():
    x = np.array([[10, 20]], np.int8)  # z_x = 10: [0, 10], mean 5 in steps of 0.5 -> 2.5 real
    got = run("mean", [x], {"axes": (1,), "keepdims": 1}, [q(0.5, 10)], q(0.25, -20))
    assert_int8(got, [[-10]])  # 2.5 / 0.25 = 10 steps, + z_y


# -- data movement ---------------------------------------------------------------------------------

def test_pad_constant_is_the_value_quantized_with_the_inputs_parameters():
    x = i8(7)
    for value, want in ((0.5, -1), (0.375, -1), (0.125, -3), (-1000.0, -128), (math.nan, -3)):
        # 0.5 / 0.25 = 2, 1.5 -> 2 (ties to even), 0.5 -> 0, saturated, NaN -> z
        got = run("pad", [x], {"pads": (1, 0), "value": value}, [q(0.25, -3)], q(0.25, -3))
        assert_int8(got, [want, 7])


def test_reflect_and_edge_pads_copy():
    x = i8(1, 2, 3)
    assert_int8(run("pad", [x], {"pads": (2, 1), "mode": 1}, [q(1.0)], q(1.0)), [3, 2, 1, 2, 3, 2])
    assert_int8(run("pad", [x], {"pads": (1, 2), "mode": 2}, [q(1.0)], q(1.0)), [1, 1, 2, 3, 3, 3])


def test_reshape_transpose_slice_copy():
    x = np.arange(-3, 3, dtype=np.int8).reshape(2, 3)
    p = [q(0.1, 2)]
    assert_int8(run("reshape", [x], {"shape": (3, 2)}, p, p[0]), x.reshape(3, 2))
    assert_int8(run("transpose", [x], {"perm": (1, 0)}, p, p[0]), x.T)
    got = run("slice", [x], {"starts": (1, 2), "ends": (-1, -1), "steps": (-1, -2)}, p, p[0])
    assert_int8(got, [[2, 0], [-1, -3]])


def test_movement_without_any_parameters_moves_int8_values():
    # What the frontends' constant folding relies on: no parameters, no INT8 rules to apply.
    x = np.arange(-3, 3, dtype=np.int8).reshape(2, 3)
    (y,) = evaluate("transpose", [x], {"perm": (1, 0)})
    assert y.dtype == np.int8 and np.array_equal(y, x.T)
    (y,) = evaluate("concat", [x, x], {"axis": 0})
    assert np.array_equal(y, np.concatenate([x, x]))


def test_resize_linear_weights_and_rounding():
    # One row [0, 1, 0, -1] (z = 0), width 4 -> 7 with align_corners: source columns 0, 0.5, 1,
    # ..., 3; a half-way column has w1 = 1024 (Q11), acc = 2048 * 1024 * (x0 + x1), and
    # (acc + 2^21) >> 22 rounds (x0 + x1) / 2 with ties toward +inf: 0.5 -> 1, -0.5 -> 0.
    x = i8(0, 1, 0, -1).reshape(1, 1, 4, 1)
    attrs = {"size": (1, 7), "scales": (1.0, 7 / 4), "mode": 1, "coord_mode": 2}
    got = run("resize", [x], attrs, [q(1.0)], q(1.0))
    assert_int8(got.reshape(-1), [0, 1, 1, 1, 0, 0, -1])


def test_resize_linear_two_axes_and_zero_point():
    z = 60
    x = (np.array([[0, 20], [40, 60]]) + z).astype(np.int8).reshape(1, 2, 2, 1)
    attrs = {"size": (3, 3), "scales": (1.5, 1.5), "mode": 1, "coord_mode": 2}
    got = run("resize", [x], attrs, [q(1.0, z)], q(1.0, z))
    # the bilinear interpolation of a plane, exact here (multiples of 10)
    want = np.array([[0, 10, 20], [20, 30, 40], [40, 50, 60]]) + z
    assert_int8(got[0, :, :, 0], want)


def test_resize_nearest_copies():
    x = i8(-5, 6).reshape(1, 1, 2, 1)
    attrs = {"size": (1, 4), "scales": (1.0, 2.0), "mode": 0, "coord_mode": 1, "nearest_mode": 2}
    assert_int8(run("resize", [x], attrs, [q(1.0)], q(1.0)).reshape(-1), [-5, -5, 6, 6])


# -- softmax and lut -------------------------------------------------------------------------------

def test_softmax_exp_table():
    table = softmax_exp_table(math.log(2))  # exp(-ln2 * d) = 2^-d
    assert table.dtype == np.int32 and table.shape == (256,)
    assert table[:18].tolist() == [2**(16 - d) for d in range(17)] + [0]
    assert not table[18:].any()


def test_softmax_from_the_table():
    table = softmax_exp_table(math.log(2))
    x = np.array([[3, 2], [9, 9], [-128, -128]], np.int8)
    got = run("softmax", [x, table], {}, [q(math.log(2))], q(1 / 256, -128))
    # [65536, 32768]: S = 98304, (512 e + S) // (2 S) = 171, 85 (2/3 and 1/3 of 256, rounded);
    # equal pairs: (512 * 65536 + 2 * 65536) // (4 * 65536) = 128 -> 0
    assert_int8(got, [[43, -43], [0, 0], [0, 0]])


def test_softmax_single_element_rows_saturate_and_axis_is_honoured():
    table = softmax_exp_table(0.5)
    x = np.array([[1, 2, 3]], np.int8)
    got = run("softmax", [x, table], {"axis": 0}, [q(0.5)], q(1 / 256, -128))
    assert_int8(got, [[127, 127, 127]])  # 256 steps of 1/256 is one step too many: saturated


def test_lut_indexes_the_table():
    table = np.arange(127, -129, -1).astype(np.int8)  # table[x + 128] = -1 - x
    x = i8(-128, -1, 0, 127)
    assert_int8(run("lut", [x, table], {}, [q(1.0)], q(1.0)), [127, 0, -1, -128])


def test_lut_tables():
    sigmoid = lut_table("sigmoid", {}, (0.1, 4), (1 / 256, -128))
    assert sigmoid[4 + 128] == 0  # sigmoid(0) = 0.5 = 128 steps of 1/256 above -128
    assert sigmoid[0] == -128 + round(256 / (1 + math.exp(13.2)))  # x = 0.1 * (-132)
    assert sigmoid[255] == 127  # 256 / (1 + exp(-12.3)) = 255.99: saturated
    leaky = lut_table("leaky_relu", {"alpha": 0.5}, (1.0, 0), (1.0, 0))
    assert leaky[[0, 127, 128, 255]].tolist() == [-64, 0, 0, 127]  # -128 * 0.5, -0.5 -> 0 (even)
    hard = lut_table("hard_sigmoid", {}, (0.5, 0), (1 / 256, -128))  # alpha 0.2, beta 0.5
    assert hard[128 + 1].tolist() == -128 + round(256 * 0.6)
    with pytest.raises(ValueError, match="lut: no table for op 'relu'"):
        lut_table("relu", {}, (1.0, 0), (1.0, 0))


# -- whole graphs through the executor -------------------------------------------------------------

def test_run_routes_a_quantized_graph_through_the_int8_reference():
    g = Graph()
    x = g.add_input("x", (1, 4))
    (xq,) = g.add_node("quantize", [x], dtype="int8")
    g.tensors[xq].quant = q(0.5, 0)
    (y,) = g.add_node("add", [xq, xq])
    g.tensors[y].quant = q(1.0, 0)
    (out,) = g.add_node("dequantize", [y], dtype="float32")
    g.outputs = [out]
    (got,) = reference.run(g, [np.array([[0.5, 1.5, -2.0, 100.0]], np.float32)])
    # quantize: 1, 3 (1.5 / 0.5), -4, 127; add (s 0.5 + 0.5 into 1): 1, 3, -4, 127
    assert got.dtype == np.float32 and got.tolist() == [[1.0, 3.0, -4.0, 127.0]]


# -- errors ----------------------------------------------------------------------------------------

def test_parameter_errors_name_the_op():
    x = np.zeros((1, 2, 2, 1), np.int8)
    w = np.ones((1, 1, 1, 1), np.int8)
    with pytest.raises(ValueError, match="conv2d: the input has no quantization parameters"):
        run("conv2d", [x, w], {}, [None, per_channel(1.0)], q(1.0))
    with pytest.raises(ValueError, match="conv2d: weight zero points must be 0"):
        run("conv2d", [x, w], {}, [q(1.0), QuantParams(np.float32([1]), np.int32([3]), 0)], q(1.0))
    with pytest.raises(ValueError, match="do not fit its 1 output channels"):
        run("conv2d", [x, w], {}, [q(1.0), per_channel(1.0, 2.0)], q(1.0))
    with pytest.raises(ValueError, match="max_pool2d: output parameters .* must equal"):
        run("max_pool2d", [x], {"kernel": (1, 1)}, [q(1.0)], q(2.0))
    with pytest.raises(ValueError, match="softmax: INT8 output parameters must be"):
        run("softmax", [x, softmax_exp_table(1.0)], {}, [q(1.0)], q(1.0))
    with pytest.raises(ValueError, match="softmax: the INT8 form needs its exp_table"):
        run("softmax", [x], {}, [q(1.0)], q(1 / 256, -128))
    with pytest.raises(ValueError, match="add: .* too large"):  # m_y = 2 / (2^20 * 1e-15)
        run("add", [x, x], {}, [q(1.0), q(1.0)], q(1e-15))
    with pytest.raises(ValueError, match="zero point 200 is outside"):
        run("reshape", [x], {"shape": (4,)}, [q(1.0, 200)], q(1.0, 200))
    with pytest.raises(ValueError, match="per-channel parameters"):
        run("mean", [x], {"axes": (1,)}, [per_channel(1.0)], q(1.0))


def test_dtype_errors():
    x = np.zeros((1, 2, 2, 1), np.int8)
    w = np.ones((1, 1, 1, 1), np.int8)
    with pytest.raises(ValueError, match="conv2d: input 'bias' has dtype int8; the INT8 form "
                                         "wants int32"):
        run("conv2d", [x, w, np.zeros(1, np.int8)], {}, [q(1.0), per_channel(1.0)], q(1.0))
    with pytest.raises(ValueError, match="quantize: input 'x' has dtype int8"):
        run("quantize", [x], {}, [None], q(1.0))
    with pytest.raises(ValueError, match="sigmoid: input 'x' has dtype int8; the reference "
                                         "computes sigmoid in float32"):
        run("sigmoid", [x], {}, [q(1.0)], q(1.0))


def test_accumulator_overflow_is_an_error():
    x = np.full((1, 1, 1, 1), 127, np.int8)
    w = np.full((1, 1, 1, 1), 127, np.int8)
    b = np.array([2**31 - 100], np.int32)
    with pytest.raises(ValueError, match="conv2d: the accumulator overflows int32"):
        run("conv2d", [x, w, b], {}, [q(1.0, -128), per_channel(1.0)], q(1.0))
