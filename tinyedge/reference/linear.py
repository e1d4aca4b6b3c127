"""fully_connected and matmul in float32 (numpy's matmul, so BLAS accumulates in float32)."""
from __future__ import annotations

import numpy as np

from .fused import clamp


def fully_connected(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
                    act_min, act_max) -> np.ndarray:
    """y[..., n] = sum_k x[..., k] * weight[n, k] + bias[n], fused clamp."""
    y = np.matmul(x, weight.T)
    if bias is not None:
        y = y + bias
    return clamp(y, act_min, act_max)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched matrix product with numpy broadcasting of the batch dims."""
    return np.matmul(a, b)


KERNELS = {"fully_connected": fully_connected, "matmul": matmul}
