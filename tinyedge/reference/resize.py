"""resize: ONNX Resize (opset 11-21) over H and W of an NHWC tensor, modes nearest and linear.

Resize is separable: each spatial axis maps its output index y to a source coordinate x (the
coordinate transformation mode, driven by the `scales` attr), then nearest mode rounds x to an
index and linear mode blends the two neighbours floor(x) and floor(x) + 1. Indices beyond the input
clamp to its edge, as the ONNX spec's edge padding does.

Coordinates are computed in float32 in the spec's order of operations, as onnxruntime (and the C
kernel) do, so that floor, ceil and the ties of the rounding modes fall the same way everywhere.
"""
from __future__ import annotations

import numpy as np

from ..ir.ops import RESIZE_COORDS, RESIZE_MODES, RESIZE_NEAREST


def _source_coords(coord_mode: str, out_len: int, in_len: int, scale: float) -> np.ndarray:
    """Source coordinate of every output index along one axis (float32)."""
    y = np.arange(out_len, dtype=np.float32)
    s = np.float32(scale)
    if coord_mode == "half_pixel":
        return (y + 0.5) / s - 0.5
    if coord_mode == "asymmetric":
        return y / s
    if coord_mode == "align_corners":
        if out_len == 1:
            return np.zeros(1, np.float32)
        return y * np.float32(in_len - 1) / np.float32(out_len - 1)
    if coord_mode == "pytorch_half_pixel":
        return (y + 0.5) / s - 0.5 if out_len > 1 else np.zeros(1, np.float32)
    if coord_mode == "tf_half_pixel_for_nn":
        return (y + 0.5) / s
    raise AssertionError(coord_mode)  # resize() checked the enum


# A coordinate within TIE_TOLERANCE of k + 0.5 is a tie. float32 turns exact ties into near ones
# (2 / (4/7) = 3.5 comes out as 3.4999998); onnxruntime resolves them with the same tolerance on
# the fractional part (cf. microsoft/onnxruntime#28291), and so must the C kernel.
TIE_TOLERANCE = 1e-6


def _round(x: np.ndarray, nearest_mode: str) -> np.ndarray:
    """Nearest whole coordinate (float32); the mode decides the ties (and floor/ceil everything)."""
    below = np.floor(x)
    if nearest_mode == "floor":
        return below
    if nearest_mode == "ceil":
        return np.ceil(x)
    frac = x - below  # exact in float32
    tie = np.abs(frac - np.float32(0.5)) <= np.float32(TIE_TOLERANCE)
    up = np.where(tie, nearest_mode == "round_prefer_ceil", frac > 0.5)
    return below + up.astype(np.float32)


def _resize_axis(x: np.ndarray, axis: int, out_len: int, scale: float, mode: str, coord_mode: str,
                 nearest_mode: str) -> np.ndarray:
    in_len = x.shape[axis]
    with np.errstate(over="ignore", invalid="ignore"):  # a tiny scale sends coordinates to inf
        src = _source_coords(coord_mode, out_len, in_len, scale)
        if mode == "nearest":
            src = _round(src, nearest_mode)
    # Clamp in float, before any conversion to int, so that no index can overflow.
    src = np.clip(src, np.float32(0), np.float32(in_len - 1))
    lo = src.astype(np.int64)  # floor: src >= 0
    if mode == "nearest":
        return np.take(x, lo, axis=axis)
    hi = np.minimum(lo + 1, in_len - 1)
    frac = (src - lo.astype(np.float32)).reshape((-1,) + (1,) * (x.ndim - axis - 1))
    return np.take(x, lo, axis=axis) * (np.float32(1) - frac) + np.take(x, hi, axis=axis) * frac


def _enum(name: str, table: tuple[str, ...], value: int) -> str:
    if not 0 <= value < len(table):
        raise ValueError(f"resize: {name} {value} unknown; supported: "
                         + ", ".join(f"{i} {m}" for i, m in enumerate(table)))
    return table[value]


def resize(x: np.ndarray, *, size, scales, mode, coord_mode, nearest_mode) -> np.ndarray:
    """Resize H and W of NHWC x to size (h, w); scales (h, w) drive the coordinate transform."""
    mode_name = _enum("mode", RESIZE_MODES, mode)
    coord_name = _enum("coord_mode", RESIZE_COORDS, coord_mode)
    nearest_name = _enum("nearest_mode", RESIZE_NEAREST, nearest_mode)
    if len(size) != 2 or len(scales) != 2:
        raise ValueError(f"resize: size {size} and scales {scales} must be (h, w) pairs")
    if not all(s > 0 for s in scales):
        raise ValueError(f"resize: scales {scales} must be positive")
    for axis, out_len, scale in ((1, size[0], scales[0]), (2, size[1], scales[1])):
        if np.float32(scale) == 1 and out_len == x.shape[axis]:
            # An axis that keeps its size is left alone, as in onnxruntime and the spec's reference
            # implementation; only tf_half_pixel_for_nn would otherwise shift it by half a pixel.
            continue
        x = _resize_axis(x, axis, out_len, scale, mode_name, coord_name, nearest_name)
    return x


KERNELS = {"resize": resize}
