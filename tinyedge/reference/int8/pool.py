"""INT8 max_pool2d, avg_pool2d and mean (docs/quantization.md).

The windows, the ceil-mode overhang and avg_pool2d's divisor are the float kernels' own
(tinyedge/reference/pool.py), so the INT8 ops cover exactly the positions the float ops do.
max_pool2d keeps the input's parameters and is the float op on the int8 values (exact in float32).
avg_pool2d also keeps them: it divides the window's sum of (x - z_x) by the divisor, rounding half
away from zero. mean may change parameters: its sum is requantized by s_x / (s_y * n).
"""
from __future__ import annotations

import math

import numpy as np

from .. import pool as float_pool
from .params import check_int32, multiplier, per_tensor, requantize_to_int8, same_params, sat8


def max_pool2d(x, *, qin, qout, kernel, strides, pads, ceil_mode, dilations):
    """Max over each window's positions inside the input; (s_y, z_y) = (s_x, z_x)."""
    same_params("max_pool2d", qin[0], qout)
    y = float_pool.max_pool2d(x.astype(np.float32), kernel=kernel, strides=strides, pads=pads,
                              ceil_mode=ceil_mode, dilations=dilations)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"max_pool2d: a dilated window {tuple(kernel)} with dilations "
                         f"{tuple(dilations)} misses every input position; its max is undefined")
    return y.astype(np.int8)


def _round_half_away(total: np.ndarray, n: np.ndarray) -> np.ndarray:
    """total / n rounded half away from zero, n > 0: C's truncating (|total| + n/2) / n, signed."""
    magnitude = (np.abs(total) + n // 2) // n
    return np.where(total >= 0, magnitude, -magnitude)


def avg_pool2d(x, *, qin, qout, kernel, strides, pads, ceil_mode, count_include_pad):
    """Mean of (x - z_x) over each window with the float op's divisor; (s_y, z_y) = (s_x, z_x)."""
    _, z = same_params("avg_pool2d", qin[0], qout)
    h, w = x.shape[1:3]
    pt, pl, pb, pr = pads
    view = float_pool._pooled_windows(x.astype(np.int64) - z, kernel, strides, (1, 1), pads,
                                      ceil_mode, 0)
    total = view.sum(axis=(4, 5))
    oh, ow = total.shape[1:3]
    lo_h, hi_h, lo_w, hi_w = (-pt, h + pb, -pl, w + pr) if count_include_pad else (0, h, 0, w)
    rows = float_pool._counts(oh, kernel[0], strides[0], pt, lo_h, hi_h)
    cols = float_pool._counts(ow, kernel[1], strides[1], pl, lo_w, hi_w)
    n = (rows[:, None] * cols[None, :])[None, :, :, None].astype(np.int64)
    if np.any(n == 0):
        raise ValueError(f"avg_pool2d: a window of {tuple(kernel)} holds no position to average")
    return sat8(z + _round_half_away(check_int32("avg_pool2d", total, "window sum"), n))


def mean(x, *, qin, qout, axes, keepdims):
    """requantize(sum (x - z_x) over the axes, s_x / (s_y * n)) + z_y, n the reduced count."""
    s_x, z_x = per_tensor("mean", "the input", qin[0])
    s_y, z_y = per_tensor("mean", "the output", qout)
    axes = tuple(sorted(a % x.ndim for a in axes))
    n = math.prod(x.shape[a] for a in axes)
    total = np.sum(x.astype(np.int64) - z_x, axis=axes, keepdims=bool(keepdims))
    m, shift = multiplier("mean", float(s_x) / (float(s_y) * float(n)))
    return requantize_to_int8(check_int32("mean", np.asarray(total), "sum"), m, shift, z_y)


KERNELS = {"max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d, "mean": mean}
