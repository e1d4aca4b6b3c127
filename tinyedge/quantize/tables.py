"""The tables and fixed output parameters of INT8 `lut` and `softmax` (docs/quantization.md).

A `lut` replaces an elementwise activation by its value at each of the 256 int8 inputs:
`table[q + 128] = quantize_value(f(s_x * (q - z_x)), s_y, z_y)`; INT8 softmax reads
`exp_table[d] = rint(exp(-s_x * d) * 2^16)`. The table formulas live once, beside the INT8
reference that indexes them (tinyedge/reference/int8/tables.py); this module adds the quantizer's
side: which ops become a lut and which output parameters an op fixes instead of calibrating.
"""
from __future__ import annotations

from typing import Optional

from ..reference.int8.tables import LUT_OPS, lut_table, softmax_exp_table

# Output parameters fixed by the op's range rather than calibrated (TFLite's choices): sigmoid's
# and softmax's [0, 1) use all 256 levels, tanh's [-1, 1) is symmetric around 0.
SOFTMAX_OUTPUT = (1.0 / 256.0, -128)
FIXED_LUT_OUTPUT = {"sigmoid": (1.0 / 256.0, -128), "tanh": (1.0 / 128.0, 0)}


def fixed_output_params(op: str) -> Optional[tuple[float, int]]:
    """The (scale, zero_point) an INT8 op's output must have, or None when it is calibrated."""
    if op == "softmax":
        return SOFTMAX_OUTPUT
    return FIXED_LUT_OUTPUT.get(op)


__all__ = ["LUT_OPS", "SOFTMAX_OUTPUT", "FIXED_LUT_OUTPUT", "fixed_output_params", "lut_table",
           "softmax_exp_table"]
