"""Sliding windows over H and W of an NHWC tensor, shared by convolution and pooling.

The windows are strided views (`sliding_window_view`), so building them copies nothing; the kernels
that consume them decide what to copy.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pad_hw(x: np.ndarray, top: int, left: int, bottom: int, right: int,
           value: float = 0.0) -> np.ndarray:
    """Pad H and W of an NHWC tensor with a constant (no copy when every pad is zero)."""
    if top == left == bottom == right == 0:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def windows(x: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int],
            dilations: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """View of the windows of an already padded NHWC x: shape (N, OH, OW, C, KH, KW).

    Window (oh, ow) starts at (oh * stride_h, ow * stride_w) and takes every dilation-th row and
    column; out_hw clips the window grid to the op table's output size (the padded input may hold
    rows that no window starts on).
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, strides, dilations, out_hw
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    view = sliding_window_view(x, span, axis=(1, 2))
    return view[:, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw, :, ::dh, ::dw]
