"""INT8 conv2d (incl. grouped and depthwise), fully_connected and matmul (docs/quantization.md).

Every one is an exact integer product: the accumulator `bias + sum (x - z_x) * w` is computed with
an int64 matmul (im2col for conv2d, as the float kernel does: one batched matmul over the groups, so
a depthwise conv needs no Python loop over its channels), checked to fit the int32 the C kernels
accumulate in, then requantized per output channel and clamped.
"""
from __future__ import annotations

import numpy as np

from ...ir.ops import conv_out_size
from ..window import pad_hw, windows
from .params import (check_int32, clamp_bounds, multipliers, per_tensor, requantize_to_int8,
                     weight_scales)


def _output(op, acc, s_x, s_w, qout, act_min, act_max):
    """Requantize acc[..., c] by m_c = (s_x * s_w[c]) / s_y (double) and apply the fused clamp."""
    s_y, z_y = per_tensor(op, "the output", qout)
    reals = (np.float64(s_x) * s_w.astype(np.float64)) / np.float64(s_y)
    m, shift = multipliers(op, reals)
    lo, hi = clamp_bounds(op, act_min, act_max, s_y, z_y)
    return requantize_to_int8(check_int32(op, acc), m, shift, z_y, lo, hi)


def conv2d(x, weight, bias=None, *, qin, qout, strides, dilations, pads, group, act_min,
           act_max):
    """INT8 2-D convolution: NHWC int8 x, OHWI int8 weight, optional int32 bias (O,)."""
    s_x, z_x = per_tensor("conv2d", "the input", qin[0])
    n, h, w, c = x.shape
    o, kh, kw, cg = weight.shape
    s_w = weight_scales("conv2d", qin[1], o)
    og = o // group
    pt, pl, pb, pr = pads
    oh = conv_out_size(h, kh, strides[0], dilations[0], pt, pb)
    ow = conv_out_size(w, kw, strides[1], dilations[1], pl, pr)
    # Padding (x - z_x) with 0 is padding x with z_x: a padded position contributes nothing.
    centered = pad_hw(x.astype(np.int64) - z_x, pt, pl, pb, pr, 0)
    view = windows(centered, (kh, kw), strides, dilations, (oh, ow))
    # (N, OH, OW, G, Cg, KH, KW) -> (G, N*OH*OW, KH*KW*Cg): the OHWI order of the weights' rows.
    patches = view.reshape(n, oh, ow, group, cg, kh, kw).transpose(3, 0, 1, 2, 5, 6, 4)
    patches = patches.reshape(group, n * oh * ow, kh * kw * cg)
    kernels = weight.astype(np.int64).reshape(group, og, kh * kw * cg).transpose(0, 2, 1)
    acc = np.matmul(patches, kernels)  # (G, N*OH*OW, Og)
    acc = acc.reshape(group, n, oh, ow, og).transpose(1, 2, 3, 0, 4).reshape(n, oh, ow, o)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return _output("conv2d", acc, s_x, s_w, qout, act_min, act_max)


def fully_connected(x, weight, bias=None, *, qin, qout, act_min, act_max):
    """INT8 y[..., n] = requantize(bias[n] + sum_k (x[..., k] - z_x) * w[n, k])."""
    s_x, z_x = per_tensor("fully_connected", "the input", qin[0])
    s_w = weight_scales("fully_connected", qin[1], weight.shape[0])
    acc = np.matmul(x.astype(np.int64) - z_x, weight.astype(np.int64).T)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return _output("fully_connected", acc, s_x, s_w, qout, act_min, act_max)


def matmul(a, b, *, qin, qout):
    """INT8 batched a @ b, both per tensor: requantize(sum_k (a - z_a) * (b - z_b))."""
    s_a, z_a = per_tensor("matmul", "input 'a'", qin[0])
    s_b, z_b = per_tensor("matmul", "input 'b'", qin[1])
    acc = np.matmul(a.astype(np.int64) - z_a, b.astype(np.int64) - z_b)
    return _output("matmul", acc, s_a, np.array([s_b], np.float32), qout, -np.inf, np.inf)


KERNELS = {"conv2d": conv2d, "fully_connected": fully_connected, "matmul": matmul}
