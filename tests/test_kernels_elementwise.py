"""The C float32 reference kernels of the elementwise ops against the numpy reference.

Each case builds a one-op IR graph, writes it as a .tem file, runs it with the C runtime
(tinyedge.runtime) and compares with tinyedge.reference.run on the same graph. Shapes cover ranks
1..6 (0 for broadcast operands), size-1 dims and every numpy broadcasting pattern; either operand may be a constant (WEIGHTS)
or a graph input (arena). A few cases edit a valid graph into one the kernel must refuse at load.

The helpers here (run_c, assert_exact, assert_close, refused) are shared with
test_kernels_movement.py.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinyedge import reference
from tinyedge.errors import RuntimeLoadError
from tinyedge.format.writer import write_tem
from tinyedge.ir import Graph
from tinyedge.plan import plan_memory

runtime = pytest.importorskip("tinyedge.runtime", reason="the C runtime extension is not built")

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

# Binary arithmetic, prelu, clip and leaky_relu are one correctly rounded IEEE-754 float32 operation
# (or a comparison) per element in both numpy and C, so they must agree bit for bit.
EXACT_OPS = ("add", "sub", "mul", "div", "prelu")

# sigmoid and tanh go through libm (expf, tanhf) in C and numpy's own float32 exp/tanh, each a few
# ulp from the exact value (~1e-7 relative); hard_sigmoid's alpha * x + beta may be contracted into
# one fused multiply-add on some targets (half an ulp). 1e-5 of max(1, |ref|) leaves a wide margin
# over those differences and is still orders of magnitude below any indexing or formula bug.
MATH_TOL = 1e-5


def run_c(graph: Graph, inputs: list[np.ndarray], path: Path) -> list[np.ndarray]:
    """Write graph to path as a .tem file, load it with the C runtime and run it on inputs."""
    write_tem(graph, plan_memory(graph), path, {"name": "kernel_test"})
    return runtime.load(path).run(list(inputs))


def refused(graph: Graph, path: Path) -> str:
    """Write graph (edited into an invalid one) and return the C loader's message refusing it."""
    write_tem(graph, plan_memory(graph), path, {"name": "kernel_test"})
    with pytest.raises(RuntimeLoadError) as err:
        runtime.load(path)
    assert err.value.status == "shape error", str(err.value)
    return str(err.value)


def _where(got: np.ndarray, bad: np.ndarray) -> str:
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"first at index {first}, {int(bad.sum())} of {bad.size} elements"


def assert_exact(got: np.ndarray, ref: np.ndarray) -> None:
    """Same shape, dtype and values bit for bit (NaN equal to NaN); the report says where."""
    assert got.shape == ref.shape and got.dtype == ref.dtype, (got.shape, got.dtype, ref.shape,
                                                               ref.dtype)
    bad = ~((got == ref) | (np.isnan(got) & np.isnan(ref)))
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"C and reference differ: {_where(got, bad)}; there C {got[i]!r}, "
                             f"reference {ref[i]!r}")


def assert_close(got: np.ndarray, ref: np.ndarray, tol: float) -> None:
    """|got - ref| <= tol * max(1, |ref|) everywhere (NaN only where the reference has NaN)."""
    assert got.shape == ref.shape and got.dtype == ref.dtype
    g, r = got.astype(np.float64), ref.astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(g - r) / np.maximum(1.0, np.abs(r))
        err = np.where(np.isnan(r) & np.isnan(g), 0.0, np.where(g == r, 0.0, err))
    bad = ~(err <= tol)
    if bad.any():
        worst = np.unravel_index(np.nanargmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        raise AssertionError(f"C and reference differ beyond {tol}: {_where(got, bad)}; worst at "
                             f"{tuple(int(i) for i in worst)}: C {got[worst]!r}, reference "
                             f"{ref[worst]!r}")


# ---------------------------------------------------------------------------------------------
# Shapes


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast: each a suffix of one output shape with some dims set to 1.

    The output has rank >= 1 (an operand may still be a rank-0 scalar): the reference executor
    returns rank-0 outputs as shape (1,) for now."""
    rank = draw(st.integers(1, 6))
    out = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))

    def operand(r):
        return tuple(1 if draw(st.booleans()) else d for d in out[rank - r:])

    # One operand keeps the full rank; which one is drawn, as is the other's rank.
    pair = [operand(rank), operand(draw(st.integers(0, rank)))]
    return tuple(pair) if draw(st.booleans()) else tuple(pair[::-1])


def _values(rng: np.random.Generator, shape, scale: float = 3.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Binary ops


CLAMPS = {"none": {}, "relu": {"act_min": 0.0}, "relu6": {"act_min": 0.0, "act_max": 6.0},
          "band": {"act_min": -1.5, "act_max": 0.25}, "crossed": {"act_min": 1.0, "act_max": -1.0}}


@pytest.mark.parametrize("op", EXACT_OPS)
@SETTINGS
@given(shapes=broadcast_pair(), clamp=st.sampled_from(sorted(CLAMPS)),
       const_side=st.sampled_from([None, 0, 1]), seed=st.integers(0, 2**32 - 1))
def test_binary_matches_reference(tmp_path, op, shapes, clamp, const_side, seed):
    if op == "prelu":  # the slope broadcasts to x, never the other way
        assume(np.broadcast_shapes(shapes[0], shapes[1]) == tuple(shapes[0]))
    rng = np.random.default_rng(seed)
    a, b = _values(rng, shapes[0]), _values(rng, shapes[1])
    g = Graph()
    names, feeds = [], []
    for k, value in enumerate((a, b)):
        if k == const_side:
            names.append(g.add_const(f"c{k}", value))
        else:
            names.append(g.add_input(f"x{k}", value.shape))
            feeds.append(value)
    attrs = {} if op == "prelu" else CLAMPS[clamp]
    g.outputs = g.add_node(op, names, attrs, name=f"{op}_node")
    assert_exact(run_c(g, feeds, tmp_path / "m.tem")[0], reference.run(g, feeds)[0])


def test_div_ieee_special_values(tmp_path):
    # x / 0 is +-inf, 0 / 0 NaN, inf / inf NaN: the C kernel follows IEEE as numpy does.
    a = np.array([1.0, -1.0, 0.0, np.inf, -2.0, np.nan], np.float32)
    b = np.array([0.0, 0.0, 0.0, np.inf, -0.0, 1.0], np.float32)
    g = Graph()
    x, y = g.add_input("a", a.shape), g.add_input("b", b.shape)
    g.outputs = g.add_node("div", [x, y], {})
    assert_exact(run_c(g, [a, b], tmp_path / "m.tem")[0], reference.run(g, [a, b])[0])


def test_binary_refuses_shapes_that_do_not_broadcast(tmp_path):
    g = Graph()
    x, y = g.add_input("a", (2, 3)), g.add_input("b", (2, 1))
    g.outputs = g.add_node("add", [x, y], {})
    g.tensors["b"].shape = (2, 4)  # edited after shape inference: (2, 3) + (2, 4) cannot broadcast
    assert "do not broadcast" in refused(g, tmp_path / "m.tem")


def test_binary_refuses_an_output_shape_that_does_not_follow(tmp_path):
    g = Graph()
    x, y = g.add_input("a", (2, 3)), g.add_input("b", (3,))
    g.outputs = g.add_node("mul", [x, y], {})
    g.tensors[g.outputs[0]].shape = (3, 2)  # same count, wrong shape
    assert "(2, 3)" in refused(g, tmp_path / "m.tem")


def test_binary_refuses_a_nan_clamp(tmp_path):
    g = Graph()
    x, y = g.add_input("a", (4,)), g.add_input("b", (4,))
    g.outputs = g.add_node("sub", [x, y], {"act_min": math.nan})
    assert "NaN" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# Unary ops


UNARY = {
    "clip": st.fixed_dictionaries({"min": st.sampled_from([-math.inf, -2.0, 0.0, 1.0]),
                                   "max": st.sampled_from([math.inf, 6.0, 0.5, -3.0])}),
    "leaky_relu": st.fixed_dictionaries({"alpha": st.sampled_from([0.01, 0.2, 1.5, -0.3])}),
    "sigmoid": st.just({}),
    "tanh": st.just({}),
    "hard_sigmoid": st.fixed_dictionaries({"alpha": st.sampled_from([0.2, 1 / 6, -0.7]),
                                           "beta": st.sampled_from([0.5, 0.0, 0.9])}),
    "hard_swish": st.just({}),
}
UNARY_EXACT = {"clip", "leaky_relu"}


@pytest.mark.parametrize("op", sorted(UNARY))
@SETTINGS
@given(data=st.data(), rank=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_unary_matches_reference(tmp_path, op, data, rank, seed):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    attrs = data.draw(UNARY[op])
    rng = np.random.default_rng(seed)
    x = _values(rng, shape, scale=data.draw(st.sampled_from([1.0, 4.0, 50.0])))
    g = Graph()
    g.outputs = g.add_node(op, [g.add_input("x", shape)], attrs)
    got, ref = run_c(g, [x], tmp_path / "m.tem")[0], reference.run(g, [x])[0]
    if op in UNARY_EXACT:
        assert_exact(got, ref)
    else:
        assert_close(got, ref, MATH_TOL)


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_extreme_values(tmp_path, op):
    # Far tails (exp overflow territory for sigmoid), signed zeros, infinities and NaN.
    x = np.array([-1e30, -100.0, -88.8, -20.0, -3.0, -0.0, 0.0, 1e-30, 3.0, 20.0, 88.8, 100.0,
                  1e30, -np.inf, np.inf, np.nan], np.float32)
    g = Graph()
    g.outputs = g.add_node(op, [g.add_input("x", x.shape)], {})
    assert_close(run_c(g, [x], tmp_path / "m.tem")[0], reference.run(g, [x])[0], MATH_TOL)


def test_clip_refuses_a_nan_bound(tmp_path):
    g = Graph()
    g.outputs = g.add_node("clip", [g.add_input("x", (3,))], {"max": math.nan})
    assert "NaN" in refused(g, tmp_path / "m.tem")


def test_unary_refuses_an_int8_input(tmp_path):
    g = Graph()
    g.outputs = g.add_node("tanh", [g.add_input("x", (3,))], {})
    g.tensors["x"].dtype = "int8"  # the kernel is float32 only
    assert "int8" in refused(g, tmp_path / "m.tem")
