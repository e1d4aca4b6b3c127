"""The numpy INT8 reference: the golden model of every INT8 op of docs/quantization.md.

The C INT8 kernels must equal it bit for bit. Integer ops compute with int64 intermediates, check
that accumulators fit the int32 of the C kernels and requantize with the one rounding rule of
tinyedge/quantize/fixed_point.py. One file per family: conv (conv2d, fully_connected, matmul),
elementwise (add, mul, lut, quantize, dequantize), pool (max/avg pool, mean), movement (reshape,
transpose, slice, pad, concat), resize, softmax; tables builds the constant tables of lut and
softmax. The executor (tinyedge/reference/executor.py) routes a node here when `is_int8` says so
(a movement op only when it is given quantization parameters).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ...ir import OPS, QuantParams
from . import conv, elementwise, movement, pool, resize, softmax
from .tables import lut_table, softmax_exp_table

KERNELS: dict = {**conv.KERNELS, **elementwise.KERNELS, **pool.KERNELS, **movement.KERNELS,
                 **resize.KERNELS, **softmax.KERNELS}

# Ops that exist for INT8 models only: they run here whatever their input dtype.
INT8_ONLY_OPS = frozenset({"quantize", "dequantize", "lut"})

# The dtype of each input by op-table input name; every other input is int8.
_INPUT_DTYPES = {("quantize", "x"): "float32", ("conv2d", "bias"): "int32",
                 ("fully_connected", "bias"): "int32", ("softmax", "exp_table"): "int32"}


def input_dtype(op: str, index: int) -> str:
    """The dtype the INT8 form of op wants for its input number index."""
    names = OPS[op].inputs
    return _INPUT_DTYPES.get((op, names[min(index, len(names) - 1)]), "int8")


def output_dtype(op: str) -> str:
    """The dtype of the INT8 form's output: int8, except dequantize's float32."""
    return "float32" if op == "dequantize" else "int8"


def is_int8(op: str, inputs: Sequence[Optional[np.ndarray]]) -> bool:
    """Whether a node runs in INT8: quantize, dequantize and lut always; an op with an INT8 form
    (OpDef.int8) when its first input is int8."""
    if op in INT8_ONLY_OPS:
        return True
    return OPS[op].int8 and bool(inputs) and inputs[0] is not None and \
        np.asarray(inputs[0]).dtype == np.int8


def evaluate_int8(op: str, arrays: list[np.ndarray], attrs: dict,
                  input_quant: Sequence[Optional[QuantParams]],
                  output_quant: Optional[QuantParams]) -> np.ndarray:
    """Run the INT8 form of op on present inputs (dtypes checked here) with filled attrs.

    input_quant holds one QuantParams (or None) per input, output_quant the output's."""
    if op not in KERNELS:
        raise ValueError(f"{op} has no INT8 form; INT8 ops: {', '.join(sorted(KERNELS))}")
    for i, a in enumerate(arrays):
        want = input_dtype(op, i)
        if a.dtype != np.dtype(want):
            name = OPS[op].inputs[min(i, len(OPS[op].inputs) - 1)]
            raise ValueError(f"{op}: input '{name}' has dtype {a.dtype}; the INT8 form wants "
                             f"{want}")
    quant = list(input_quant) + [None] * (len(arrays) - len(input_quant))
    return KERNELS[op](*arrays, qin=quant, qout=output_quant, **attrs)


__all__ = ["KERNELS", "INT8_ONLY_OPS", "evaluate_int8", "input_dtype", "is_int8", "lut_table",
           "output_dtype", "softmax_exp_table"]
