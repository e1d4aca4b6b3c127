"""INT8 resize over H and W of an NHWC tensor (docs/quantization.md); (s_y, z_y) = (s_x, z_x).

nearest copies int8 values with the float kernel (tinyedge/reference/resize.py: same coordinates,
same rounding of ties). linear takes the float op's float32 source coordinate c of every output
index, clamped as the float op clamps it, and turns its fraction into a Q11 weight:
i0 = floor(c), w1 = rint((c - i0) * 2048), w0 = 2048 - w1. The four neighbours' (x - z_x) are summed
with the Q22 weights w_h * w_w (|acc| < 2^31) and rounded back by a flooring shift:
y = sat8(z + ((acc + 2^21) >> 22)). An axis that keeps its size with scale 1 is left alone, as in
the float op.
"""
from __future__ import annotations

import numpy as np

from ...ir.ops import RESIZE_COORDS, RESIZE_MODES
from .. import resize as float_resize
from .params import same_params, sat8

WEIGHT_BITS = 11  # per-axis weights in Q11; their product is Q22


def _taps(coord_mode: str, out_len: int, in_len: int, scale: float):
    """(i0, i1, w1) of every output index along one axis: neighbours and the Q11 weight of i1."""
    if np.float32(scale) == 1 and out_len == in_len:
        index = np.arange(out_len)
        return index, index, np.zeros(out_len, np.int64)
    with np.errstate(over="ignore", invalid="ignore"):  # a tiny scale sends coordinates to inf
        src = float_resize._source_coords(coord_mode, out_len, in_len, scale)
    src = np.clip(src, np.float32(0), np.float32(in_len - 1))
    i0 = src.astype(np.int64)  # floor: src >= 0
    i1 = np.minimum(i0 + 1, in_len - 1)
    frac = src - i0.astype(np.float32)  # exact in float32
    w1 = np.rint(frac * np.float32(1 << WEIGHT_BITS)).astype(np.int64)
    return i0, i1, w1


def _blend(x: np.ndarray, axis: int, taps) -> np.ndarray:
    """sum over the two neighbours of w * x along axis (weights in Q11, no rounding yet)."""
    i0, i1, w1 = taps
    shape = (-1,) + (1,) * (x.ndim - axis - 1)
    w0 = (1 << WEIGHT_BITS) - w1
    return (np.take(x, i0, axis=axis) * w0.reshape(shape)
            + np.take(x, i1, axis=axis) * w1.reshape(shape))


def resize(x, *, qin, qout, size, scales, mode, coord_mode, nearest_mode):
    """INT8 resize of NHWC x to size (h, w); scales (h, w) drive the coordinate transform."""
    _, z = same_params("resize", qin[0], qout)
    if not 0 <= mode < len(RESIZE_MODES) or not 0 <= coord_mode < len(RESIZE_COORDS):
        raise ValueError(f"resize: mode {mode} / coord_mode {coord_mode} unknown; supported: "
                         f"modes {list(RESIZE_MODES)}, coordinate modes {list(RESIZE_COORDS)}")
    if RESIZE_MODES[mode] == "nearest":
        return float_resize.resize(x, size=size, scales=scales, mode=mode, coord_mode=coord_mode,
                                   nearest_mode=nearest_mode)
    if len(size) != 2 or len(scales) != 2 or not all(s > 0 for s in scales):
        raise ValueError(f"resize: size {size} and scales {scales} must be (h, w) pairs of "
                         f"positive values")
    coords = RESIZE_COORDS[coord_mode]
    centered = x.astype(np.int64) - z
    rows = _blend(centered, 1, _taps(coords, size[0], x.shape[1], scales[0]))
    acc = _blend(rows, 2, _taps(coords, size[1], x.shape[2], scales[1]))
    shift = 2 * WEIGHT_BITS
    return sat8(z + ((acc + (1 << (shift - 1))) >> shift))


KERNELS = {"resize": resize}
