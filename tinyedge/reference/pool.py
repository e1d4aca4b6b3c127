"""max_pool2d, avg_pool2d (NHWC windows) and mean over axes, in float32.

Ceil mode may add a last window that hangs over the end of the padded input (the op table's
conv_out_size decides when). The input is padded far enough for every window to be whole: with
-inf for max pooling, so padding never wins, and with zeros for average pooling, whose divisor is
computed separately per axis (it is separable: count over H times count over W).
"""
from __future__ import annotations

import numpy as np

from ..ir.ops import conv_out_size
from .window import pad_hw, windows


def _extent(size: int, k: int, stride: int, dilation: int, pad_begin: int, pad_end: int,
            ceil_mode: int) -> tuple[int, int]:
    """(output length, end pad that makes every window whole, overhang included)."""
    out = conv_out_size(size, k, stride, dilation, pad_begin, pad_end, bool(ceil_mode))
    needed = (out - 1) * stride + (k - 1) * dilation + 1
    return out, max(pad_end, needed - size - pad_begin)


def _pooled_windows(x, kernel, strides, dilations, pads, ceil_mode, fill):
    h, w = x.shape[1:3]
    pt, pl, pb, pr = pads
    oh, pb_all = _extent(h, kernel[0], strides[0], dilations[0], pt, pb, ceil_mode)
    ow, pr_all = _extent(w, kernel[1], strides[1], dilations[1], pl, pr, ceil_mode)
    padded = pad_hw(x, pt, pl, pb_all, pr_all, fill)
    return windows(padded, kernel, strides, dilations, (oh, ow))


def max_pool2d(x: np.ndarray, *, kernel, strides, pads, ceil_mode, dilations) -> np.ndarray:
    """Max over each (dilated) window of an NHWC input; padding never wins."""
    view = _pooled_windows(x, kernel, strides, dilations, pads, ceil_mode, -np.inf)
    return view.max(axis=(4, 5))


def _counts(out: int, k: int, stride: int, pad_begin: int, lo: int, hi: int) -> np.ndarray:
    """How many of each window's k positions fall inside [lo, hi) (input coordinates)."""
    start = np.arange(out) * stride - pad_begin
    return np.clip(np.minimum(start + k, hi) - np.maximum(start, lo), 0, None)


def avg_pool2d(x: np.ndarray, *, kernel, strides, pads, ceil_mode, count_include_pad) -> np.ndarray:
    """Mean over each window of an NHWC input.

    The divisor counts the window's positions inside the input, plus (count_include_pad) those in
    the explicit pads; the ceil-mode overhang beyond the end pad is never counted.
    """
    h, w = x.shape[1:3]
    pt, pl, pb, pr = pads
    view = _pooled_windows(x, kernel, strides, (1, 1), pads, ceil_mode, 0.0)
    sums = view.sum(axis=(4, 5), dtype=np.float32)
    oh, ow = sums.shape[1:3]
    if count_include_pad:
        ch = _counts(oh, kernel[0], strides[0], pt, -pt, h + pb)
        cw = _counts(ow, kernel[1], strides[1], pl, -pl, w + pr)
    else:
        ch = _counts(oh, kernel[0], strides[0], pt, 0, h)
        cw = _counts(ow, kernel[1], strides[1], pl, 0, w)
    divisor = (ch[:, None] * cw[None, :]).astype(np.float32)
    return sums / divisor[None, :, :, None]


def mean(x: np.ndarray, *, axes, keepdims) -> np.ndarray:
    """Mean over the given axes (GlobalAveragePool is mean over H and W)."""
    # float64 sums: numpy's float32 mean adds naively when the axes are not innermost (NHWC H, W).
    out = np.mean(x, axis=tuple(axes), keepdims=bool(keepdims), dtype=np.float64)
    return np.asarray(out).astype(np.float32)


KERNELS = {"max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d, "mean": mean}
