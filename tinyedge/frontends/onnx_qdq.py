"""QDQ models: ONNX graphs already quantized with QuantizeLinear / DequantizeLinear pairs.

onnxruntime's `quantize_static(..., quant_format=QuantFormat.QDQ)` (and other QDQ exporters) write
a float graph in which every quantized value passes through a Q -> DQ pair and every quantized
weight is an integer initializer behind a DQ. tinyedge imports such a model as a FLOAT graph that
remembers the model's own quantization, so that the quantizer keeps it instead of calibrating again:

  DQ(q, s, z) of an int8/uint8 constant   -> the float constant s * (q - z), annotated (s, z, axis)
  DQ(q, s, 0) of an int32 constant (bias) -> the float constant s * q, no annotation (its scale is
                                             implied: s_x * s_w)
  Q(c, s, z) of a float constant          -> the integer constant, for the DQ that reads it
  DQ(Q(x, s, z), s, z), x computed        -> x, annotated (s, z); both nodes disappear
Annotations are tinyedge's int8 parameters (tinyedge.ir.QuantParams): a uint8 zero point z becomes
z - 128 with the same scale, which stands for the same reals. A weight's per-axis annotation follows
the weight into the IR layout (conv OIHW -> OHWI keeps axis 0; a Gemm/MatMul weight becomes
fully_connected [N, K], so its N axis becomes axis 0); see `moved_quant` and `fc_weight_quant`.

A QDQ pair saturates: its output lies in [s * (qmin - z), s * (qmax - z)]. onnxruntime relies on
that when it deletes a Relu (or a Clip at 0) in front of a pair whose range starts at 0 (z = qmin,
the range calibrated on the Relu's output). Dropping the pair would then drop the Relu too, so the
importer puts it back as clip(0, inf) whenever the value could be negative (`may_be_negative`); the
clip fuses into the producer's clamp (conv, fully_connected, add...), and in INT8 that clamp is the
saturation the pair already implies. The upper end is not restored: a Clip(0, 6) that onnxruntime
removed leaves values above the calibrated maximum unclamped in the float graph (in INT8 they
saturate at that maximum, as in the QDQ model).

Limits (each an error naming the node): int8, uint8 (and int32 bias constants) only,
not int16, int4 or float8; no blocked quantization (block_size); an activation is quantized per
tensor; a QuantizeLinear of a run-time value must feed only DequantizeLinear nodes with the same
parameters (QOperator models, QLinearConv and friends, are not supported); one tensor gets one set
of parameters. A per-axis weight annotation that cannot follow its weight (a reshape that splits the
axis, a Gemm/MatMul weight quantized along K) is dropped, and the quantizer computes that weight's
scales itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import onnx

from ..ir import Graph, QuantParams, Tensor, in_group
from .onnx_fold import normalize_axis

INF = math.inf

# Integer types of a quantized tensor: their range, and the shift to tinyedge's int8 zero point.
QTYPES = {np.dtype(np.int8): (-128, 127, 0), np.dtype(np.uint8): (0, 255, -128)}
BIAS_TYPE = np.dtype(np.int32)  # a DQ of an int32 constant is a bias: folded, not annotated


@dataclass
class Affine:
    """The (scale, zero point, axis) of one QuantizeLinear or DequantizeLinear, as the model has
    them: scale float32 and zero point of the quantized integer type, both 0-d (per tensor) or 1-D
    along `axis` (normalized; None per tensor)."""

    scale: np.ndarray
    zero_point: np.ndarray
    dtype: np.dtype
    axis: Optional[int]

    def broadcast(self, rank: int) -> tuple[np.ndarray, np.ndarray]:
        """scale and zero point shaped to broadcast against a rank-`rank` tensor."""
        shape = [1] * rank
        if self.axis is not None:
            shape[self.axis] = -1
        return self.scale.reshape(shape), self.zero_point.reshape(shape)

    def params(self) -> QuantParams:
        """tinyedge's parameters for the same reals: int8 zero points (uint8's minus 128)."""
        shift = QTYPES[self.dtype][2]
        zero = self.zero_point.astype(np.int32).reshape(-1) + shift
        return QuantParams(scale=self.scale.astype(np.float32).reshape(-1).copy(), zero_point=zero,
                           axis=self.axis)

    def low_is_zero(self) -> bool:
        """Whether the range starts exactly at 0 (z = qmin: the pair saturates below at 0)."""
        return self.axis is None and int(self.zero_point) == QTYPES[self.dtype][0]


def same_params(a: QuantParams, b: QuantParams) -> bool:
    """Whether two annotations stand for the same reals."""
    return a.axis == b.axis and np.array_equal(a.scale, b.scale) and \
        np.array_equal(a.zero_point, b.zero_point)


def _affine(ctx, scale: str, zero_point: Optional[str], axis: int, shape: Sequence[int],
            dtype: Optional[np.dtype], block_size: int) -> Affine:
    """Read and check a node's scale and zero point inputs for a value of `shape`. dtype is the
    quantized type when the node fixes it (DequantizeLinear: its input's); None takes the zero
    point's (uint8 without one, as the spec says)."""
    if block_size:
        ctx.fail(f"block_size {block_size} (blocked quantization) is not supported; tinyedge reads "
                 "per-tensor and per-axis parameters")
    s = ctx.value(scale)
    z = ctx.value(zero_point)
    if s is None or (zero_point is not None and z is None):
        ctx.fail("the scale and zero point must be constants; here they are computed at run time")
    zdtype = np.dtype(np.uint8) if z is None else z.dtype
    dtype = zdtype if dtype is None else np.dtype(dtype)
    if dtype not in QTYPES and dtype != BIAS_TYPE:
        ctx.fail(f"{dtype} quantization is not supported (int8 and uint8; int32 for a bias)")
    if z is not None and z.dtype != dtype:
        ctx.fail(f"the zero point is {z.dtype} but the quantized value is {dtype}")
    if s.dtype.kind != "f" or not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"scales must be positive finite floats, got {s.reshape(-1)[:4]}")
    z = np.zeros(s.shape, dtype) if z is None else z
    if z.size != s.size:
        raise ValueError(f"{z.size} zero points for {s.size} scales")
    if s.size == 1:  # per tensor (a 1-element per-axis pair stands for the same reals)
        return Affine(s.astype(np.float32).reshape(()), z.reshape(()), dtype, None)
    a = normalize_axis(axis, len(shape))
    if s.ndim != 1 or s.size != shape[a]:
        raise ValueError(f"{s.size} scales for axis {a} of a {tuple(shape)} tensor")
    return Affine(s.astype(np.float32), z.reshape(-1), dtype, a)


def _dequantized(q: np.ndarray, p: Affine) -> np.ndarray:
    """The spec's (q - z) * s, in float32 as onnxruntime computes it."""
    s, z = p.broadcast(q.ndim)
    return ((q.astype(np.int64) - z.astype(np.int64)).astype(np.float32) * s).astype(np.float32)


def _quantized(x: np.ndarray, p: Affine) -> np.ndarray:
    """The spec's saturate(round(x / s) + z), ties to even."""
    lo, hi, _ = QTYPES[p.dtype]
    s, z = p.broadcast(x.ndim)
    q = np.rint(x.astype(np.float32) / s) + z.astype(np.float32)
    return np.clip(q, lo, hi).astype(p.dtype)


def may_be_negative(graph: Graph, tensor: str) -> bool:
    """Whether a tensor can hold a negative value, by a short walk up its producers: a clamp at or
    above 0 and a sigmoid or softmax cannot; movement, pooling and concat keep what their inputs
    give; anything else may. A graph input counts as non-negative: onnxruntime never deletes a
    Relu that reads one, so a range starting at 0 there is the user's promise, not a lost Relu."""
    t = graph.tensors[tensor]
    if t.is_const:
        return bool(np.any(t.data < 0))
    node = graph.producer(tensor)
    if node is None:
        return False
    if node.op == "clip":
        return node.attrs["min"] < 0 and may_be_negative(graph, node.inputs[0])
    if "act_min" in node.attrs and node.attrs["act_min"] >= 0:
        return False
    if node.op in ("sigmoid", "softmax", "hard_sigmoid"):
        return False
    if node.op == "pad" and node.attrs["value"] < 0:
        return True
    keeps_sign = in_group(node.op, "movement") or in_group(node.op, "pool") or node.op == "mean"
    return not keeps_sign or any(may_be_negative(graph, i) for i in node.inputs)


def annotate(ctx, tensor: str, params: QuantParams) -> None:
    """Give an IR tensor its parameters; a tensor that has different ones already is an error."""
    t = ctx.graph.tensors[tensor]
    if t.quant is not None and not same_params(t.quant, params):
        ctx.fail(f"tensor '{tensor}' is quantized twice with different parameters (scale "
                 f"{t.quant.scale[:4]}, zero point {t.quant.zero_point[:4]}, then scale "
                 f"{params.scale[:4]}, zero point {params.zero_point[:4]}); tinyedge gives each "
                 "tensor one set")
    t.quant = params


# ---------------------------------------------------------------------------------------------
# Annotations that follow a constant through a layout change.

def moved_quant(quant: Optional[QuantParams], in_shape: Sequence[int], out_shape: Sequence[int],
                perm: Optional[Sequence[int]] = None) -> Optional[QuantParams]:
    """The annotation of a constant after a transpose by perm (or, without perm, a reshape) from
    in_shape to out_shape. A per-tensor one carries as it is; a per-axis one moves with its axis,
    which a reshape keeps only when that axis and the product of the dims before it are unchanged.
    None when there is nothing to carry or the axis does not survive."""
    if quant is None or quant.axis is None:
        return quant
    if perm is not None:
        return QuantParams(quant.scale, quant.zero_point, list(perm).index(quant.axis))
    before = math.prod(in_shape[:quant.axis])
    for a, d in enumerate(out_shape):
        if d == in_shape[quant.axis] and math.prod(out_shape[:a]) == before:
            return QuantParams(quant.scale, quant.zero_point, a)
    return None


def fc_weight_quant(quant: Optional[QuantParams], shape: Sequence[int], transposed: bool,
                    factor: float = 1.0) -> Optional[QuantParams]:
    """The annotation of a [K, N] (or, transposed, [N, K]) Gemm/MatMul weight once it is the
    fully_connected weight [N, K] multiplied by factor (Gemm's alpha); a MatMul's 1-D [K] weight
    becomes [1, K]. Per axis it must land on N (axis 0): tinyedge weights are per output channel;
    a weight quantized along K, or scaled by a factor <= 0, keeps no annotation."""
    if quant is None or factor <= 0:
        return None
    if len(shape) == 1:
        return quant if quant.axis is None else None
    q = quant if transposed else moved_quant(quant, shape, tuple(shape)[::-1], (1, 0))
    if q is None or q.axis not in (None, 0):
        return None
    if factor != 1:
        q = QuantParams((q.scale * np.float32(factor)).astype(np.float32), q.zero_point, q.axis)
    return q


# ONNX movement ops that the importer folds on constants, and how each moves the axes.
_MOVEMENT_FOLDERS = ("Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose")


def folded_quant(op: str, attrs: dict, source: Optional[Tensor],
                 result: np.ndarray) -> Optional[QuantParams]:
    """The annotation a constant computed by folding ONNX node `op` inherits from its first input
    `source`: only movement ops pass one on (they keep the values)."""
    if source is None or source.quant is None or op not in _MOVEMENT_FOLDERS:
        return None
    perm = None
    if op == "Transpose":
        perm = attrs.get("perm") or tuple(range(len(source.shape)))[::-1]
    return moved_quant(source.quant, source.shape, result.shape, perm)


# ---------------------------------------------------------------------------------------------
# The converters.

def QuantizeLinear(ctx, x, y_scale, y_zero_point=None, *, axis=1, block_size=0, output_dtype=0,
                   saturate=1):
    dtype = _onnx_dtype(output_dtype) if output_dtype and y_zero_point is None else None
    p = _affine(ctx, y_scale, y_zero_point, axis, ctx.shape(x), dtype, block_size)
    if p.dtype == BIAS_TYPE:
        ctx.fail("int32 output is not supported (int8 and uint8)")
    xv = ctx.value(x)
    if xv is not None:  # a weight quantized in the graph: the integers, for the DQ that reads them
        return ctx.const(_quantized(xv, p), "quantized")
    out = ctx.onnx_node.output[0]
    if out in ctx.onnx_outputs:
        ctx.fail(f"its output '{out}' is a graph output; tinyedge's outputs are float32 (end the "
                 "model with the DequantizeLinear)")
    for reader in ctx.onnx_readers.get(out, []):
        if reader.op_type != "DequantizeLinear" or reader.domain not in ("", "ai.onnx"):
            ctx.fail(f"its output '{out}' is read by {reader.op_type} '{reader.name}'; tinyedge "
                     "imports QDQ models, where each QuantizeLinear of a run-time value feeds only "
                     "DequantizeLinear nodes (QOperator ops such as QLinearConv are not supported)")
    if p.axis is not None:
        ctx.fail("per-axis quantization of a run-time value is not supported; tinyedge quantizes "
                 "activations per tensor")
    # (value, parameters, the ONNX name of the first DequantizeLinear's result, once there is one)
    ctx.quantized[out] = (x, p, None)
    return x  # only the DequantizeLinear readers checked above see this float alias


def DequantizeLinear(ctx, x, x_scale, x_zero_point=None, *, axis=1, block_size=0):
    xv = ctx.value(x)
    if xv is not None:  # a quantized weight or bias: folded to float
        p = _affine(ctx, x_scale, x_zero_point, axis, xv.shape, xv.dtype, block_size)
        value = _dequantized(xv, p)
        if p.dtype == BIAS_TYPE:
            return ctx.const(value, "dequantized")
        return ctx.const(value, "dequantized", quant=p.params())
    source = ctx.onnx_node.input[0]
    if source not in ctx.quantized:
        ctx.fail(f"it reads '{source}', which no QuantizeLinear of this model writes; tinyedge "
                 "imports Q -> DQ pairs on run-time values")
    value, q, done = ctx.quantized[source]
    p = _affine(ctx, x_scale, x_zero_point, axis, ctx.shape(value), q.dtype, block_size)
    if not same_params(p.params(), q.params()):
        ctx.fail(f"its scale and zero point ({p.scale}, {p.zero_point}) differ from those of the "
                 f"QuantizeLinear writing '{source}' ({q.scale}, {q.zero_point}); a Q/DQ pair that "
                 "requantizes is not supported")
    if done is not None:  # another DequantizeLinear of the same QuantizeLinear: the same value
        return ctx.names[done]
    y = value
    if p.low_is_zero() and may_be_negative(ctx.graph, value):
        y = ctx.emit("clip", [value], "saturate_at_0", min=0.0, max=INF)  # the lost Relu
    annotate(ctx, y, p.params())
    ctx.quantized[source] = (value, q, ctx.onnx_node.output[0])
    return y


def _onnx_dtype(code: int) -> np.dtype:
    """The numpy dtype of an ONNX TensorProto data type code."""
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(code))


CONVERTERS = {f.__name__: f for f in (QuantizeLinear, DequantizeLinear)}
