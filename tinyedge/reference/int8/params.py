"""Quantization parameters as the INT8 reference kernels read them, with the parameter rules of
docs/quantization.md checked on the way (an op given parameters it cannot use is an error that
names the op, never a silent mismatch with the C kernels, which refuse the same graphs at load).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ...ir import QuantParams
from ...quantize.fixed_point import quantize_multiplier, quantize_value, requantize


def per_tensor(op: str, what: str, q: Optional[QuantParams]) -> tuple[np.float32, int]:
    """(scale, zero_point) of an int8 activation with per-tensor parameters."""
    if q is None:
        raise ValueError(f"{op}: {what} has no quantization parameters; INT8 {op} needs a "
                         f"per-tensor (scale, zero_point) (an op with a float form computes in "
                         f"float32 on float32 inputs)")
    scale = np.asarray(q.scale, np.float32).reshape(-1)
    zero_point = np.asarray(q.zero_point).reshape(-1)
    if q.axis is not None or scale.size != 1 or zero_point.size != 1:
        raise ValueError(f"{op}: {what} has per-channel parameters (axis {q.axis}, "
                         f"{scale.size} scales); INT8 {op} supports per-tensor ones only")
    s, z = scale[0], int(zero_point[0])
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"{op}: {what} scale {s} is not a positive finite float32")
    if not -128 <= z <= 127:
        raise ValueError(f"{op}: {what} zero point {z} is outside [-128, 127]")
    return s, z


def weight_scales(op: str, q: Optional[QuantParams], channels: int) -> np.ndarray:
    """The float32 scale of every output channel of a weight (symmetric: zero points 0).

    Per channel (axis 0, one scale per output channel) or per tensor (one scale for all)."""
    if q is None:
        raise ValueError(f"{op}: the weight has no quantization parameters; INT8 {op} needs "
                         f"per-channel (axis 0) or per-tensor scales")
    scale = np.asarray(q.scale, np.float32).reshape(-1)
    zero_point = np.asarray(q.zero_point).reshape(-1)
    if q.axis is None and scale.size == 1:
        scale = np.repeat(scale, channels)
    elif q.axis != 0 or scale.size != channels:
        raise ValueError(f"{op}: weight parameters (axis {q.axis}, {scale.size} scales) do not "
                         f"fit its {channels} output channels; supported: axis 0 with one scale "
                         f"per output channel, or one scale per tensor")
    if zero_point.size not in (1, scale.size) or np.any(zero_point != 0):
        raise ValueError(f"{op}: weight zero points must be 0 (symmetric weights)")
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError(f"{op}: weight scales must be positive finite float32 values")
    return scale


def same_params(op: str, x: Optional[QuantParams],
                y: Optional[QuantParams]) -> tuple[np.float32, int]:
    """Check that an op that copies values has the output parameters of its input; return them."""
    sx, zx = per_tensor(op, "the input", x)
    sy, zy = per_tensor(op, "the output", y)
    if (sx, zx) != (sy, zy):
        raise ValueError(f"{op}: output parameters ({sy}, {zy}) must equal the input's "
                         f"({sx}, {zx}): INT8 {op} copies values")
    return sx, zx


def multiplier(op: str, real: float) -> tuple[int, int]:
    """quantize_multiplier with an error naming the op when the scales give no representable one."""
    try:
        return quantize_multiplier(real)
    except ValueError as e:
        raise ValueError(f"{op}: {e}; the scales do not fit an INT8 {op}") from e


def multipliers(op: str, reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, shift) arrays (int64) for an array of real multipliers (one per channel)."""
    pairs = [multiplier(op, float(r)) for r in np.asarray(reals, np.float64).reshape(-1)]
    return (np.array([m for m, _ in pairs], np.int64), np.array([s for _, s in pairs], np.int64))


def clamp_bounds(op: str, act_min: float, act_max: float, scale: np.float32,
                 zero_point: int) -> tuple[int, int]:
    """[lo, hi]: a fused clamp [act_min, act_max] in the output's INT8 steps (quantize_value)."""
    if math.isnan(act_min) or math.isnan(act_max):
        raise ValueError(f"{op}: fused clamp [{act_min}, {act_max}] has a NaN bound")
    return (int(quantize_value(act_min, scale, zero_point)),
            int(quantize_value(act_max, scale, zero_point)))


def check_int32(op: str, acc: np.ndarray, what: str = "accumulator") -> np.ndarray:
    """acc (int64), after checking that it fits the int32 the C kernels accumulate in."""
    if acc.size and (acc.min() < -(2**31) or acc.max() > 2**31 - 1):
        raise ValueError(f"{op}: the {what} overflows int32 (range [{acc.min()}, {acc.max()}]); "
                         f"the bias or the reduction is too large for an INT8 {op}")
    return acc


def sat8(v: np.ndarray) -> np.ndarray:
    """clamp(v, -128, 127) as int8."""
    return np.clip(v, -128, 127).astype(np.int8)


def requantize_to_int8(acc: np.ndarray, m, shift, zero_point: int, lo: int = -128,
                       hi: int = 127) -> np.ndarray:
    """clamp(requantize(acc, M, shift) + zero_point, lo, hi) as int8 (lo, hi within int8)."""
    return np.clip(requantize(acc, m, shift) + zero_point, lo, hi).astype(np.int8)
