"""softmax along an axis and local response normalization across channels, in float32."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def softmax(x: np.ndarray, *, axis) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along axis; subtracting the max keeps exp finite."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def lrn(x: np.ndarray, *, size, alpha, beta, bias) -> np.ndarray:
    """ONNX LRN over the last axis (channels of NHWC).

    y[c] = x[c] / (bias + alpha / size * sum(x[i]^2))^beta for i from c - floor((size-1)/2) to
    c + ceil((size-1)/2), clipped to the channels that exist.
    """
    before, after = (size - 1) // 2, size // 2  # floor and ceil of (size-1)/2
    sq = np.square(x)
    sq = np.pad(sq, [(0, 0)] * (x.ndim - 1) + [(before, after)])
    sums = sliding_window_view(sq, size, axis=-1).sum(axis=-1, dtype=np.float32)
    base = np.float32(bias) + np.float32(alpha / size) * sums
    return x / base ** np.float32(beta)


KERNELS = {"softmax": softmax, "lrn": lrn}
