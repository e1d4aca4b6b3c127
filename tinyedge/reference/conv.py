"""conv2d and conv_transpose2d on NHWC activations, in float32.

conv2d is im2col per group: the windows of the padded input (a strided view) are gathered into
(group, positions, KH*KW*C/group) patches and multiplied by the (group, KH*KW*C/group, O/group)
weights in one batched matmul. The same path serves ordinary (group 1), grouped and depthwise
(group == C) convolutions, with no Python loop over channels.

conv_transpose2d is the scatter form of ONNX ConvTranspose: each input pixel times the kernel is a
(KH, KW, O) patch added into the output at (h*stride - pad_top + kh*dilation, ...). One batched
matmul makes every patch; a loop over the KH*KW taps adds them into the uncropped output, which is
then cropped by the pads.
"""
from __future__ import annotations

import numpy as np

from ..ir.ops import conv_out_size
from .fused import clamp
from .window import pad_hw, windows


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
           strides, dilations, pads, group, act_min, act_max) -> np.ndarray:
    """2-D convolution: NHWC x, OHWI weight (I = C/group), optional bias (O,), fused clamp."""
    n, h, w, c = x.shape
    o, kh, kw, cg = weight.shape
    og = o // group
    pt, pl, pb, pr = pads
    oh = conv_out_size(h, kh, strides[0], dilations[0], pt, pb)
    ow = conv_out_size(w, kw, strides[1], dilations[1], pl, pr)
    view = windows(pad_hw(x, pt, pl, pb, pr), (kh, kw), strides, dilations, (oh, ow))
    # (N, OH, OW, G, Cg, KH, KW) -> (G, N*OH*OW, KH*KW*Cg): the OHWI order of the weights' rows.
    patches = view.reshape(n, oh, ow, group, cg, kh, kw).transpose(3, 0, 1, 2, 5, 6, 4)
    patches = patches.reshape(group, n * oh * ow, kh * kw * cg)
    kernels = weight.reshape(group, og, kh * kw * cg).transpose(0, 2, 1)
    y = np.matmul(patches, kernels)  # (G, N*OH*OW, Og)
    y = y.reshape(group, n, oh, ow, og).transpose(1, 2, 3, 0, 4).reshape(n, oh, ow, o)
    if bias is not None:
        y = y + bias
    return clamp(y, act_min, act_max)


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
                     strides, dilations, pads, group, output_padding, act_min,
                     act_max) -> np.ndarray:
    """Transposed 2-D convolution (ONNX ConvTranspose): NHWC x, IHWO weight (O = out/group)."""
    n, h, w, c = x.shape
    _, kh, kw, og = weight.shape
    cg = c // group
    (sh, sw), (dh, dw) = strides, dilations
    pt, pl, pb, pr = pads
    oh = (h - 1) * sh - pt - pb + dh * (kh - 1) + output_padding[0] + 1
    ow = (w - 1) * sw - pl - pr + dw * (kw - 1) + output_padding[1] + 1
    # (G, N*H*W, Cg) @ (G, Cg, KH*KW*Og): every input pixel's contribution to every tap.
    rows = x.reshape(n * h * w, group, cg).transpose(1, 0, 2)
    kernels = weight.reshape(group, cg, kh * kw * og)
    cols = np.matmul(rows, kernels).reshape(group, n, h, w, kh, kw, og)
    cols = cols.transpose(1, 2, 3, 4, 5, 0, 6).reshape(n, h, w, kh, kw, group * og)
    # The uncropped output starts at -pad_top; output_padding may reach beyond its end.
    full_h = max((h - 1) * sh + (kh - 1) * dh + 1, pt + oh)
    full_w = max((w - 1) * sw + (kw - 1) * dw + 1, pl + ow)
    full = np.zeros((n, full_h, full_w, group * og), np.float32)
    for i in range(kh):
        for j in range(kw):
            full[:, i * dh : i * dh + (h - 1) * sh + 1 : sh,
                 j * dw : j * dw + (w - 1) * sw + 1 : sw] += cols[:, :, :, i, j]
    y = full[:, pt : pt + oh, pl : pl + ow]
    if bias is not None:
        y = y + bias
    return clamp(y, act_min, act_max)


KERNELS = {"conv2d": conv2d, "conv_transpose2d": conv_transpose2d}
