"""The constant tables of INT8 softmax and lut, computed at build time (docs/quantization.md).

They are the only quantization data stored besides scales: the quantizer builds them with these
functions and the reference and C kernels only index them.
"""
from __future__ import annotations

import numpy as np

from ...ir.ops import fill_attrs
from ...quantize.fixed_point import quantize_value

EXP_TABLE_BITS = 16  # exp_table entries are exp(-s_x * d) in Q16

# The activations an INT8 model runs as a lut (docs/quantization.md).
LUT_OPS = ("sigmoid", "tanh", "hard_sigmoid", "hard_swish", "leaky_relu")


def softmax_exp_table(input_scale: float) -> np.ndarray:
    """exp_table[d] = rint(exp(-s_x * d) * 2^16) for d in 0..255, in float64, as int32."""
    d = np.arange(256, dtype=np.float64)
    exp = np.exp(-float(np.float32(input_scale)) * d)
    return np.rint(exp * 2.0**EXP_TABLE_BITS).astype(np.int32)


def _activation(op: str, attrs: dict):
    """The float64 function of an activation that INT8 models run as a lut."""
    if op not in LUT_OPS:
        raise ValueError(f"lut: no table for op '{op}'; supported: {', '.join(LUT_OPS)}")
    attrs = fill_attrs(op, attrs)
    # Attributes are float32 in the IR's file and in the float kernels.
    alpha = float(np.float32(attrs.get("alpha", 0.0)))
    beta = float(np.float32(attrs.get("beta", 0.0)))
    functions = {
        "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
        "tanh": np.tanh,
        "hard_sigmoid": lambda x: np.clip(alpha * x + beta, 0.0, 1.0),
        "hard_swish": lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
        "leaky_relu": lambda x: np.where(x >= 0, x, alpha * x),
    }
    return functions[op]


def lut_table(op: str, attrs: dict, input_params: tuple[float, int],
              output_params: tuple[float, int]) -> np.ndarray:
    """table[q + 128] = quantize_value(f(s_x * (q - z_x)), s_y, z_y) for q in -128..127, int8.

    f (op with attrs; absent ones take the op table's defaults) runs in float64; its result is
    rounded to float32 before quantize_value, which computes in float32."""
    (s_x, z_x), (s_y, z_y) = input_params, output_params
    q = np.arange(-128, 128, dtype=np.float64)
    with np.errstate(over="ignore"):  # exp(-x) of a very negative x is inf: sigmoid gives 0
        real = _activation(op, attrs)(float(np.float32(s_x)) * (q - z_x))
    return quantize_value(real.astype(np.float32), s_y, z_y).astype(np.int8)
