"""Constant folding of ONNX nodes at import, and the shape rules that folding and conversion share.

Exporters compute shapes at run time with small subgraphs (Shape -> Gather -> Unsqueeze -> Concat ->
Reshape). tinyedge shapes are static, so every such node sees constant inputs and is evaluated here
with numpy, on whatever dtype it carries (int64 shape arithmetic included). `FOLDERS` maps an ONNX op
name to a function `(ctx, *arrays, **attrs) -> array | tuple of arrays`, named after the op, its
attributes keyword defaults with the spec's names (an input whose spec name clashes with an attribute
of an older opset gets a `_in` suffix). The importer calls a folder only when every input is a
constant; ops that also have a converter (onnx_ops.py) are converted when an input is an activation.

The shape helpers (`reshape_target`, `squeeze_shape`, `unsqueeze_shape`, `flatten_shape`,
`slice_triples`) raise ValueError for inputs the ONNX spec forbids; the importer reports those with
the node's name.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

Shape = tuple[int, ...]


# ---------------------------------------------------------------------------------------------
# Shape rules shared with the converters.

def normalize_axis(axis: int, rank: int) -> int:
    """An axis in [-rank, rank) as a non-negative index."""
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def reshape_target(shape: Shape, target: Sequence[int], allowzero: int = 0) -> Shape:
    """ONNX Reshape's output shape: 0 copies the input dim (unless allowzero), -1 is inferred."""
    out = [int(d) for d in target]
    if out.count(-1) > 1:
        raise ValueError(f"reshape target {tuple(out)} has more than one -1")
    for i, d in enumerate(out):
        if d == 0 and not allowzero:
            if i >= len(shape):
                raise ValueError(f"reshape target {tuple(out)}: 0 at axis {i} has no input dim to copy")
            out[i] = shape[i]
        elif d < -1:
            raise ValueError(f"reshape target {tuple(out)} has a negative dim")
    total = math.prod(shape)
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape {tuple(shape)} into {tuple(target)}")
        out[out.index(-1)] = total // known
    if math.prod(out) != total:
        raise ValueError(f"cannot reshape {tuple(shape)} into {tuple(target)}")
    return tuple(out)


def squeeze_shape(shape: Shape, axes: Optional[Sequence[int]]) -> Shape:
    """Drop the listed axes (each of size 1), or every size-1 axis when axes is None."""
    if axes is None:
        return tuple(d for d in shape if d != 1)
    drop = {normalize_axis(int(a), len(shape)) for a in axes}
    for a in drop:
        if shape[a] != 1:
            raise ValueError(f"cannot squeeze axis {a} of size {shape[a]} in {tuple(shape)}")
    return tuple(d for i, d in enumerate(shape) if i not in drop)


def unsqueeze_shape(shape: Shape, axes: Sequence[int]) -> Shape:
    """Insert size-1 axes at the listed positions of the output (negative counts from its end)."""
    rank = len(shape) + len(axes)
    at = sorted(normalize_axis(int(a), rank) for a in axes)
    if len(set(at)) != len(at):
        raise ValueError(f"unsqueeze axes {tuple(axes)} repeat an axis")
    rest = iter(shape)
    return tuple(1 if i in at else next(rest) for i in range(rank))


def flatten_shape(shape: Shape, axis: int) -> Shape:
    """Flatten's 2-D output: the dims before axis, then the rest (axis may equal the rank)."""
    r = len(shape)
    if not -r <= axis <= r:
        raise ValueError(f"flatten axis {axis} is out of range for rank {r}")
    axis = axis + r if axis < 0 else axis
    return (math.prod(shape[:axis]), math.prod(shape[axis:]))


def slice_triples(shape: Shape, starts, ends, axes=None, steps=None) -> list[tuple[int, int, int]]:
    """One normalized (start, end, step) per dim, per the ONNX Slice clamping rules.

    Negative starts/ends count from the end; then, for a positive step, both are clamped to
    [0, dim]; for a negative step the start to [0, dim - 1] and the end to [-1, dim - 1]. The end
    is then moved to start + count * step, so it is -1 exactly when a negative step reaches index
    0 (the IR's "before index 0"). Dims not listed in axes keep (0, dim, 1)."""
    r = len(shape)
    starts, ends = [int(v) for v in starts], [int(v) for v in ends]
    axes = list(range(len(starts))) if axes is None else [normalize_axis(int(a), r) for a in axes]
    steps = [1] * len(starts) if steps is None else [int(v) for v in steps]
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ValueError("slice: starts, ends, axes and steps differ in length")
    if len(set(axes)) != len(axes):
        raise ValueError(f"slice: axes {tuple(axes)} repeat an axis")
    triples = [(0, d, 1) for d in shape]
    for s, e, a, k in zip(starts, ends, axes, steps):
        d = shape[a]
        if k == 0:
            raise ValueError(f"slice: step 0 on axis {a}")
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if k > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
        n = len(range(s, e, k))
        triples[a] = (s, s + n * k, k) if n else (0, 0, 1)
    return triples


def take_slice(x: np.ndarray, triples) -> np.ndarray:
    """x sliced by normalized triples (index arrays, since an end of -1 means 'before 0')."""
    return x[np.ix_(*[np.arange(s, e, k, dtype=np.int64) for s, e, k in triples])]


def ints(array: Optional[np.ndarray]) -> Optional[list[int]]:
    """A constant 0-D or 1-D integer tensor as a list of ints (None stays None)."""
    return None if array is None else [int(v) for v in np.asarray(array).reshape(-1)]


# ---------------------------------------------------------------------------------------------
# The folders. Each keeps the dtype ONNX gives its output.

def Constant(ctx, *, value=None, value_float=None, value_floats=None, value_int=None,
             value_ints=None, value_string=None, value_strings=None, sparse_value=None):
    if value is not None:
        return value
    if value_float is not None:
        return np.array(value_float, np.float32)
    if value_floats is not None:
        return np.array(value_floats, np.float32)
    if value_int is not None:
        return np.array(value_int, np.int64)
    if value_ints is not None:
        return np.array(value_ints, np.int64)
    kind = "a sparse tensor" if sparse_value is not None else "a string"
    ctx.fail(f"Constant holding {kind} is not supported (numeric tensors, floats and ints are)")


def ConstantOfShape(ctx, shape, *, value=None):
    fill = np.zeros(1, np.float32) if value is None else value.reshape(-1)
    return np.full(tuple(ints(shape)), fill[0], fill.dtype)


def Gather(ctx, data, indices, *, axis=0):
    axis = normalize_axis(axis, data.ndim)
    idx = np.where(indices < 0, indices + data.shape[axis], indices)
    return np.take(data, idx, axis=axis)


def Cast(ctx, x, *, to, saturate=1):
    return x.astype(helper.tensor_dtype_to_np_dtype(to))


def Identity(ctx, x):
    return x


def Unsqueeze(ctx, data, axes_in=None, *, axes=None):
    return data.reshape(unsqueeze_shape(data.shape, ints(axes_in) if axes is None else axes))


def Squeeze(ctx, data, axes_in=None, *, axes=None):
    return data.reshape(squeeze_shape(data.shape, ints(axes_in) if axes is None else axes))


def Reshape(ctx, data, shape, *, allowzero=0):
    return data.reshape(reshape_target(data.shape, ints(shape), allowzero))


def Flatten(ctx, x, *, axis=1):
    return x.reshape(flatten_shape(x.shape, axis))


def Concat(ctx, *xs, axis):
    return np.concatenate(xs, axis=normalize_axis(axis, xs[0].ndim))


def Transpose(ctx, x, *, perm=None):
    return np.transpose(x, perm)


def Slice(ctx, data, starts_in=None, ends_in=None, axes_in=None, steps_in=None, *,
          starts=None, ends=None, axes=None):
    if starts is None:  # opset 10+: inputs; before: attributes
        starts, ends, axes, steps = ints(starts_in), ints(ends_in), ints(axes_in), ints(steps_in)
    else:
        steps = None
    return take_slice(data, slice_triples(data.shape, starts, ends, axes, steps))


def Range(ctx, start, limit, delta):
    return np.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype)


def Expand(ctx, x, shape):
    out = np.broadcast_shapes(x.shape, tuple(ints(shape)))
    return np.broadcast_to(x, out).copy()


def Where(ctx, cond, a, b):
    return np.where(cond, a, b)


def Add(ctx, a, b):
    return a + b


def Sub(ctx, a, b):
    return a - b


def Mul(ctx, a, b):
    return a * b


def Div(ctx, a, b):
    if np.issubdtype(a.dtype, np.integer):  # ONNX integer Div truncates toward zero, as C does
        return (np.abs(a) // np.abs(b) * np.sign(a) * np.sign(b)).astype(a.dtype)
    return (a / b).astype(a.dtype)


def Min(ctx, *xs):
    return np.minimum.reduce(np.broadcast_arrays(*xs))


def Max(ctx, *xs):
    return np.maximum.reduce(np.broadcast_arrays(*xs))


def ReduceProd(ctx, data, axes_in=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    axes = ints(axes_in) if axes is None else axes
    if not axes:
        if noop_with_empty_axes:
            return data
        axes = None
    return np.prod(data, axis=None if axes is None else tuple(axes), keepdims=bool(keepdims))


def Equal(ctx, a, b):
    return np.equal(a, b)


def Less(ctx, a, b):
    return np.less(a, b)


def Greater(ctx, a, b):
    return np.greater(a, b)


def Not(ctx, x):
    return np.logical_not(x)


def Floor(ctx, x):
    return np.floor(x)


def Ceil(ctx, x):
    return np.ceil(x)


def Neg(ctx, x):
    return np.negative(x)


def Abs(ctx, x):
    return np.abs(x)


def Sqrt(ctx, x):
    return np.sqrt(x)


FOLDERS = {f.__name__: f for f in (
    Constant, ConstantOfShape, Gather, Cast, Identity, Unsqueeze, Squeeze, Reshape, Flatten, Concat,
    Transpose, Slice, Range, Expand, Where, Add, Sub, Mul, Div, Min, Max, ReduceProd, Equal, Less,
    Greater, Not, Floor, Ceil, Neg, Abs, Sqrt)}


def attribute_value(attr: onnx.AttributeProto) -> object:
    """An ONNX attribute as a Python value: strings decoded, tensors as numpy arrays."""
    value = helper.get_attribute_value(attr)
    if attr.type == onnx.AttributeProto.TENSOR:
        return numpy_helper.to_array(value)
    if attr.type == onnx.AttributeProto.STRING:
        return value.decode("utf-8")
    if attr.type == onnx.AttributeProto.STRINGS:
        return [v.decode("utf-8") for v in value]
    return value
