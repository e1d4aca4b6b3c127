"""ONNX op converters: one function per ONNX op, named after it, its attributes keyword defaults
with the spec's names (an input whose spec name clashes with an attribute gets a short other name).

A converter takes the import context (`ctx`, see onnx.ImportContext), its inputs as IR tensor names
(None when absent) and its attributes, emits IR nodes with `ctx.emit` and returns the IR tensor(s)
of its outputs. `ctx.emit` folds nodes whose inputs are all constants, so a converter never checks
for that itself. Anything outside what a converter handles is `ctx.fail(...)`, which raises
UnsupportedOpError naming the op, the node and the model.

Layout: the IR is NHWC for spatial ops. Each spatial op on an NCHW tensor becomes
transpose(0,2,3,1) -> op -> transpose(0,3,1,2); the layout pass cancels the transposes that meet.
Everything else stays in the model's own layout.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import onnx

from ..ir.ops import PAD_MODES, RESIZE_COORDS, RESIZE_MODES, RESIZE_NEAREST, broadcast_shapes
from .onnx_fold import (flatten_shape, ints, normalize_axis, reshape_target, slice_triples,
                        squeeze_shape, unsqueeze_shape)
from .onnx_qdq import fc_weight_quant

INF = math.inf
TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


# ---------------------------------------------------------------------------------------------
# Helpers.

def _spatial(ctx, op: str, x: str, extra=(), **attrs) -> str:
    """An NHWC IR op applied to an NCHW tensor: transpose in, op, transpose out."""
    t = ctx.emit("transpose", [x], "to_nhwc", perm=TO_NHWC)
    y = ctx.emit(op, [t, *extra], **attrs)
    return ctx.emit("transpose", [y], "to_nchw", perm=TO_NCHW)


def _require_4d(ctx, x: str, what: str) -> None:
    rank = len(ctx.shape(x))
    if rank != 4:
        ctx.fail(f"only 2-D {what} is supported (a 4-D NCHW input); this input has rank {rank}")


def _const(ctx, t: Optional[str], what: str) -> Optional[np.ndarray]:
    """The value of an input that must be a constant (None when the input is absent)."""
    if t is None:
        return None
    v = ctx.value(t)
    if v is None:
        ctx.fail(f"{what} must be a constant; here it is computed at run time")
    return v


def _pair(values, default: int, name: str) -> tuple[int, int]:
    v = tuple(int(i) for i in values) if values is not None else (default, default)
    if len(v) != 2:
        raise ValueError(f"{name} {v} should have 2 values (H, W)")
    return v


def _window_pads(ctx, auto_pad: str, size_hw, kernel, strides, dilations, pads) -> tuple:
    """IR pads (top, left, bottom, right) from ONNX auto_pad and pads ([h_begin, w_begin, h_end,
    w_end], the same order). SAME_* pads so that out = ceil(in / stride); odd totals put the extra
    pad at the end (UPPER) or the beginning (LOWER)."""
    if auto_pad == "NOTSET":
        p = tuple(int(v) for v in pads) if pads is not None else (0, 0, 0, 0)
        if len(p) != 4 or min(p) < 0:
            raise ValueError(f"pads {p} should be 4 non-negative values")
        return p
    if auto_pad == "VALID":
        return (0, 0, 0, 0)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        ctx.fail(f"auto_pad '{auto_pad}' is not supported (NOTSET, SAME_UPPER, SAME_LOWER, VALID)")
    begin, end = [], []
    for size, k, s, d in zip(size_hw, kernel, strides, dilations):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else big)
        end.append(big if auto_pad == "SAME_UPPER" else small)
    return (begin[0], begin[1], end[0], end[1])


def _reshape(ctx, x: str, shape, label: Optional[str] = None) -> str:
    shape = tuple(int(d) for d in shape)
    return x if ctx.shape(x) == shape else ctx.emit("reshape", [x], label, shape=shape)


# ---------------------------------------------------------------------------------------------
# Convolutions and linear layers.

def Conv(ctx, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
         pads=None, strides=None):
    _require_4d(ctx, x, "convolution")
    kernel = ctx.shape(w)[2:]
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        raise ValueError(f"kernel_shape {tuple(kernel_shape)} differs from the weight's {kernel}")
    strides, dilations = _pair(strides, 1, "strides"), _pair(dilations, 1, "dilations")
    p = _window_pads(ctx, auto_pad, ctx.shape(x)[2:], kernel, strides, dilations, pads)
    weight = ctx.emit("transpose", [w], "weight", perm=(0, 2, 3, 1))  # OIHW -> OHWI
    return _spatial(ctx, "conv2d", x, [weight, b], strides=strides, dilations=dilations, pads=p,
                    group=group)


def ConvTranspose(ctx, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1,
                  kernel_shape=None, output_padding=None, output_shape=None, pads=None,
                  strides=None):
    _require_4d(ctx, x, "transposed convolution")
    kernel = ctx.shape(w)[2:]
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        raise ValueError(f"kernel_shape {tuple(kernel_shape)} differs from the weight's {kernel}")
    strides, dilations = _pair(strides, 1, "strides"), _pair(dilations, 1, "dilations")
    out_pad = list(_pair(output_padding, 0, "output_padding"))
    size = ctx.shape(x)[2:]
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # The spec's total padding for a wanted output size; SAME_* want in * stride. A negative
        # total (an output past the full one) is extra output padding for an explicit output_shape;
        # for SAME_* onnxruntime stops at the full output instead (kernel < stride).
        target = [int(v) for v in output_shape[-2:]] if output_shape is not None else \
            [n * s for n, s in zip(size, strides)]
        begin, end = [], []
        for i in range(2):
            total = strides[i] * (size[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 \
                - target[i]
            if total < 0 and output_shape is not None:
                out_pad[i] -= total
            total = max(total, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
        p = (begin[0], begin[1], end[0], end[1])
    else:
        p = _window_pads(ctx, auto_pad, size, kernel, strides, dilations, pads)
    weight = ctx.emit("transpose", [w], "weight", perm=(0, 2, 3, 1))  # [Ci, Co/g, kH, kW] -> IHWO
    return _spatial(ctx, "conv_transpose2d", x, [weight, b], strides=strides, dilations=dilations,
                    pads=p, group=group, output_padding=tuple(out_pad))


def _add_c(ctx, y: str, c: Optional[str], beta: float) -> str:
    """y + beta * C, for a C that could not become a bias."""
    if c is None or beta == 0:
        return y
    cv = ctx.value(c)
    if cv is not None:
        c = ctx.const((cv * np.float32(beta)).astype(np.float32), "c")
    elif beta != 1:
        c = ctx.emit("mul", [c, ctx.const(np.float32(beta), "beta")], "beta")
    return ctx.emit("add", [y, c], "add_c")


def Gemm(ctx, a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    if len(ctx.shape(a)) != 2 or len(ctx.shape(b)) != 2:
        raise ValueError(f"Gemm wants 2-D A and B, got {ctx.shape(a)} and {ctx.shape(b)}")
    if transA:
        a = ctx.emit("transpose", [a], "transA", perm=(1, 0))
    bv = ctx.value(b)
    if bv is None:  # B computed at run time: a plain matmul
        if transB:
            b = ctx.emit("transpose", [b], "transB", perm=(1, 0))
        y = ctx.emit("matmul", [a, b])
        if alpha != 1:
            y = ctx.emit("mul", [y, ctx.const(np.float32(alpha), "alpha")], "alpha")
        return _add_c(ctx, y, c, beta)
    weight = (bv if transB else bv.T).astype(np.float32) * np.float32(alpha)  # [N, K]
    quant = fc_weight_quant(ctx.graph.tensors[b].quant, bv.shape, bool(transB), alpha)
    n = weight.shape[0]
    cv = ctx.value(c)
    # C becomes the bias when it varies along N only: shapes (), (1,), (N,), (1, N), (1, 1).
    along_n = cv is not None and cv.ndim <= 2 and cv.size in (1, n) and \
        (cv.ndim == 0 or cv.shape[-1] == cv.size)
    bias = None
    if along_n and beta != 0:
        bias = ctx.const(np.broadcast_to(cv.reshape(-1) * np.float32(beta), (n,)).astype(np.float32),
                         "bias")
    y = ctx.emit("fully_connected", [a, ctx.const(weight, "weight", quant), bias])
    return y if along_n else _add_c(ctx, y, c, beta)


def MatMul(ctx, a, b):
    sa, sb = ctx.shape(a), ctx.shape(b)
    if not sa or not sb:
        raise ValueError(f"MatMul of a scalar: {sa} @ {sb}")
    # 1-D operands per numpy: a [K] is [1, K], b [K] is [K, 1], and the added dim is dropped.
    a2 = (1,) + sa if len(sa) == 1 else sa
    b2 = sb + (1,) if len(sb) == 1 else sb
    if a2[-1] != b2[-2]:
        raise ValueError(f"MatMul shapes {sa} @ {sb} do not fit")
    out = broadcast_shapes(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    out = out[:-2] + out[-1:] if len(sa) == 1 else out
    out = out[:-1] if len(sb) == 1 else out
    bv = ctx.value(b)
    if bv is not None and bv.ndim <= 2 and ctx.value(a) is None:
        weight = bv.reshape(bv.shape[0], -1).T  # [N, K]
        quant = fc_weight_quant(ctx.graph.tensors[b].quant, bv.shape, False)
        y = ctx.emit("fully_connected", [_reshape(ctx, a, a2, "a_2d"),
                                         ctx.const(weight, "weight", quant)])
    else:
        y = ctx.emit("matmul", [_reshape(ctx, a, a2, "a_2d"), _reshape(ctx, b, b2, "b_2d")])
    return _reshape(ctx, y, out, "drop_1d")


def BatchNormalization(ctx, x, scale, bias, mean, var, *, epsilon=1e-5, momentum=0.9,
                       training_mode=0):
    if training_mode:
        ctx.fail("training_mode=1 is not supported; tinyedge runs inference (training_mode=0)")
    s, b, m, v = (_const(ctx, t, what).astype(np.float64) for t, what in
                  ((scale, "scale"), (bias, "B"), (mean, "input_mean"), (var, "input_var")))
    mul = s / np.sqrt(v + epsilon)
    add = b - m * mul
    # [C, 1, ...] broadcasts along axis 1 of an [N, C, ...] tensor; a later pass folds it into a conv.
    shape = (-1,) + (1,) * (len(ctx.shape(x)) - 2)
    y = ctx.emit("mul", [x, ctx.const(mul.astype(np.float32).reshape(shape), "scale")], "scale")
    return ctx.emit("add", [y, ctx.const(add.astype(np.float32).reshape(shape), "shift")])


# ---------------------------------------------------------------------------------------------
# Activations and elementwise arithmetic.

def Relu(ctx, x):
    return ctx.emit("clip", [x], min=0.0, max=INF)


def Clip(ctx, x, lo=None, hi=None, *, min=None, max=None):
    if ctx.opset < 11:  # bounds were attributes before opset 11, inputs since
        lo_v, hi_v = min, max
    else:
        lo_v, hi_v = (_const(ctx, t, f"Clip's {n} input") for t, n in ((lo, "min"), (hi, "max")))
    return ctx.emit("clip", [x], min=-INF if lo_v is None else float(np.asarray(lo_v).reshape(-1)[0]),
                    max=INF if hi_v is None else float(np.asarray(hi_v).reshape(-1)[0]))


def LeakyRelu(ctx, x, *, alpha=0.01):
    return ctx.emit("leaky_relu", [x], alpha=alpha)


def PRelu(ctx, x, slope):
    sx, ss = ctx.shape(x), ctx.shape(slope)
    if broadcast_shapes(sx, ss) != sx:  # unidirectional: the slope broadcasts to x, never grows it
        raise ValueError(f"PRelu slope {ss} does not broadcast to the input {sx}")
    if len(ss) > len(sx):
        slope = _reshape(ctx, slope, ss[len(ss) - len(sx):], "slope")
    return ctx.emit("prelu", [x, slope])


def Sigmoid(ctx, x):
    return ctx.emit("sigmoid", [x])


def Tanh(ctx, x):
    return ctx.emit("tanh", [x])


def HardSigmoid(ctx, x, *, alpha=0.2, beta=0.5):
    return ctx.emit("hard_sigmoid", [x], alpha=alpha, beta=beta)


def HardSwish(ctx, x):
    return ctx.emit("hard_swish", [x])


def Add(ctx, a, b):
    return ctx.emit("add", [a, b])


def Sub(ctx, a, b):
    return ctx.emit("sub", [a, b])


def Mul(ctx, a, b):
    return ctx.emit("mul", [a, b])


def Div(ctx, a, b):
    return ctx.emit("div", [a, b])


def Sum(ctx, *xs):
    y = xs[0]
    for k, x in enumerate(xs[1:], 1):
        y = ctx.emit("add", [y, x], None if k == len(xs) - 1 else f"add{k}")
    return y


# ---------------------------------------------------------------------------------------------
# Pooling and reductions.

def MaxPool(ctx, x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape,
            pads=None, storage_order=0, strides=None):
    # storage_order only orders the Indices output, which tinyedge does not produce (the importer
    # refuses a model that reads it), so both values give the same Y.
    _require_4d(ctx, x, "max pooling")
    kernel = _pair(kernel_shape, 1, "kernel_shape")
    strides, dilations = _pair(strides, 1, "strides"), _pair(dilations, 1, "dilations")
    p = _window_pads(ctx, auto_pad, ctx.shape(x)[2:], kernel, strides, dilations, pads)
    return _spatial(ctx, "max_pool2d", x, kernel=kernel, strides=strides, pads=p,
                    ceil_mode=ceil_mode, dilations=dilations)


def AveragePool(ctx, x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                kernel_shape, pads=None, strides=None):
    _require_4d(ctx, x, "average pooling")
    if dilations is not None and any(d != 1 for d in dilations):
        ctx.fail(f"dilations {tuple(dilations)} are not supported for AveragePool (only 1, 1)")
    kernel = _pair(kernel_shape, 1, "kernel_shape")
    strides = _pair(strides, 1, "strides")
    p = _window_pads(ctx, auto_pad, ctx.shape(x)[2:], kernel, strides, (1, 1), pads)
    return _spatial(ctx, "avg_pool2d", x, kernel=kernel, strides=strides, pads=p,
                    ceil_mode=ceil_mode, count_include_pad=count_include_pad)


def GlobalAveragePool(ctx, x):
    rank = len(ctx.shape(x))
    if rank < 3:
        raise ValueError(f"GlobalAveragePool wants an [N, C, ...] input, got rank {rank}")
    return ctx.emit("mean", [x], axes=tuple(range(2, rank)), keepdims=1)


def ReduceMean(ctx, data, axes_in=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    if ctx.opset >= 18:  # axes moved from an attribute to an input in opset 18
        axes = ints(_const(ctx, axes_in, "ReduceMean's axes input"))
    rank = len(ctx.shape(data))
    if not axes:
        if noop_with_empty_axes:
            return data
        axes = range(rank)
    axes = tuple(sorted({normalize_axis(int(a), rank) for a in axes}))
    return ctx.emit("mean", [data], axes=axes, keepdims=keepdims)


# ---------------------------------------------------------------------------------------------
# Shapes and data movement.

def Flatten(ctx, x, *, axis=1):
    return _reshape(ctx, x, flatten_shape(ctx.shape(x), axis))


def Reshape(ctx, data, shape, *, allowzero=0):
    target = ints(_const(ctx, shape, "Reshape's shape input"))
    return _reshape(ctx, data, reshape_target(ctx.shape(data), target, allowzero))


def Squeeze(ctx, data, axes_in=None, *, axes=None):
    if ctx.opset >= 13:  # axes moved from an attribute to an input in opset 13
        axes = ints(_const(ctx, axes_in, "Squeeze's axes input"))
    return _reshape(ctx, data, squeeze_shape(ctx.shape(data), axes))


def Unsqueeze(ctx, data, axes_in=None, *, axes=None):
    if ctx.opset >= 13:
        axes = ints(_const(ctx, axes_in, "Unsqueeze's axes input"))
    if axes is None:
        raise ValueError("Unsqueeze needs axes")
    return _reshape(ctx, data, unsqueeze_shape(ctx.shape(data), axes))


def Transpose(ctx, x, *, perm=None):
    rank = len(ctx.shape(x))
    perm = tuple(range(rank))[::-1] if perm is None else tuple(int(p) for p in perm)
    if perm == tuple(range(rank)):
        return x
    return ctx.emit("transpose", [x], perm=perm)


def Concat(ctx, *xs, axis):
    if len(xs) == 1:
        return xs[0]
    return ctx.emit("concat", list(xs), axis=normalize_axis(axis, len(ctx.shape(xs[0]))))


def Pad(ctx, x, pads_in=None, value_in=None, axes_in=None, *, mode="constant", pads=None,
        value=0.0):
    if mode not in PAD_MODES:
        ctx.fail(f"mode '{mode}' is not supported ({', '.join(PAD_MODES)})")
    shape = ctx.shape(x)
    rank = len(shape)
    if ctx.opset >= 11:  # pads and value moved to inputs in opset 11; axes arrived in 18
        pads = ints(_const(ctx, pads_in, "Pad's pads input"))
        v = _const(ctx, value_in, "Pad's constant_value input")
        value = 0.0 if v is None or v.size == 0 else float(v.reshape(-1)[0])
        axes = ints(_const(ctx, axes_in, "Pad's axes input"))
        if axes is not None:
            axes = [normalize_axis(a, rank) for a in axes]
            full = [0] * (2 * rank)
            for j, a in enumerate(axes):
                full[a], full[a + rank] = pads[j], pads[j + len(axes)]
            pads = full
    pads = [int(p) for p in pads]
    if len(pads) != 2 * rank:
        raise ValueError(f"Pad has {len(pads)} pads for a rank-{rank} input")
    if any(p < 0 for p in pads):  # negative pads crop: slice first, then pad what remains
        crop = [(max(-pads[i], 0), shape[i] - max(-pads[i + rank], 0), 1) for i in range(rank)]
        if any(s >= e for s, e, _ in crop):
            raise ValueError(f"Pad's negative pads {tuple(pads)} remove all of {shape}")
        x = ctx.emit("slice", [x], "crop", starts=[c[0] for c in crop], ends=[c[1] for c in crop],
                     steps=[1] * rank)
        pads = [max(p, 0) for p in pads]
    if not any(pads):
        return x
    return ctx.emit("pad", [x], pads=pads, mode=PAD_MODES.index(mode), value=value)


def Slice(ctx, data, starts_in=None, ends_in=None, axes_in=None, steps_in=None, *, starts=None,
          ends=None, axes=None):
    steps = None
    if ctx.opset >= 10:  # starts/ends/axes were attributes before opset 10; steps arrived then
        starts, ends, axes, steps = (ints(_const(ctx, t, f"Slice's {n} input")) for t, n in (
            (starts_in, "starts"), (ends_in, "ends"), (axes_in, "axes"), (steps_in, "steps")))
    if starts is None or ends is None:
        raise ValueError("Slice needs starts and ends")
    shape = ctx.shape(data)
    triples = slice_triples(shape, starts, ends, axes, steps)
    if any(e == s for s, e, _ in triples):
        ctx.fail(f"this Slice of {shape} is empty; tensors with a zero-size dim are not supported")
    if triples == [(0, d, 1) for d in shape]:
        return data
    return ctx.emit("slice", [data], starts=[t[0] for t in triples], ends=[t[1] for t in triples],
                    steps=[t[2] for t in triples])


def Softmax(ctx, x, *, axis=None):
    shape = ctx.shape(x)
    rank = len(shape)
    axis = normalize_axis((1 if ctx.opset < 13 else -1) if axis is None else axis, rank)
    if ctx.opset >= 13 or axis == rank - 1:
        return ctx.emit("softmax", [x], axis=axis)
    # Before opset 13 Softmax coerced the input to 2-D at axis: one softmax over all trailing dims.
    flat = _reshape(ctx, x, flatten_shape(shape, axis), "to_2d")
    y = ctx.emit("softmax", [flat], axis=-1)
    return _reshape(ctx, y, shape, "from_2d")


def LRN(ctx, x, *, alpha=1e-4, beta=0.75, bias=1.0, size):
    _require_4d(ctx, x, "LRN")
    return _spatial(ctx, "lrn", x, size=size, alpha=alpha, beta=beta, bias=bias)


def Dropout(ctx, x, ratio_in=None, training_mode=None, *, ratio=0.5, seed=None):
    train = _const(ctx, training_mode, "Dropout's training_mode input")
    if train is not None and bool(train.reshape(-1)[0]):
        ctx.fail("training_mode=true is not supported; tinyedge runs inference")
    return x  # inference: the identity


def Identity(ctx, x):
    return x


def Cast(ctx, x, *, to, saturate=1):
    if to != onnx.TensorProto.FLOAT:
        ctx.fail(f"Cast of a run-time tensor to {onnx.TensorProto.DataType.Name(to)} is not "
                 "supported (activations are float32; casts of constants are folded)")
    return x


def Shape(ctx, data, *, start=0, end=None):
    return ctx.const(np.array(ctx.shape(data)[start:end], np.int64), "shape")


def Size(ctx, data):
    return ctx.const(np.array(math.prod(ctx.shape(data)), np.int64), "size")


# ---------------------------------------------------------------------------------------------
# Resize and Upsample (only H and W of an NCHW tensor may change).

def _resize(ctx, x, scales, sizes, mode: str, coord: str, nearest: str) -> str:
    _require_4d(ctx, x, "resizing")
    shape = ctx.shape(x)
    if mode not in RESIZE_MODES:
        ctx.fail(f"mode '{mode}' is not supported ({', '.join(RESIZE_MODES)})")
    if coord not in RESIZE_COORDS:
        ctx.fail(f"coordinate_transformation_mode '{coord}' is not supported "
                 f"({', '.join(RESIZE_COORDS)})")
    if nearest not in RESIZE_NEAREST:
        ctx.fail(f"nearest_mode '{nearest}' is not supported ({', '.join(RESIZE_NEAREST)})")
    dims = np.array(shape, np.float32)
    if sizes is not None:
        out = [int(v) for v in sizes]
        scale = np.array(out, np.float32) / dims  # what onnxruntime derives from sizes
    else:
        scale = np.asarray(scales, np.float32)
        out = [int(v) for v in np.floor(dims * scale)]  # float32 product, as onnxruntime computes
    if out[:2] != list(shape[:2]) or not np.all(scale[:2] == 1):
        ctx.fail(f"only H and W may be resized; this one maps {shape} to {tuple(out)}")
    if min(out) < 1:
        raise ValueError(f"Resize output {tuple(out)} is empty")
    return _spatial(ctx, "resize", x, size=out[2:], scales=[float(s) for s in scale[2:]],
                    mode=RESIZE_MODES.index(mode), coord_mode=RESIZE_COORDS.index(coord),
                    nearest_mode=RESIZE_NEAREST.index(nearest))


def _resize_legacy(ctx, x, scales, mode: str) -> str:
    """Upsample (opset 9) and Resize-10: asymmetric coordinates; onnxruntime rounds a nearest
    source index down when upsampling and up when downsampling along an axis."""
    scale = np.asarray(_const(ctx, scales, "the scales input"), np.float32).reshape(-1)
    if len(scale) != len(ctx.shape(x)):
        raise ValueError(f"{len(scale)} scales for a rank-{len(ctx.shape(x))} input")
    down, up = bool(np.any(scale[2:] < 1)), bool(np.any(scale[2:] > 1))
    if mode == "nearest" and down and up:
        ctx.fail(f"nearest with scales {tuple(scale)} (up along one axis, down along the other) is "
                 "not supported")
    return _resize(ctx, x, scale, None, mode, "asymmetric", "ceil" if down else "floor")


def Resize(ctx, x, roi=None, scales=None, sizes=None, *, mode="nearest",
           coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_floor",
           cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, antialias=0,
           axes=None, keep_aspect_ratio_policy="stretch"):
    if ctx.opset < 11:  # Resize-10 takes (X, scales)
        return _resize_legacy(ctx, x, roi, mode)
    if antialias:
        ctx.fail("antialias=1 is not supported")
    if keep_aspect_ratio_policy != "stretch":
        ctx.fail(f"keep_aspect_ratio_policy '{keep_aspect_ratio_policy}' is not supported (stretch)")
    # roi only matters for tf_crop_and_resize, extrapolation_value too; cubic_coeff_a and
    # exclude_outside only for cubic: all three are refused below through their modes.
    sv, zv = (_const(ctx, t, f"Resize's {n} input") for t, n in ((scales, "scales"), (sizes, "sizes")))
    sv = None if sv is None or sv.size == 0 else sv.reshape(-1)  # opsets 11-12 pass an empty one
    zv = None if zv is None or zv.size == 0 else zv.reshape(-1)
    if (sv is None) == (zv is None):
        raise ValueError("Resize needs exactly one of scales and sizes")
    rank = len(ctx.shape(x))
    if axes is not None:  # opset 18: scales/sizes cover only these axes
        full = np.array(ctx.shape(x), np.float64) if zv is not None else np.ones(rank)
        for j, a in enumerate(axes):
            full[normalize_axis(a, rank)] = (zv if zv is not None else sv)[j]
        sv, zv = (None, full) if zv is not None else (full, None)
    return _resize(ctx, x, sv, zv, mode, coordinate_transformation_mode, nearest_mode)


def Upsample(ctx, x, scales=None, *, mode="nearest"):
    return _resize_legacy(ctx, x, scales, mode)


CONVERTERS = {f.__name__: f for f in (
    Conv, ConvTranspose, Gemm, MatMul, BatchNormalization, Relu, Clip, LeakyRelu, PRelu, Sigmoid,
    Tanh, HardSigmoid, HardSwish, Add, Sub, Mul, Div, Sum, MaxPool, AveragePool, GlobalAveragePool,
    ReduceMean, Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Concat, Pad, Slice, Softmax, LRN,
    Dropout, Identity, Cast, Shape, Size, Resize, Upsample)}
