"""The fused activation of arithmetic ops: a clamp of the output to [act_min, act_max]."""
from __future__ import annotations

import math

import numpy as np


def clamp(y: np.ndarray, act_min: float, act_max: float) -> np.ndarray:
    """min(max(y, act_min), act_max), skipping the bounds that are infinite (no clamp at all)."""
    if act_min > -math.inf:
        y = np.maximum(y, np.float32(act_min))
    if act_max < math.inf:
        y = np.minimum(y, np.float32(act_max))
    return y
