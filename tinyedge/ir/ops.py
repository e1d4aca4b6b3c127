"""The op table: the single source of truth for tinyedge's op vocabulary.

Each IR op is declared once here with its opcode (append only, never renumber: opcodes are stored in
.tem files), its inputs, its attributes with their kinds and defaults, and its shape function. The
file format's parameter blobs, the C runtime's generated schema header (`runtime_c/src/ops.gen.h`),
`docs/ops.md` and the CLI's op list are all derived from this table.

Layout: every 4-D activation inside the IR is NHWC. Spatial ops (conv2d, pools, resize, lrn) read and
write NHWC; the ONNX frontend inserts transposes at the model's NCHW boundary and the layout pass
cancels the ones that meet.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

INF = float("inf")


@dataclass(frozen=True)
class Attr:
    """One attribute of an op: `kind` is 'int' (int32), 'float' (float32), 'ints' or 'floats'."""

    name: str
    kind: str
    default: object = None  # None means required


@dataclass(frozen=True)
class OpDef:
    """An IR op: name, opcode, inputs (name list; `variadic` repeats the last one), attrs, shape fn."""

    name: str
    opcode: int
    inputs: tuple[str, ...]
    attrs: tuple[Attr, ...]
    shape: Callable[..., list[tuple[int, ...]]]
    doc: str
    variadic: bool = False
    optional_inputs: int = 0  # how many trailing inputs may be absent
    n_outputs: int = 1
    groups: frozenset = field(default_factory=frozenset)
    int8: bool = False  # has an INT8 form (docs/quantization.md states its integer semantics)

    @property
    def min_inputs(self) -> int:
        return len(self.inputs) - self.optional_inputs

    @property
    def max_inputs(self) -> int:
        return 255 if self.variadic else len(self.inputs)


class ShapeError(ValueError):
    """An op's inputs or attributes do not fit together."""


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ShapeError(msg)


# ---------------------------------------------------------------------------------------------
# Shape functions. Each takes the input shapes (tuples) and the attrs (dict with defaults filled)
# and returns the list of output shapes, raising ShapeError when the inputs do not fit.


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """Numpy broadcasting of static shapes."""
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError as e:
        raise ShapeError(f"shapes {list(map(tuple, shapes))} do not broadcast") from e


def conv_out_size(size: int, k: int, stride: int, dilation: int, pad_begin: int, pad_end: int,
                  ceil_mode: bool = False) -> int:
    """Output length of a sliding window along one axis (conv and pools share this formula)."""
    span = (k - 1) * dilation + 1
    room = size + pad_begin + pad_end - span
    _check(room >= 0, f"window {span} larger than padded input {size + pad_begin + pad_end}")
    if not ceil_mode:
        return room // stride + 1
    out = -(-room // stride) + 1
    # The last window must start inside the input or the leading pad (the rule of PyTorch and ONNX).
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def _elementwise(shapes, attrs):
    return [tuple(shapes[0])]


def _binary(shapes, attrs):
    return [broadcast_shapes(shapes[0], shapes[1])]


def _prelu(shapes, attrs):
    out = broadcast_shapes(shapes[0], shapes[1])
    _check(out == tuple(shapes[0]), f"prelu: slope {shapes[1]} must broadcast to x {shapes[0]}")
    return [out]


def _conv2d(shapes, attrs):
    x, w = shapes[0], shapes[1]
    _check(len(x) == 4 and len(w) == 4, "conv2d wants NHWC input and OHWI weights")
    n, h, wd, c = x
    o, kh, kw, ci = w
    g = attrs["group"]
    _check(g >= 1 and c % g == 0 and o % g == 0 and ci * g == c,
           f"conv2d: input channels {c}, weight {w}, group {g} do not fit")
    if len(shapes) > 2:
        _check(tuple(shapes[2]) == (o,), f"conv2d: bias shape {shapes[2]} != ({o},)")
    sh, sw = attrs["strides"]
    dh, dw = attrs["dilations"]
    pt, pl, pb, pr = attrs["pads"]
    return [(n, conv_out_size(h, kh, sh, dh, pt, pb), conv_out_size(wd, kw, sw, dw, pl, pr), o)]


def _conv_transpose2d(shapes, attrs):
    x, w = shapes[0], shapes[1]
    _check(len(x) == 4 and len(w) == 4, "conv_transpose2d wants NHWC input and IHWO weights")
    n, h, wd, c = x
    ci, kh, kw, og = w
    g = attrs["group"]
    _check(ci == c and c % g == 0, f"conv_transpose2d: input channels {c}, weight {w}, group {g}")
    o = og * g
    if len(shapes) > 2:
        _check(tuple(shapes[2]) == (o,), f"conv_transpose2d: bias shape {shapes[2]} != ({o},)")
    sh, sw = attrs["strides"]
    dh, dw = attrs["dilations"]
    pt, pl, pb, pr = attrs["pads"]
    oph, opw = attrs["output_padding"]
    oh = (h - 1) * sh - pt - pb + dh * (kh - 1) + oph + 1
    ow = (wd - 1) * sw - pl - pr + dw * (kw - 1) + opw + 1
    _check(oh > 0 and ow > 0, "conv_transpose2d: output would be empty")
    return [(n, oh, ow, o)]


def _fully_connected(shapes, attrs):
    x, w = shapes[0], shapes[1]
    _check(len(w) == 2 and len(x) >= 1 and x[-1] == w[1],
           f"fully_connected: input {x} and weight {w} (N,K) do not fit")
    if len(shapes) > 2:
        _check(tuple(shapes[2]) == (w[0],), f"fully_connected: bias {shapes[2]} != ({w[0]},)")
    return [tuple(x[:-1]) + (w[0],)]


def _matmul(shapes, attrs):
    a, b = shapes
    _check(len(a) >= 2 and len(b) >= 2 and a[-1] == b[-2], f"matmul: {a} @ {b} do not fit")
    return [broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])]


def _pool2d(shapes, attrs):
    x = shapes[0]
    _check(len(x) == 4, "pooling wants an NHWC input")
    n, h, w, c = x
    kh, kw = attrs["kernel"]
    sh, sw = attrs["strides"]
    dh, dw = attrs.get("dilations", (1, 1))
    pt, pl, pb, pr = attrs["pads"]
    cm = bool(attrs["ceil_mode"])
    _check(all(p < k for p, k in zip(attrs["pads"], (kh, kw, kh, kw))),
           f"pooling: pads {attrs['pads']} must be smaller than the kernel {attrs['kernel']}")
    return [(n, conv_out_size(h, kh, sh, dh, pt, pb, cm), conv_out_size(w, kw, sw, dw, pl, pr, cm), c)]


def _mean(shapes, attrs):
    x = shapes[0]
    _check(all(-len(x) <= a < len(x) for a in attrs["axes"]),
           f"mean: axes {attrs['axes']} out of range for rank {len(x)}")
    axes = sorted(a % len(x) for a in attrs["axes"])
    if attrs["keepdims"]:
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def _reshape(shapes, attrs):
    new = tuple(attrs["shape"])
    _check(all(d >= 0 for d in new) and int(np.prod(new)) == int(np.prod(shapes[0])),
           f"reshape: {tuple(shapes[0])} cannot become {new}")
    return [new]


def _transpose(shapes, attrs):
    x = shapes[0]
    perm = tuple(attrs["perm"])
    _check(sorted(perm) == list(range(len(x))), f"transpose: perm {perm} for rank {len(x)}")
    return [tuple(x[p] for p in perm)]


def _concat(shapes, attrs):
    r = len(shapes[0])
    _check(r >= 1 and -r <= attrs["axis"] < r, f"concat: axis {attrs['axis']} out of range for rank {r}")
    axis = attrs["axis"] % r
    for s in shapes[1:]:
        _check(len(s) == r and all(s[i] == shapes[0][i] for i in range(r) if i != axis),
               f"concat: shapes {list(map(tuple, shapes))} differ off axis {axis}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [tuple(out)]


def _pad(shapes, attrs):
    x = shapes[0]
    p = attrs["pads"]
    r = len(x)
    _check(len(p) == 2 * r, f"pad: {len(p)} pads for rank {r}")
    out = tuple(x[i] + p[i] + p[i + r] for i in range(r))
    _check(all(d >= 0 for d in out), f"pad: negative output shape {out}")
    if attrs["mode"] == 1:  # reflect cannot reach further than the edge
        _check(all(p[i] < x[i] and p[i + r] < x[i] for i in range(r)), "pad: reflect pad >= dim")
    return [out]


def _slice(shapes, attrs):
    x = shapes[0]
    st, en, sp = attrs["starts"], attrs["ends"], attrs["steps"]
    _check(len(st) == len(en) == len(sp) == len(x), "slice: starts/ends/steps need one per dim")
    out = []
    for d, s, e, k in zip(x, st, en, sp):
        _check(k != 0, "slice: step 0")
        n = len(range(s, e, k))
        _check(n == 0 or (0 <= s < d and 0 <= s + (n - 1) * k < d), "slice: indices out of range")
        out.append(n)
    return [tuple(out)]


def _resize(shapes, attrs):
    x = shapes[0]
    _check(len(x) == 4, "resize wants an NHWC input")
    oh, ow = attrs["size"]
    _check(oh > 0 and ow > 0, "resize: empty output")
    return [(x[0], oh, ow, x[3])]


def _softmax(shapes, attrs):
    if len(shapes) > 1:
        _check(tuple(shapes[1]) == (256,), f"softmax: exp_table shape {shapes[1]} != (256,)")
    _check(-len(shapes[0]) <= attrs["axis"] < len(shapes[0]), "softmax: axis out of range")
    return [tuple(shapes[0])]


def _lut(shapes, attrs):
    _check(tuple(shapes[1]) == (256,), f"lut: table shape {shapes[1]} != (256,)")
    return [tuple(shapes[0])]


def _lrn(shapes, attrs):
    _check(len(shapes[0]) == 4, "lrn wants an NHWC input")
    return [tuple(shapes[0])]


# ---------------------------------------------------------------------------------------------
# The table. Fused activations are a clamp [act_min, act_max] on the output (relu: [0, inf],
# relu6: [0, 6]); INT8 will turn them into the requantized output's saturation bounds.

CLAMP = (Attr("act_min", "float", -INF), Attr("act_max", "float", INF))
CONV = (Attr("strides", "ints", (1, 1)), Attr("dilations", "ints", (1, 1)),
        Attr("pads", "ints", (0, 0, 0, 0)), Attr("group", "int", 1))
POOL = (Attr("kernel", "ints"), Attr("strides", "ints", (1, 1)), Attr("pads", "ints", (0, 0, 0, 0)),
        Attr("ceil_mode", "int", 0))

# Resize enums, shared with the C runtime through the generated header.
RESIZE_MODES = ("nearest", "linear")
RESIZE_COORDS = ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                 "tf_half_pixel_for_nn")
RESIZE_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
PAD_MODES = ("constant", "reflect", "edge")

_defs = [
    OpDef("conv2d", 1, ("x", "weight", "bias"), CONV + CLAMP, _conv2d,
          "2-D convolution, NHWC input, OHWI weight (I = C/group), optional bias, fused clamp.",
          optional_inputs=1, groups=frozenset({"conv", "has_weights"})),
    OpDef("conv_transpose2d", 2, ("x", "weight", "bias"),
          CONV + (Attr("output_padding", "ints", (0, 0)),) + CLAMP, _conv_transpose2d,
          "Transposed 2-D convolution, NHWC input, IHWO weight (O = out channels/group).",
          optional_inputs=1, groups=frozenset({"conv", "has_weights"})),
    OpDef("fully_connected", 3, ("x", "weight", "bias"), CLAMP, _fully_connected,
          "y[..., n] = sum_k x[..., k] * weight[n, k] + bias[n], fused clamp.",
          optional_inputs=1, groups=frozenset({"has_weights"})),
    OpDef("matmul", 4, ("a", "b"), (), _matmul,
          "Batched matrix product of two tensors with numpy broadcasting of the batch dims."),
    OpDef("add", 5, ("a", "b"), CLAMP, _binary, "a + b with broadcasting, fused clamp.",
          groups=frozenset({"binary", "elementwise", "commutative"})),
    OpDef("sub", 6, ("a", "b"), CLAMP, _binary, "a - b with broadcasting, fused clamp.",
          groups=frozenset({"binary", "elementwise"})),
    OpDef("mul", 7, ("a", "b"), CLAMP, _binary, "a * b with broadcasting, fused clamp.",
          groups=frozenset({"binary", "elementwise", "commutative"})),
    OpDef("div", 8, ("a", "b"), CLAMP, _binary, "a / b with broadcasting, fused clamp.",
          groups=frozenset({"binary", "elementwise"})),
    OpDef("prelu", 9, ("x", "slope"), (), _prelu,
          "x where x >= 0, else slope * x; slope broadcasts to x.",
          groups=frozenset({"binary", "elementwise"})),
    OpDef("clip", 10, ("x",), (Attr("min", "float", -INF), Attr("max", "float", INF)), _elementwise,
          "min(max(x, min), max); Relu is clip(0, inf), Relu6 is clip(0, 6).",
          groups=frozenset({"unary", "elementwise", "activation"})),
    OpDef("leaky_relu", 11, ("x",), (Attr("alpha", "float", 0.01),), _elementwise,
          "x where x >= 0, else alpha * x.", groups=frozenset({"unary", "elementwise", "activation"})),
    OpDef("sigmoid", 12, ("x",), (), _elementwise, "1 / (1 + exp(-x)).",
          groups=frozenset({"unary", "elementwise", "activation"})),
    OpDef("tanh", 13, ("x",), (), _elementwise, "tanh(x).",
          groups=frozenset({"unary", "elementwise", "activation"})),
    OpDef("hard_sigmoid", 14, ("x",), (Attr("alpha", "float", 0.2), Attr("beta", "float", 0.5)),
          _elementwise, "max(0, min(1, alpha * x + beta)).",
          groups=frozenset({"unary", "elementwise", "activation"})),
    OpDef("hard_swish", 15, ("x",), (), _elementwise, "x * max(0, min(1, x / 6 + 1 / 2)).",
          groups=frozenset({"unary", "elementwise", "activation"})),
    OpDef("max_pool2d", 16, ("x",), POOL + (Attr("dilations", "ints", (1, 1)),), _pool2d,
          "Max over each window of an NHWC input; padding never wins.", groups=frozenset({"pool"})),
    OpDef("avg_pool2d", 17, ("x",), POOL + (Attr("count_include_pad", "int", 0),), _pool2d,
          "Mean over each window of an NHWC input. count_include_pad counts the explicit pads (not "
          "the ceil-mode overhang) in the divisor.", groups=frozenset({"pool"})),
    OpDef("mean", 18, ("x",), (Attr("axes", "ints"), Attr("keepdims", "int", 1)), _mean,
          "Mean over the given axes (GlobalAveragePool is mean over H, W)."),
    OpDef("reshape", 19, ("x",), (Attr("shape", "ints"),), _reshape,
          "Same data, new static shape (Flatten, Squeeze, Unsqueeze become this).",
          groups=frozenset({"movement"})),
    OpDef("transpose", 20, ("x",), (Attr("perm", "ints"),), _transpose,
          "Permute the axes: out.shape[i] = x.shape[perm[i]].", groups=frozenset({"movement"})),
    OpDef("concat", 21, ("x",), (Attr("axis", "int"),), _concat, "Join inputs along an axis.",
          variadic=True, groups=frozenset({"movement"})),
    OpDef("pad", 22, ("x",), (Attr("pads", "ints"), Attr("mode", "int", 0), Attr("value", "float", 0.0)),
          _pad, "Pad with pads = begins then ends (ONNX order); mode: " + ", ".join(
              f"{i} {m}" for i, m in enumerate(PAD_MODES)) + ".", groups=frozenset({"movement"})),
    OpDef("slice", 23, ("x",), (Attr("starts", "ints"), Attr("ends", "ints"), Attr("steps", "ints")),
          _slice, "x[starts:ends:steps] with one normalized, in-range triple per dim (a negative end "
          "-1 means 'before index 0').", groups=frozenset({"movement"})),
    OpDef("softmax", 24, ("x", "exp_table"), (Attr("axis", "int", -1),), _softmax,
          "exp(x - max) / sum(exp(x - max)) along one axis. exp_table (int32[256]) is the INT8 "
          "form's table of exp(-scale * d) in Q16 (docs/quantization.md); float models omit it.",
          optional_inputs=1),
    OpDef("resize", 25, ("x",), (Attr("size", "ints"), Attr("scales", "floats"),
                                 Attr("mode", "int", 0), Attr("coord_mode", "int", 0),
                                 Attr("nearest_mode", "int", 0)), _resize,
          "Resize H, W of an NHWC input (ONNX Resize semantics). size and scales are (h, w); the "
          "scales drive the coordinate transform. mode, coord_mode and nearest_mode index "
          "RESIZE_MODES, RESIZE_COORDS and RESIZE_NEAREST.",
          groups=frozenset({"movement"})),
    OpDef("lrn", 26, ("x",), (Attr("size", "int"), Attr("alpha", "float", 1e-4),
                              Attr("beta", "float", 0.75), Attr("bias", "float", 1.0)), _lrn,
          "Local response normalization across channels (the last axis, NHWC)."),
    OpDef("quantize", 27, ("x",), (), _elementwise,
          "float32 -> int8: clamp(rint(x / scale) + zero_point), ties to even, with the output "
          "tensor's quantization parameters.", groups=frozenset({"unary", "elementwise"}), int8=True),
    OpDef("dequantize", 28, ("x",), (), _elementwise,
          "int8 -> float32: scale * (x - zero_point) with the input tensor's parameters.",
          groups=frozenset({"unary", "elementwise"}), int8=True),
    OpDef("lut", 29, ("x", "table"), (), _lut,
          "int8 -> int8 by a 256-entry table: y = table[x + 128]. The quantizer turns sigmoid, tanh, "
          "hard_sigmoid, hard_swish and leaky_relu into this, tables computed at build time.",
          groups=frozenset({"unary", "elementwise"}), int8=True),
]

# Ops with an INT8 form besides quantize, dequantize and lut (which exist for it).
_INT8 = {"conv2d", "fully_connected", "matmul", "add", "mul", "concat", "max_pool2d", "avg_pool2d",
         "mean", "pad", "reshape", "transpose", "slice", "resize", "softmax"}
_defs = [replace(d, int8=True) if d.name in _INT8 else d for d in _defs]

OPS: dict[str, OpDef] = {d.name: d for d in _defs}
OPS_BY_CODE: dict[int, OpDef] = {d.opcode: d for d in _defs}
assert len(OPS) == len(OPS_BY_CODE) == len(_defs), "op names and opcodes must be unique"


def in_group(op: str, group: str) -> bool:
    """Whether op belongs to a named group ('elementwise', 'binary', 'conv', ...)."""
    return group in OPS[op].groups


def fill_attrs(op: str, attrs: dict) -> dict:
    """Return attrs with defaults filled in, checking names and that required ones are present."""
    d = OPS[op]
    known = {a.name for a in d.attrs}
    extra = set(attrs) - known
    if extra:
        raise ShapeError(f"{op}: unknown attribute(s) {sorted(extra)}")
    out = {}
    for a in d.attrs:
        if a.name in attrs:
            v = attrs[a.name]
        elif a.default is not None:
            v = a.default
        else:
            raise ShapeError(f"{op}: attribute '{a.name}' is required")
        if a.kind == "int":
            v = int(v)
        elif a.kind == "float":
            v = float(v)
        else:
            v = tuple(int(i) for i in v) if a.kind == "ints" else tuple(float(f) for f in v)
        out[a.name] = v
    return out


def infer_shapes(op: str, input_shapes: Sequence[Sequence[int]], attrs: dict) -> list[tuple[int, ...]]:
    """Output shapes of op for the given input shapes and (filled) attrs."""
    d = OPS[op]
    n = len(input_shapes)
    if n < d.min_inputs or n > d.max_inputs:
        raise ShapeError(f"{op}: takes {d.min_inputs}..{d.max_inputs} inputs, got {n}")
    return [tuple(int(v) for v in s) for s in d.shape([tuple(s) for s in input_shapes], attrs)]
