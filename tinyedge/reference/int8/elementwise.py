"""INT8 add and mul (broadcasting as the float ops), lut, and the graph borders quantize and
dequantize (docs/quantization.md).

add is TFLite's: both inputs are brought to a common scale t = 2 * max(s_a, s_b) with 20 bits of
headroom ((a - z_a) * 2^20 requantized by s_a / t), summed, and the sum requantized by
t / (2^20 * s_y). mul requantizes the product of the centered inputs once.
"""
from __future__ import annotations

import numpy as np

from ...quantize.fixed_point import dequantize_value, quantize_value, requantize
from .params import clamp_bounds, multiplier, per_tensor, requantize_to_int8

ADD_LEFT_SHIFT = 20  # TFLite's headroom for int8 add: |a - z_a| * 2^20 < 2^28 fits int32


def add(a, b, *, qin, qout, act_min, act_max):
    """INT8 a + b with broadcasting and a fused clamp."""
    s_a, z_a = per_tensor("add", "input 'a'", qin[0])
    s_b, z_b = per_tensor("add", "input 'b'", qin[1])
    s_y, z_y = per_tensor("add", "the output", qout)
    t = 2.0 * max(float(s_a), float(s_b))
    m_a, shift_a = multiplier("add", float(s_a) / t)
    m_b, shift_b = multiplier("add", float(s_b) / t)
    m_y, shift_y = multiplier("add", t / (2.0**ADD_LEFT_SHIFT * float(s_y)))
    lo, hi = clamp_bounds("add", act_min, act_max, s_y, z_y)
    a1 = requantize((a.astype(np.int64) - z_a) << ADD_LEFT_SHIFT, m_a, shift_a)
    b1 = requantize((b.astype(np.int64) - z_b) << ADD_LEFT_SHIFT, m_b, shift_b)
    return requantize_to_int8(a1 + b1, m_y, shift_y, z_y, lo, hi)


def mul(a, b, *, qin, qout, act_min, act_max):
    """INT8 a * b with broadcasting and a fused clamp: m = (s_a * s_b) / s_y."""
    s_a, z_a = per_tensor("mul", "input 'a'", qin[0])
    s_b, z_b = per_tensor("mul", "input 'b'", qin[1])
    s_y, z_y = per_tensor("mul", "the output", qout)
    m, shift = multiplier("mul", (float(s_a) * float(s_b)) / float(s_y))
    lo, hi = clamp_bounds("mul", act_min, act_max, s_y, z_y)
    product = (a.astype(np.int64) - z_a) * (b.astype(np.int64) - z_b)
    return requantize_to_int8(product, m, shift, z_y, lo, hi)


def lut(x, table, *, qin, qout):
    """y = table[x + 128]: the table (built with the input's and output's parameters) is the op."""
    per_tensor("lut", "the input", qin[0])
    per_tensor("lut", "the output", qout)
    return table[x.astype(np.int64) + 128]


def quantize(x, *, qin, qout):
    """float32 -> int8 with the output's parameters: clamp(rint(x / s) + z), ties to even."""
    s_y, z_y = per_tensor("quantize", "the output", qout)
    return quantize_value(x, s_y, z_y).astype(np.int8)


def dequantize(x, *, qin, qout):
    """int8 -> float32 with the input's parameters: s * (float)(x - z)."""
    s_x, z_x = per_tensor("dequantize", "the input", qin[0])
    return dequantize_value(x, s_x, z_x)


KERNELS = {"add": add, "mul": mul, "lut": lut, "quantize": quantize, "dequantize": dequantize}
