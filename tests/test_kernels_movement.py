"""The C float32 reference kernels of the data-movement ops against the numpy reference.

reshape, transpose, concat, pad and slice only move elements, so the C output must equal the
reference's bit for bit. Each case builds a one-op IR graph, writes it as a .tem file, runs it with
the C runtime and compares with tinyedge.reference.run; shapes cover ranks 1..6 with size-1 dims.
A few cases edit a valid graph into one the kernel must refuse at load.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_kernels_elementwise import SETTINGS, assert_exact, refused, run_c
from tinyedge import reference
from tinyedge.ir import Graph
from tinyedge.ir.ops import PAD_MODES

SEEDS = st.integers(0, 2**32 - 1)


def shapes(min_rank: int = 1, max_rank: int = 6, max_dim: int = 4):
    """Shapes of rank min_rank..max_rank with dims 1..max_dim."""
    return st.integers(min_rank, max_rank).flatmap(
        lambda r: st.lists(st.integers(1, max_dim), min_size=r, max_size=r).map(tuple))


def _values(seed: int, shape) -> np.ndarray:
    # Distinct values, so that a wrong index cannot read an equal element by luck.
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape, dtype=np.int64))) + 0.5).astype(np.float32).reshape(shape)


def check_one_op(tmp_path, op: str, xs: list[np.ndarray], attrs: dict, const: tuple = ()) -> None:
    """Run op on xs (the ones whose index is in `const` as constants) in C and in the reference."""
    g = Graph()
    names, feeds = [], []
    for k, x in enumerate(xs):
        if k in const:
            names.append(g.add_const(f"c{k}", x))
        else:
            names.append(g.add_input(f"x{k}", x.shape))
            feeds.append(x)
    g.outputs = g.add_node(op, names, attrs, name=f"{op}_node")
    assert_exact(run_c(g, feeds, tmp_path / "m.tem")[0], reference.run(g, feeds)[0])


# ---------------------------------------------------------------------------------------------
# reshape


@st.composite
def reshape_case(draw):
    """A shape and a new shape of the same element count (rank 1..6), from its prime factors."""
    shape = draw(shapes())
    factors = []
    n = int(np.prod(shape))
    for p in (2, 3):
        while n % p == 0:
            factors.append(p)
            n //= p
    rank = draw(st.integers(1, 6))
    new = [1] * rank
    for f in factors:
        new[draw(st.integers(0, rank - 1))] *= f
    return shape, tuple(new)


@SETTINGS
@given(case=reshape_case(), seed=SEEDS)
def test_reshape_matches_reference(tmp_path, case, seed):
    shape, new = case
    check_one_op(tmp_path, "reshape", [_values(seed, shape)], {"shape": new})


def test_reshape_refuses_a_different_count(tmp_path):
    g = Graph()
    g.outputs = g.add_node("reshape", [g.add_input("x", (2, 3))], {"shape": (3, 2)})
    g.nodes[0].attrs["shape"] = (4, 2)  # edited after shape inference
    g.tensors[g.outputs[0]].shape = (4, 2)
    assert "elements" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# transpose


@SETTINGS
@given(shape=shapes(), data=st.data(), seed=SEEDS, const=st.booleans())
def test_transpose_matches_reference(tmp_path, shape, data, seed, const):
    perm = data.draw(st.permutations(range(len(shape))))
    check_one_op(tmp_path, "transpose", [_values(seed, shape)], {"perm": tuple(perm)},
                 const=(0,) if const else ())


def test_transpose_refuses_a_perm_that_repeats_an_axis(tmp_path):
    g = Graph()
    g.outputs = g.add_node("transpose", [g.add_input("x", (2, 2, 3))], {"perm": (1, 0, 2)})
    g.nodes[0].attrs["perm"] = (1, 1, 2)
    assert "permutation" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# concat


@SETTINGS
@given(shape=shapes(max_dim=3), data=st.data(), seed=SEEDS)
def test_concat_matches_reference(tmp_path, shape, data, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    n = data.draw(st.integers(1, 4))
    xs = []
    for k in range(n):
        s = list(shape)
        s[axis] = data.draw(st.integers(1, 3))
        xs.append(_values(seed + k, s))
    const = tuple(k for k in range(n) if data.draw(st.booleans()))
    if len(const) == n:
        const = const[1:]  # at least one graph input
    check_one_op(tmp_path, "concat", xs, {"axis": axis}, const=const)


def test_concat_refuses_inputs_that_differ_off_axis(tmp_path):
    g = Graph()
    a, b = g.add_input("a", (2, 3)), g.add_input("b", (2, 4))
    g.outputs = g.add_node("concat", [a, b], {"axis": 1})
    g.tensors["b"].shape = (3, 4)
    assert "only the axis 1 may differ" in refused(g, tmp_path / "m.tem")


def test_concat_refuses_an_axis_out_of_range(tmp_path):
    g = Graph()
    a, b = g.add_input("a", (2, 3)), g.add_input("b", (2, 4))
    g.outputs = g.add_node("concat", [a, b], {"axis": 1})
    g.nodes[0].attrs["axis"] = 2
    assert "axis 2" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# pad


@st.composite
def pad_case(draw):
    """A shape, a mode and pads valid for it, negative (cropping) ones included."""
    shape = draw(shapes(max_dim=5))
    mode = draw(st.integers(0, len(PAD_MODES) - 1))
    begins, ends = [], []
    for d in shape:
        # Crop at most d - 1 in total, so the kept range is never empty.
        crop_b = draw(st.integers(0, d - 1))
        crop_e = draw(st.integers(0, d - 1 - crop_b))
        grow = st.integers(0, d - 1) if PAD_MODES[mode] == "reflect" else st.integers(0, 3)
        b = -crop_b if draw(st.booleans()) else draw(grow)
        e = -crop_e if draw(st.booleans()) else draw(grow)
        begins.append(b)
        ends.append(e)
    return shape, {"pads": tuple(begins + ends), "mode": mode,
                   "value": draw(st.sampled_from([0.0, -1.25, 7.0]))}


@SETTINGS
@given(case=pad_case(), seed=SEEDS)
def test_pad_matches_reference(tmp_path, case, seed):
    shape, attrs = case
    check_one_op(tmp_path, "pad", [_values(seed, shape)], attrs)


@pytest.mark.parametrize("mode", range(len(PAD_MODES)))
def test_pad_nhwc_spatial(tmp_path, mode):
    # The common model case: pad H and W of an NHWC tensor by (1, 2) and (2, 1).
    attrs = {"pads": (0, 1, 2, 0, 0, 2, 1, 0), "mode": mode, "value": 0.5}
    check_one_op(tmp_path, "pad", [_values(1, (2, 5, 4, 3))], attrs)


def test_pad_refuses_reflect_as_wide_as_the_dim(tmp_path):
    g = Graph()
    g.outputs = g.add_node("pad", [g.add_input("x", (3, 4))],
                           {"pads": (0, 3, 0, 3), "mode": 0})
    g.nodes[0].attrs["mode"] = 1  # reflect can reach 3 of a dim of 4, not 4 of a dim of 3
    g.nodes[0].attrs["pads"] = (3, 0, 3, 0)
    g.tensors[g.outputs[0]].shape = (9, 4)
    assert "reflect" in refused(g, tmp_path / "m.tem")


def test_pad_refuses_an_unknown_mode(tmp_path):
    g = Graph()
    g.outputs = g.add_node("pad", [g.add_input("x", (3,))], {"pads": (1, 1)})
    g.nodes[0].attrs["mode"] = 3
    assert "mode 3" in refused(g, tmp_path / "m.tem")


# ---------------------------------------------------------------------------------------------
# slice


@st.composite
def slice_case(draw):
    """A shape and one in-range (start, end, step) per dim, negative steps and far ends included."""
    shape = draw(shapes(max_dim=6))
    starts, ends, steps = [], [], []
    for d in shape:
        step = draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
        start = draw(st.integers(0, d - 1))
        room = (d - 1 - start) // step if step > 0 else start // -step  # further indices in range
        n = draw(st.integers(1, room + 1))
        last = start + (n - 1) * step
        # Any end past the last index and not reaching the next one gives n elements.
        end = last + (1 if step > 0 else -1) * draw(st.integers(1, abs(step)))
        starts.append(start)
        ends.append(end)
        steps.append(step)
    return shape, {"starts": tuple(starts), "ends": tuple(ends), "steps": tuple(steps)}


@SETTINGS
@given(case=slice_case(), seed=SEEDS, const=st.booleans())
def test_slice_matches_reference(tmp_path, case, seed, const):
    shape, attrs = case
    check_one_op(tmp_path, "slice", [_values(seed, shape)], attrs, const=(0,) if const else ())


def test_slice_full_reverse(tmp_path):
    # end -1 with a negative step reaches index 0 (not the last element, as a Python slice would).
    attrs = {"starts": (0, 4, 2), "ends": (2, -1, 3), "steps": (1, -1, 1)}
    check_one_op(tmp_path, "slice", [_values(3, (2, 5, 3))], attrs)


def test_slice_refuses_a_read_outside_the_input(tmp_path):
    g = Graph()
    g.outputs = g.add_node("slice", [g.add_input("x", (5,))],
                           {"starts": (0,), "ends": (5,), "steps": (2,)})
    g.nodes[0].attrs["starts"] = (2,)  # 2, 4, 6: three elements, the last outside
    g.nodes[0].attrs["ends"] = (7,)
    assert "reads outside" in refused(g, tmp_path / "m.tem")


def test_slice_refuses_a_zero_step(tmp_path):
    g = Graph()
    g.outputs = g.add_node("slice", [g.add_input("x", (5,))],
                           {"starts": (0,), "ends": (5,), "steps": (2,)})
    g.nodes[0].attrs["steps"] = (0,)
    assert "step of dim 0 is 0" in refused(g, tmp_path / "m.tem")
