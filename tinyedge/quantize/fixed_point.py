"""The one requantization rule, in numpy (its C twin is runtime_c/src/fixed_point.h).

docs/quantization.md states the rule; this file and the C file implement it and a test checks them
against each other on the edges. Every function here is exact integer (or exactly rounded IEEE)
arithmetic, so the same inputs give the same bits on every machine.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Represent a positive real multiplier as (M, shift): real ~= M * 2**(shift - 31).

    M is in [2**30, 2**31 - 1]; shift in [-31, 30]. A multiplier below 2**-32 gives (0, 0): every
    requantized value is then 0. Raises ValueError for a multiplier that is not positive and finite
    or is 2**30 or more (no INT8 layer needs one)."""
    if not (real > 0.0 and math.isfinite(real)):
        raise ValueError(f"requantization multiplier {real!r} is not positive and finite")
    frac, exp = math.frexp(real)  # real = frac * 2**exp, frac in [0.5, 1)
    m = math.floor(frac * 2.0**31 + 0.5)  # exact: frac * 2**31 < 2**31 has a 0.5 ulp or finer
    if m == 2**31:
        m //= 2
        exp += 1
    if exp < -31:
        return 0, 0
    if exp > 30:
        raise ValueError(f"requantization multiplier {real!r} is too large (>= 2**30)")
    return int(m), int(exp)


def sqrdmulh(x: np.ndarray, m: int | np.ndarray) -> np.ndarray:
    """Saturating rounding doubling high multiply of int32 values (ARM SQRDMULH):
    sat((2 * x * m + 2**31) >> 32)."""
    x = np.asarray(x, dtype=np.int64)
    prod = 2 * x * np.asarray(m, dtype=np.int64) + (1 << 31)
    return np.clip(prod >> 32, INT32_MIN, INT32_MAX)


def rounding_shift_right(x: np.ndarray, r: int | np.ndarray) -> np.ndarray:
    """(x + 2**(r-1)) >> r for r >= 1 (ARM SRSHR: ties round toward +inf); x itself for r == 0."""
    x = np.asarray(x, dtype=np.int64)
    r = np.asarray(r, dtype=np.int64)
    half = np.where(r > 0, np.left_shift(1, np.maximum(r - 1, 0)), 0)
    return (x + half) >> r


def requantize(acc: np.ndarray, m: int | np.ndarray, shift: int | np.ndarray) -> np.ndarray:
    """acc * M * 2**(shift - 31) with the documented rounding, as int64 holding int32 values.

    Steps: a saturating left shift by max(shift, 0), SQRDMULH by M, a rounding right shift by
    max(-shift, 0). m and shift broadcast against acc (per-channel multipliers on the last axis)."""
    acc = np.asarray(acc, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    x = np.clip(acc << left, INT32_MIN, INT32_MAX)
    return rounding_shift_right(sqrdmulh(x, m), np.maximum(-shift, 0))


def quantize_value(v: float | np.ndarray, scale: float, zero_point: int,
                   qmin: int = -128, qmax: int = 127) -> np.ndarray:
    """clamp(rint(v / scale) + zero_point) in float32 arithmetic, ties to even; NaN -> zero_point.

    Used for graph-border quantize ops and to turn a fused clamp [act_min, act_max] into INT8 bounds."""
    v = np.asarray(v, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        q = np.rint(v / np.float32(scale))
        q = np.where(np.isnan(q), np.float32(0), q)
        q = np.clip(q, np.float32(qmin - zero_point), np.float32(qmax - zero_point))
    return (q.astype(np.int64) + zero_point).astype(np.int64)


def dequantize_value(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """scale * (q - zero_point) in float32."""
    return np.float32(scale) * (np.asarray(q, dtype=np.int32) - np.int32(zero_point)).astype(np.float32)
