"""INT8 softmax by a table of exponentials (docs/quantization.md).

Along the axis, every element's distance below the row's maximum d = max - x (0..255) indexes the
constant exp_table (int32, exp(-s_x * d) in Q16, built at compile time by tables.softmax_exp_table).
With S the row's sum of table values (64-bit), y = sat8(-128 + floor((512 * e + S) / (2 * S))):
the probability e / S in steps of 1/256, rounded half up. The output's parameters are fixed at
(1/256, -128), so that 0..1 fills the int8 range.
"""
from __future__ import annotations

import numpy as np

from .params import per_tensor, sat8

OUTPUT_SCALE = np.float32(1.0 / 256.0)
OUTPUT_ZERO_POINT = -128


def _check_table(exp_table: np.ndarray) -> np.ndarray:
    table = exp_table.astype(np.int64)
    # The row's maximum reads table[0], so S >= table[0] > 0: the division is always defined.
    if np.any(table < 0) or table[0] <= 0:
        raise ValueError("softmax: exp_table must hold non-negative values with exp_table[0] > 0 "
                         "(exp(-s_x * d) in Q16, as tables.softmax_exp_table builds it)")
    return table


def softmax(x, exp_table=None, *, qin, qout, axis):
    """INT8 softmax along axis with the exp_table input; output parameters (1/256, -128)."""
    per_tensor("softmax", "the input", qin[0])
    s_y, z_y = per_tensor("softmax", "the output", qout)
    if (s_y, z_y) != (OUTPUT_SCALE, OUTPUT_ZERO_POINT):
        raise ValueError(f"softmax: INT8 output parameters must be (1/256, -128), got "
                         f"({s_y}, {z_y})")
    if exp_table is None:
        raise ValueError("softmax: the INT8 form needs its exp_table input (int32[256])")
    table = _check_table(exp_table)
    x = x.astype(np.int64)
    e = table[np.max(x, axis=axis, keepdims=True) - x]
    total = np.sum(e, axis=axis, keepdims=True)
    return sat8(OUTPUT_ZERO_POINT + (2 * 256 * e + total) // (2 * total))


KERNELS = {"softmax": softmax}
