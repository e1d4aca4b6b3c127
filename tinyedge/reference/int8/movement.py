"""INT8 data movement: reshape, transpose, slice, pad and concat (docs/quantization.md).

The first four keep the input's parameters and move int8 values with the float kernels
(tinyedge/reference/movement.py, dtype-agnostic); pad's constant is the pad value quantized with
them. concat copies an input whose parameters equal the output's and rescales any other one.
"""
from __future__ import annotations

import numpy as np

from ...quantize.fixed_point import quantize_value
from .. import movement as float_movement
from .params import multiplier, per_tensor, requantize_to_int8, same_params


def reshape(x, *, qin, qout, shape):
    """Same int8 data, new shape; (s_y, z_y) = (s_x, z_x)."""
    same_params("reshape", qin[0], qout)
    return float_movement.reshape(x, shape=shape)


def transpose(x, *, qin, qout, perm):
    """Permuted axes; (s_y, z_y) = (s_x, z_x)."""
    same_params("transpose", qin[0], qout)
    return float_movement.transpose(x, perm=perm)


def slice_(x, *, qin, qout, starts, ends, steps):
    """x[starts:ends:steps]; (s_y, z_y) = (s_x, z_x)."""
    same_params("slice", qin[0], qout)
    return float_movement.slice_(x, starts=starts, ends=ends, steps=steps)


def pad(x, *, qin, qout, pads, mode, value):
    """Pad with the float op's rules; constant mode pads with quantize_value(value, s_x, z_x)
    (a NaN value pads with z_x, as quantize_value rules)."""
    s, z = same_params("pad", qin[0], qout)
    q = int(quantize_value(value, s, z))
    return float_movement.pad(x, pads=pads, mode=mode, value=q)


def concat(*xs, qin, qout, axis):
    """Join along axis; an input with other parameters than the output's is requantized by
    m = s_x / s_y: y = sat8(requantize(x - z_x, M, shift) + z_y)."""
    s_y, z_y = per_tensor("concat", "the output", qout)
    parts = []
    for i, (x, q) in enumerate(zip(xs, qin)):
        s_x, z_x = per_tensor("concat", f"input {i}", q)
        if (s_x, z_x) == (s_y, z_y):
            parts.append(x)
            continue
        m, shift = multiplier("concat", float(s_x) / float(s_y))
        parts.append(requantize_to_int8(x.astype(np.int64) - z_x, m, shift, z_y))
    return np.concatenate(parts, axis=axis)


KERNELS = {"reshape": reshape, "transpose": transpose, "slice": slice_, "pad": pad,
           "concat": concat}
