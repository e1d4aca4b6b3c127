"""The one rounding rule (docs/quantization.md): the Python rule (tinyedge/quantize/fixed_point.py)
against its C twin (runtime_c/src/fixed_point.c, through the cffi extension) on the edges and on
random inputs, plus both against the rule's meaning in exact rational arithmetic.

- te_quantize_multiplier vs quantize_multiplier: powers of two and their neighbours (where M rounds
  up to 2^31), the 2^-32 underflow, tiny, denormal and huge values, and invalid ones.
- te_requantize_i32 vs requantize: INT32_MIN/MAX accumulators, every shift -31..30, multipliers
  0, 2^30 and 2^31 - 1, exact ties (positive and negative), saturation.
- quantize_value vs the C `quantize` kernel: ties, NaN, infinities, -0, denormals, the clamp bounds.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyedge.ir import Graph, QuantParams
from tinyedge.quantize.fixed_point import quantize_multiplier, quantize_value, requantize

_runtime = pytest.importorskip("tinyedge._runtime", reason="the C runtime extension is not built")
runtime = pytest.importorskip("tinyedge.runtime", reason="the C runtime extension is not built")
lib, ffi = _runtime.lib, _runtime.ffi

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
SETTINGS = settings(max_examples=300, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def _extension_is_current():
    if not hasattr(lib, "te_requantize_i32"):
        pytest.fail("the C extension predates te_requantize_i32: rebuild it with "
                    "`python tinyedge/_runtime_build.py`")


def c_multiplier(real: float):
    """(M, shift) from C, or None where C reports an error."""
    m, shift = ffi.new("int32_t *"), ffi.new("int *")
    status = lib.te_quantize_multiplier(real, m, shift)
    return (m[0], shift[0]) if status == lib.TE_OK else None


def py_multiplier(real: float):
    try:
        return quantize_multiplier(real)
    except ValueError:
        return None


# -- quantize_multiplier ---------------------------------------------------------------------------

def _multiplier_edges() -> list[float]:
    values = [0.0, -0.0, -1.0, math.inf, -math.inf, math.nan, 5e-324, 2.2250738585072014e-308,
              1e-300, 1e-20, 2.0**-32, 2.0**-33, 1e300, 2.0**30, 1e-3, 0.1, 1 / 3, 0.75, 0.999]
    for k in range(-40, 32):
        p = 2.0**k
        values += [p, math.nextafter(p, 0), math.nextafter(p, math.inf), 1.5 * p,
                   p * (1 - 2.0**-32), p * (1 - 2.0**-31), p * (1 + 2.0**-31)]
    return values


@pytest.mark.parametrize("real", _multiplier_edges())
def test_quantize_multiplier_c_equals_python(real):
    assert c_multiplier(real) == py_multiplier(real), real


@pytest.mark.parametrize("real, want", [
    (0.5, (2**30, 0)), (1.0, (2**30, 1)), (0.75, (3 * 2**29, 0)), (0.25, (2**30, -1)),
    (2.0**-32, (2**30, -31)),  # the smallest multiplier that is not 0
    (math.nextafter(2.0**-32, 0), (2**30, -31)),  # M rounds up to 2^31: 2^30 one exponent higher
    (2.0**-33, (0, 0)),  # below 2^-32: everything requantizes to 0
    (2.0**29 * 1.5, (3 * 2**29, 30)),
    (2.0**30, None), (math.nextafter(2.0**30, 0), None),  # rounds up to 2^30: too large
    (0.0, None), (-0.5, None), (math.inf, None), (math.nan, None),
])
def test_quantize_multiplier_pinned(real, want):
    assert py_multiplier(real) == want
    assert c_multiplier(real) == want


@SETTINGS
@given(st.floats(min_value=2.0**-40, max_value=2.0**31, allow_nan=False))
def test_quantize_multiplier_random(real):
    got = py_multiplier(real)
    assert c_multiplier(real) == got
    if got is not None and got != (0, 0):
        m, shift = got
        assert 2**30 <= m < 2**31 and -31 <= shift <= 30
        # M * 2^(shift - 31) is real rounded to 31 significant bits: within half a unit of M.
        error = Fraction(m) * Fraction(2) ** (shift - 31) - Fraction(real)
        assert abs(error) <= Fraction(2) ** (shift - 32)


# -- requantize ------------------------------------------------------------------------------------

ACCS = [INT32_MIN, INT32_MIN + 1, -(2**30), -65536, -3, -2, -1, 0, 1, 2, 3, 65535, 2**30,
        INT32_MAX - 1, INT32_MAX]
MULTS = [0, 2**30, 2**30 + 1, 1518500250, 2**31 - 2, 2**31 - 1]


def test_requantize_c_equals_python_on_the_edges():
    acc, m, shift = np.meshgrid(ACCS, MULTS, np.arange(-31, 31), indexing="ij")
    want = requantize(acc, m, shift)
    got = np.vectorize(lambda a, b, c: lib.te_requantize_i32(int(a), int(b), int(c)))(acc, m, shift)
    bad = got != want
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{int(bad.sum())} of {bad.size} differ; first: acc {acc[i]}, "
                             f"M {m[i]}, shift {shift[i]}: C {got[i]}, Python {want[i]}")


@pytest.mark.parametrize("acc, m, shift, want", [
    (3, 2**30, 0, 2), (-3, 2**30, 0, -1),  # 1.5 -> 2, -1.5 -> -1: ties toward +inf
    (5, 2**30, 0, 3), (-5, 2**30, 0, -2),
    (-2, 2**30, -1, 0),  # -0.5 -> 0 through the rounding shift
    (6, 2**30, -1, 2), (-6, 2**30, -1, -1),  # 1.5 -> 2, -1.5 -> -1
    (5, 2**30, -1, 2),  # 1.25 -> 2: SQRDMULH rounds 2.5 to 3, the shift rounds 1.5 to 2
    (INT32_MIN, 2**30, -31, 0),  # -0.5 -> 0
    (INT32_MAX, 2**30, -31, 1),  # 0.4999999998 -> 1 (double rounding again)
    (INT32_MAX, 2**31 - 1, 30, INT32_MAX - 1),  # the left shift saturates, then ~ x * 1
    (INT32_MIN, 2**31 - 1, 30, INT32_MIN + 1),
    (1000, 2**31 - 1, 30, INT32_MAX - 1), (-1000, 2**31 - 1, 30, INT32_MIN + 1),
    (12345, 0, 0, 0), (INT32_MIN, 0, 0, 0),
])
def test_requantize_pinned(acc, m, shift, want):
    assert int(requantize(acc, m, shift)) == want
    assert lib.te_requantize_i32(acc, m, shift) == want


def _double_rounding_bound(shift: int) -> Fraction:
    """How far the rule may land from the exact product: SQRDMULH's rounding (half a unit of
    2^-r) plus the rounding shift's (half a unit); one rounding only when r = 0."""
    r = max(-shift, 0)
    return Fraction(1, 2) if r == 0 else Fraction(1, 2) + Fraction(1, 2 ** (r + 1))


@SETTINGS
@given(st.integers(INT32_MIN, INT32_MAX), st.integers(2**30, 2**31 - 1), st.integers(-31, 30))
def test_requantize_random(acc, m, shift):
    got = int(requantize(acc, m, shift))
    assert lib.te_requantize_i32(acc, m, shift) == got
    exact = Fraction(acc) * m * Fraction(2) ** (shift - 31)
    if INT32_MIN <= acc * 2 ** max(shift, 0) <= INT32_MAX and INT32_MIN < exact < INT32_MAX:
        assert abs(got - exact) <= _double_rounding_bound(shift), (acc, m, shift, got, exact)


# -- quantize_value against the C quantize kernel -------------------------------------------------

def c_quantize(values: np.ndarray, scale: float, zero_point: int, tmp_path) -> np.ndarray:
    """Run the C `quantize` kernel on values (a graph float -> quantize -> int8)."""
    from tinyedge.format.writer import write_tem
    from tinyedge.plan import plan_memory

    g = Graph()
    x = g.add_input("x", values.shape)
    (y,) = g.add_node("quantize", [x], name="quantize", dtype="int8")
    g.tensors[y].quant = QuantParams(np.array([scale], np.float32),
                                     np.array([zero_point], np.int32))
    g.outputs = [y]
    path = tmp_path / "quantize.tem"
    write_tem(g, plan_memory(g), path, {"name": "quantize"})
    (out,) = runtime.load(path).run([values])
    return out


def _quantize_edges(scale: float, zero_point: int) -> np.ndarray:
    """Values at and next to every tie k + 0.5 steps and the clamp bounds, whole steps, and IEEE
    specials (with a huge scale some of these overflow to infinity, which is one more edge)."""
    s = np.float32(scale)
    steps = np.arange(-140, 141, dtype=np.float32)
    with np.errstate(over="ignore"):
        ties = (steps + np.float32(0.5)) * s
        bounds = np.array([127.5 - zero_point, -128.5 - zero_point], np.float32) * s
        whole = steps * s
    up, down = np.float32(np.inf), np.float32(-np.inf)
    near = np.concatenate([np.nextafter(ties, up), np.nextafter(ties, down),
                           np.nextafter(bounds, up), np.nextafter(bounds, down)])
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-38, 3.4e38, -3.4e38],
                       np.float32)
    return np.concatenate([ties, bounds, near, special, whole]).astype(np.float32)


@pytest.mark.parametrize("scale, zero_point", [
    (0.125, 0), (0.125, -128), (0.125, 127), (0.1, 3), (1 / 255, -128), (2.0**-20, 7),
    (1e-38, 0), (3e38, -5), (1e-3, 100),
])
def test_quantize_value_python_equals_c_kernel(scale, zero_point, tmp_path):
    values = _quantize_edges(scale, zero_point)
    want = quantize_value(values, scale, zero_point).astype(np.int8)
    got = c_quantize(values, scale, zero_point, tmp_path)
    bad = got != want
    assert not bad.any(), (f"{int(bad.sum())} differ; first at value "
                           f"{values[bad][0]!r}: C {got[bad][0]}, Python {want[bad][0]}")


def test_quantize_value_pinned():
    # ties to even (x / 0.125 = 0.5, 1.5, 2.5, -0.5, -1.5), NaN -> zero point, saturation
    x = np.array([0.0625, 0.1875, 0.3125, -0.0625, -0.1875, np.nan, np.inf, -np.inf, 16.0],
                 np.float32)
    assert quantize_value(x, 0.125, 3).tolist() == [3, 5, 5, 3, 1, 3, 127, -128, 127]


@settings(max_examples=30, deadline=None)
@given(st.floats(2.0**-20, 1024.0, width=32), st.integers(-128, 127),
       st.lists(st.floats(width=32), min_size=1, max_size=64))
def test_quantize_value_random(tmp_path_factory, scale, zero_point, values):
    values = np.array(values, np.float32)
    want = quantize_value(values, scale, zero_point).astype(np.int8)
    got = c_quantize(values, scale, zero_point, tmp_path_factory.mktemp("q"))
    assert np.array_equal(got, want), (values, got, want)
