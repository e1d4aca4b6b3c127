"""The C INT8 reference kernels of the elementwise and data-movement ops against the numpy INT8
reference (tinyedge/reference/int8), bit for bit.

add, mul, concat, pad, reshape, transpose, slice, resize, lut, quantize and dequantize. Each case
builds a one-op IR graph over int8 tensors with QuantParams, writes it as a .tem file, runs it with
the C runtime and compares with tinyedge.reference.run on the same graph: np.array_equal, since
docs/quantization.md defines every output bit. Cases draw shapes and broadcasting, scales (very
different ones for add and concat), zero points, fused clamps, pad modes and values, resize modes,
and edge values (-128 and 127, NaN and infinities for quantize). A few cases edit a valid graph into
one the kernel must refuse at load.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from test_kernels_compute import resize_axis
from test_kernels_elementwise import CLAMPS, SETTINGS, assert_exact, broadcast_pair, refused, run_c
from test_kernels_movement import pad_case, reshape_case, shapes, slice_case
from tinyedge import reference
from tinyedge.format.writer import write_tem
from tinyedge.ir import Graph, QuantParams
from tinyedge.ir.ops import PAD_MODES
from tinyedge.plan import plan_memory

runtime = pytest.importorskip("tinyedge.runtime", reason="the C runtime extension is not built")

SEEDS = st.integers(0, 2**32 - 1)
ZERO_POINTS = st.integers(-128, 127)
# Scales over seven decades: add and concat must rescale inputs whose scales differ by 1e6.
SCALES = st.floats(-14.0, 6.0).map(lambda e: float(np.float32(2.0**e * 1.37)))


def qp(scale: float, zero_point: int) -> QuantParams:
    """Per-tensor quantization parameters."""
    return QuantParams(scale=np.array([scale], np.float32),
                       zero_point=np.array([zero_point], np.int32), axis=None)


def int8_values(seed: int, shape) -> np.ndarray:
    """Random int8 values over the whole range, with -128 and 127 always present when there is room."""
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.integers(-128, 128, size=shape, dtype=np.int64), np.int8)
    flat = x.reshape(-1)
    if flat.size >= 2:
        flat[:2] = (-128, 127)
        rng.shuffle(flat)
    return x


def run_one_op(tmp_path, op: str, xs: list[np.ndarray], quants: list[Optional[QuantParams]],
               out_quant: Optional[QuantParams], attrs: dict, const: tuple = (),
               out_dtype: Optional[str] = None) -> tuple[np.ndarray, np.ndarray]:
    """Run op on xs (those whose index is in `const` as constants) with the given parameters, in C
    and in the reference; returns (C output, reference output). A graph the reference refuses (its
    scales give no representable multiplier) is not a case."""
    g = Graph()
    names, feeds = [], []
    for k, (x, q) in enumerate(zip(xs, quants)):
        if k in const:
            name = g.add_const(f"c{k}", x)
        else:
            name = g.add_input(f"x{k}", x.shape, str(x.dtype))
            feeds.append(x)
        g.tensors[name].quant = q
        names.append(name)
    g.outputs = g.add_node(op, names, attrs, name=f"{op}_node", dtype=out_dtype)
    g.tensors[g.outputs[0]].quant = out_quant
    try:
        ref = reference.run(g, feeds)[0]
    except ValueError as e:
        assume("multiplier" not in str(e))
        raise
    path = tmp_path / "m.tem"
    write_tem(g, plan_memory(g), path, {"name": "kernel_test"})
    model = runtime.load(path)
    expected_kernel = f"te_{op}_{'x8' if op in ('reshape', 'transpose', 'slice') else 's8'}__ref"
    assert model.ops[0].kernel == expected_kernel, model.ops
    return model.run(feeds)[0], ref


def check_one_op(tmp_path, op, xs, quants, out_quant, attrs, const=(), out_dtype=None) -> None:
    """run_one_op, then the C output must equal the reference's bit for bit."""
    got, ref = run_one_op(tmp_path, op, xs, quants, out_quant, attrs, const, out_dtype)
    assert_exact(got, ref)


# ---------------------------------------------------------------------------------------------
# add and mul


@SETTINGS
@given(shapes_=broadcast_pair(), op=st.sampled_from(["add", "mul"]), s=st.tuples(SCALES, SCALES, SCALES),
       z=st.tuples(ZERO_POINTS, ZERO_POINTS, ZERO_POINTS), clamp=st.sampled_from(sorted(CLAMPS)),
       const=st.sampled_from([(), (0,), (1,)]), seed=SEEDS)
def test_binary_matches_reference(tmp_path, shapes_, op, s, z, clamp, const, seed):
    xs = [int8_values(seed, shapes_[0]), int8_values(seed + 1, shapes_[1])]
    check_one_op(tmp_path, op, xs, [qp(s[0], z[0]), qp(s[1], z[1])], qp(s[2], z[2]), CLAMPS[clamp],
                 const=const)


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("ratio", [1.0, 1e-6, 1e6])
def test_binary_every_pair_of_values(tmp_path, op, ratio):
    """All 256 x 256 input pairs by broadcasting a column against a row, with input scales that
    differ by `ratio` and an output scale that saturates part of the range."""
    a = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    b = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    quants = [qp(0.05, -3), qp(0.05 * ratio, 17)]
    check_one_op(tmp_path, op, [a, b], quants, qp(0.05 * max(1.0, ratio) * 0.75, 9), {})


def test_add_relu6_bounds_are_quantized_with_the_output_parameters(tmp_path):
    a = np.arange(-128, 128, dtype=np.int8)
    got, ref = run_one_op(tmp_path, "add", [a, a], [qp(0.1, 0), qp(0.1, 0)], qp(0.05, -20),
                          {"act_min": 0.0, "act_max": 6.0})
    assert_exact(got, ref)
    assert got.min() == -20 and got.max() == 100  # quantize_value(0) and quantize_value(6)


def test_add_refuses_an_output_without_parameters(tmp_path):
    g = Graph()
    a, b = g.add_input("a", (2, 3), "int8"), g.add_input("b", (3,), "int8")
    g.tensors[a].quant = g.tensors[b].quant = qp(0.1, 0)
    g.outputs = g.add_node("add", [a, b])
    assert "needs per-tensor quantization parameters" in refused(g, tmp_path / "m.tem")


def test_mul_refuses_per_channel_input_parameters(tmp_path):
    g = Graph()
    a, b = g.add_input("a", (2, 3), "int8"), g.add_input("b", (2, 3), "int8")
    g.tensors[a].quant = QuantParams(np.array([0.1, 0.2], np.float32), np.zeros(2, np.int32), 0)
    g.tensors[b].quant = qp(0.1, 0)
    g.outputs = g.add_node("mul", [a, b])
    g.tensors[g.outputs[0]].quant = qp(0.1, 0)
    assert "per-tensor" in refused(g, tmp_path / "m.tem")


def test_mul_refuses_a_multiplier_too_large(tmp_path):
    g = Graph()
    a, b = g.add_input("a", (4,), "int8"), g.add_input("b", (4,), "int8")
    g.tensors[a].quant = g.tensors[b].quant = qp(2.0**20, 0)
    g.outputs = g.add_node("mul", [a, b])
    g.tensors[g.outputs[0]].quant = qp(2.0**-20, 0)  # m = 2^60
    assert "multiplier" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# concat


@SETTINGS
@given(shape=shapes(max_dim=3), data=st.data(), seed=SEEDS)
def test_concat_matches_reference(tmp_path, shape, data, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    n = data.draw(st.integers(1, 4))
    out_q = qp(data.draw(SCALES), data.draw(ZERO_POINTS))
    xs, quants = [], []
    for k in range(n):
        s = list(shape)
        s[axis] = data.draw(st.integers(1, 3))
        xs.append(int8_values(seed + k, s))
        # Some inputs share the output's parameters (copied), the others are rescaled; one may
        # differ only by its zero point or only by its scale.
        kind = data.draw(st.sampled_from(["same", "other", "zero point", "scale"]))
        q = {"same": out_q, "other": qp(data.draw(SCALES), data.draw(ZERO_POINTS)),
             "zero point": qp(float(out_q.scale[0]), data.draw(ZERO_POINTS)),
             "scale": qp(data.draw(SCALES), int(out_q.zero_point[0]))}[kind]
        quants.append(q)
    const = tuple(k for k in range(n) if data.draw(st.booleans()))
    if len(const) == n:
        const = const[1:]  # at least one graph input
    check_one_op(tmp_path, "concat", xs, quants, out_q, {"axis": axis}, const=const)


def test_concat_refuses_inputs_that_differ_off_axis(tmp_path):
    g = Graph()
    a, b = g.add_input("a", (2, 3), "int8"), g.add_input("b", (2, 4), "int8")
    g.tensors[a].quant = g.tensors[b].quant = qp(0.1, 0)
    g.outputs = g.add_node("concat", [a, b], {"axis": 1})
    g.tensors[g.outputs[0]].quant = qp(0.1, 0)
    g.tensors["b"].shape = (3, 4)
    assert "only the axis 1 may differ" in refused(g, tmp_path / "m.tem")


def test_concat_refuses_an_input_without_parameters(tmp_path):
    g = Graph()
    a, b = g.add_input("a", (2, 3), "int8"), g.add_input("b", (2, 4), "int8")
    g.tensors[a].quant = qp(0.1, 0)
    g.outputs = g.add_node("concat", [a, b], {"axis": 1})
    g.tensors[g.outputs[0]].quant = qp(0.1, 0)
    assert "input 1 'b' needs per-tensor quantization parameters" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# pad


@SETTINGS
@given(case=pad_case(), scale=SCALES, zero_point=ZERO_POINTS,
       value=st.sampled_from([0.0, -1.25, 7.0, 1e30, -1e30, float("nan"), float("inf")]), seed=SEEDS)
def test_pad_matches_reference(tmp_path, case, scale, zero_point, value, seed):
    shape, attrs = case
    attrs = dict(attrs, value=value)
    q = qp(scale, zero_point)
    check_one_op(tmp_path, "pad", [int8_values(seed, shape)], [q], q, attrs)


@pytest.mark.parametrize("mode", range(len(PAD_MODES)))
def test_pad_nhwc_spatial(tmp_path, mode):
    q = qp(0.02, -7)
    attrs = {"pads": (0, 1, 2, 0, 0, 2, 1, 0), "mode": mode, "value": 0.5}
    check_one_op(tmp_path, "pad", [int8_values(1, (2, 5, 4, 3))], [q], q, attrs)


def test_pad_refuses_other_output_parameters(tmp_path):
    g = Graph()
    x = g.add_input("x", (3, 4), "int8")
    g.tensors[x].quant = qp(0.1, 3)
    g.outputs = g.add_node("pad", [x], {"pads": (1, 1, 1, 1)})
    g.tensors[g.outputs[0]].quant = qp(0.1, 4)
    assert "must equal the input's" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# reshape, transpose, slice: byte movement keeping the parameters


@SETTINGS
@given(case=reshape_case(), scale=SCALES, zero_point=ZERO_POINTS, seed=SEEDS)
def test_reshape_matches_reference(tmp_path, case, scale, zero_point, seed):
    shape, new = case
    q = qp(scale, zero_point)
    check_one_op(tmp_path, "reshape", [int8_values(seed, shape)], [q], q, {"shape": new})


@SETTINGS
@given(shape=shapes(), data=st.data(), seed=SEEDS, const=st.booleans())
def test_transpose_matches_reference(tmp_path, shape, data, seed, const):
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    q = qp(0.3, -5)
    check_one_op(tmp_path, "transpose", [int8_values(seed, shape)], [q], q, {"perm": perm},
                 const=(0,) if const else ())


@SETTINGS
@given(case=slice_case(), seed=SEEDS, const=st.booleans())
def test_slice_matches_reference(tmp_path, case, seed, const):
    shape, attrs = case
    q = qp(0.3, 11)
    check_one_op(tmp_path, "slice", [int8_values(seed, shape)], [q], q, attrs,
                 const=(0,) if const else ())


@pytest.mark.parametrize("op, attrs", [("reshape", {"shape": (4, 3)}),
                                       ("transpose", {"perm": (1, 0)}),
                                       ("slice", {"starts": (0, 0), "ends": (3, 4),
                                                  "steps": (1, 1)})])
def test_movement_refuses_other_output_parameters(tmp_path, op, attrs):
    g = Graph()
    x = g.add_input("x", (3, 4), "int8")
    g.tensors[x].quant = qp(0.1, 3)
    g.outputs = g.add_node(op, [x], attrs)
    g.tensors[g.outputs[0]].quant = qp(0.2, 3)
    assert "must equal the input's" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# resize


@SETTINGS
@given(hs=resize_axis(), ws=resize_axis(), n=st.integers(1, 2), c=st.integers(1, 5),
       mode=st.integers(0, 1), coord_mode=st.integers(0, 4), nearest_mode=st.integers(0, 3),
       zero_point=ZERO_POINTS, seed=SEEDS)
def test_resize_matches_reference(tmp_path, hs, ws, n, c, mode, coord_mode, nearest_mode,
                                  zero_point, seed):
    attrs = dict(size=(hs[1], ws[1]), scales=(hs[2], ws[2]), mode=mode, coord_mode=coord_mode,
                 nearest_mode=nearest_mode)
    q = qp(0.04, zero_point)
    check_one_op(tmp_path, "resize", [int8_values(seed, (n, hs[0], ws[0], c))], [q], q, attrs)


def test_resize_linear_weights_round_ties_to_even(tmp_path):
    """asymmetric with scale 4096: the source coordinate i / 4096 has a Q11 weight of i / 2, an
    exact tie for odd i, which rint sends to the even neighbour (round-half-up would not)."""
    x = np.array([-128, 127, -128, 127], np.int8).reshape(1, 1, 4, 1)
    q = qp(0.5, -128)  # z = -128: x - z spans 0..255, so every rounding step shows
    attrs = dict(size=(1, 12), scales=(1.0, 4096.0), mode=1, coord_mode=1)
    got, ref = run_one_op(tmp_path, "resize", [x], [q], q, attrs)
    assert_exact(got, ref)
    # i = 3: w1 = rint(1.5) = 2; y = -128 + floor((2 * 255 * 2048 + 2^21) / 2^22) = -128 + 0.
    assert got.reshape(-1)[3] == -128 + ((2 * 255 * 2048 + 2**21) >> 22)


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_resize_extreme_scales(tmp_path, scale):
    q = qp(0.1, 5)
    attrs = dict(size=(5, 6), scales=(scale, scale), mode=1, coord_mode=0)
    check_one_op(tmp_path, "resize", [int8_values(3, (1, 3, 4, 2))], [q], q, attrs)


def test_resize_refuses_other_output_parameters(tmp_path):
    g = Graph()
    x = g.add_input("x", (1, 2, 2, 1), "int8")
    g.tensors[x].quant = qp(0.1, 3)
    g.outputs = g.add_node("resize", [x], dict(size=(4, 4), scales=(2.0, 2.0), mode=1))
    g.tensors[g.outputs[0]].quant = qp(0.1, 2)
    assert "must equal the input's" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# lut


@SETTINGS
@given(shape=shapes(min_rank=0, max_dim=5), const_x=st.booleans(), seed=SEEDS)
def test_lut_matches_reference(tmp_path, shape, const_x, seed):
    table = int8_values(seed + 1, (256,))
    check_one_op(tmp_path, "lut", [int8_values(seed, shape), table], [qp(0.1, 2), None], qp(1 / 256, -128), {},
                 const=(0,) if const_x else (1,))


def test_lut_reads_every_entry(tmp_path):
    table = np.random.default_rng(4).permutation(256).astype(np.int64) - 128
    x = np.arange(-128, 128, dtype=np.int8)
    got, ref = run_one_op(tmp_path, "lut", [x, table.astype(np.int8)], [qp(0.1, 0), None],
                          qp(1 / 128, 0), {}, const=(1,))
    assert_exact(got, ref)
    assert np.array_equal(got, table.astype(np.int8))


def test_lut_refuses_a_short_table(tmp_path):
    g = Graph()
    x = g.add_input("x", (4,), "int8")
    g.tensors[x].quant = qp(0.1, 0)
    t = g.add_const("table", np.zeros(256, np.int8))
    g.outputs = g.add_node("lut", [x, t])
    g.tensors[g.outputs[0]].quant = qp(0.1, 0)
    g.tensors[t].data = np.zeros(128, np.int8)
    g.tensors[t].shape = (128,)
    assert "table" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# quantize and dequantize


EDGE_FLOATS = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e38, -1e38, 3e-45, -3e-45],
                       np.float32)


@SETTINGS
@given(shape=shapes(max_dim=5), scale=SCALES, zero_point=ZERO_POINTS, seed=SEEDS)
def test_quantize_matches_reference(tmp_path, shape, scale, zero_point, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    # Values around the representable range, exact ties (k + 0.5) * scale, and the edge floats.
    x = (rng.standard_normal(n) * 100 * scale).astype(np.float32)
    ties = ((rng.integers(-140, 140, n) + 0.5) * np.float64(scale)).astype(np.float32)
    x = np.where(rng.random(n) < 0.3, ties, x)
    x[: min(n, EDGE_FLOATS.size)] = rng.permutation(EDGE_FLOATS)[: min(n, EDGE_FLOATS.size)]
    check_one_op(tmp_path, "quantize", [x.reshape(shape)], [None], qp(scale, zero_point), {},
                 out_dtype="int8")


def test_quantize_rounds_ties_to_even(tmp_path):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, np.nan, np.inf, -np.inf], np.float32)
    got, ref = run_one_op(tmp_path, "quantize", [x], [None], qp(1.0, 3), {}, out_dtype="int8")
    assert_exact(got, ref)
    assert got.tolist() == [3, 5, 5, 3, 1, 1, 3, 127, -128]


@SETTINGS
@given(shape=shapes(max_dim=5), scale=SCALES, zero_point=ZERO_POINTS, seed=SEEDS,
       const=st.booleans())
def test_dequantize_matches_reference(tmp_path, shape, scale, zero_point, seed, const):
    x = int8_values(seed, shape)
    check_one_op(tmp_path, "dequantize", [x], [qp(scale, zero_point)], None, {},
                 const=(0,) if const else (), out_dtype="float32")


def test_quantize_refuses_an_output_without_parameters(tmp_path):
    g = Graph()
    x = g.add_input("x", (4,))
    g.outputs = g.add_node("quantize", [x], dtype="int8")
    assert "needs per-tensor quantization parameters" in refused(g, tmp_path / "m.tem")
