"""Run IR ops and whole graphs on numpy arrays: the golden model, float32 and INT8.

`evaluate` runs one op: it fills the attribute defaults, checks the inputs against the op table
(count, dtype, shapes through the op's shape function), calls the kernel and checks that the result
has the shape the op table promises, so the table and the reference cannot drift apart silently.
A quantized node (quantize, dequantize, lut, or an op with an INT8 form reading int8) runs the INT8
reference (tinyedge/reference/int8) with its tensors' quantization parameters; every other node
computes in float32. `run` executes a graph's nodes in order on top of it.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import numpy as np

from ..ir import OPS, Graph, QuantParams, fill_attrs, infer_shapes
from . import conv, elementwise, int8, linear, movement, normalize, pool, resize

KERNELS: dict = {**conv.KERNELS, **linear.KERNELS, **elementwise.KERNELS, **pool.KERNELS,
                 **movement.KERNELS, **normalize.KERNELS, **resize.KERNELS}
# quantize, dequantize and lut have no float form; evaluate routes them to the INT8 reference.
KERNELS.update({op: int8.KERNELS[op] for op in int8.INT8_ONLY_OPS})

# Ops that only rearrange elements take any dtype (the ONNX frontend folds integer shape tensors
# through them); every other op computes in float32.
ANY_DTYPE_OPS = frozenset(movement.KERNELS)

Inputs = Union[Sequence[np.ndarray], Mapping[str, np.ndarray]]


def _input_name(op: str, index: int) -> str:
    names = OPS[op].inputs
    return names[min(index, len(names) - 1)]


def _operand(op: str, index: int, value) -> np.ndarray:
    """The array kernels see: float inputs as float32, other dtypes only for movement ops."""
    a = np.asarray(value)
    if op in ANY_DTYPE_OPS:
        return a
    if a.dtype.kind != "f":
        raise ValueError(f"{op}: input '{_input_name(op, index)}' has dtype {a.dtype}; the "
                         f"reference computes {op} in float32 (only "
                         f"{', '.join(sorted(ANY_DTYPE_OPS))} take other dtypes)")
    return a.astype(np.float32, copy=False)


def evaluate(op: str, inputs: list, attrs: dict,
             input_quant: Optional[Sequence[Optional[QuantParams]]] = None,
             output_quant: Optional[Sequence[Optional[QuantParams]]] = None) -> list[np.ndarray]:
    """Run one IR op on numpy arrays and return its outputs.

    inputs follow the op table's order; an absent optional input is None. attrs may omit those
    with defaults (tinyedge.ir.fill_attrs fills them). input_quant and output_quant give the
    quantization parameters of each input and output (None where a tensor has none); a quantized
    op (int8.is_int8: quantize, dequantize, lut, or an INT8-capable op whose first input is int8)
    runs the INT8 reference with them, except a movement op given no parameters at all, which
    moves the values whatever their dtype; any other op computes in float32 and ignores them.
    Raises ValueError (ShapeError for shapes) naming the op when the inputs, parameters or attrs
    do not fit. Outputs never share memory with inputs.
    """
    if op not in KERNELS:
        raise ValueError(f"reference: no IR op '{op}'; supported: {', '.join(sorted(KERNELS))}")
    d = OPS[op]
    attrs = fill_attrs(op, attrs)
    present = list(inputs)
    while len(present) > d.min_inputs and present[-1] is None:
        present.pop()  # absent optional inputs are the trailing ones
    for i, a in enumerate(present):
        if a is None:
            raise ValueError(f"{op}: input '{_input_name(op, i)}' is required")
    quantized = any(q is not None for q in [*(input_quant or []), *(output_quant or [])])
    # Movement ops given no quantization parameters at all move int8 values like any other dtype
    # (the frontends fold constants through them); with parameters they follow the INT8 rules.
    if int8.is_int8(op, present) and (quantized or op not in ANY_DTYPE_OPS):
        arrays = [np.asarray(a) for a in present]
        expected = infer_shapes(op, [a.shape for a in arrays], attrs)
        out = np.asarray(int8.evaluate_int8(op, arrays, attrs, list(input_quant or []),
                                            (output_quant or [None])[0]))
        want_dtype = np.dtype(int8.output_dtype(op))
    else:
        arrays = [_operand(op, i, a) for i, a in enumerate(present)]
        if len({a.dtype for a in arrays}) > 1:
            raise ValueError(f"{op}: inputs mix dtypes {[str(a.dtype) for a in arrays]}")
        expected = infer_shapes(op, [a.shape for a in arrays], attrs)
        out = np.asarray(KERNELS[op](*arrays, **attrs))
        want_dtype = arrays[0].dtype if op in ANY_DTYPE_OPS else np.dtype(np.float32)
    if out.shape != expected[0] or out.dtype != want_dtype:
        # A kernel and the op table disagree: a bug in tinyedge, not in the caller's model.
        raise RuntimeError(f"reference {op} returned {out.dtype}{list(out.shape)}, the op table "
                           f"says {want_dtype}{list(expected[0])}")
    if not out.flags.c_contiguous or any(np.may_share_memory(out, a) for a in arrays):
        out = out.copy(order="C")  # (np.ascontiguousarray would turn a 0-d result into 1-d)
    return [out]


def _bind_inputs(graph: Graph, inputs: Inputs) -> dict[str, np.ndarray]:
    """Match the caller's inputs to graph.inputs, checking names, count, shapes and dtypes."""
    names = list(graph.inputs)
    if isinstance(inputs, Mapping):
        missing = [n for n in names if n not in inputs]
        unknown = [k for k in inputs if k not in names]
        if missing or unknown:
            raise ValueError(f"graph inputs are {names}; missing {missing}, unknown {unknown}")
        given = {n: inputs[n] for n in names}
    elif isinstance(inputs, (list, tuple)):
        if len(inputs) != len(names):
            raise ValueError(f"graph takes {len(names)} input(s) {names}, got {len(inputs)}")
        given = dict(zip(names, inputs))
    else:
        raise ValueError(f"inputs must be a list (in graph.inputs order {names}) or a dict by "
                         f"name, not {type(inputs).__name__}")
    bound = {}
    for name, value in given.items():
        a = np.asarray(value)
        t = graph.tensors[name]
        if a.shape != tuple(t.shape) or a.dtype != np.dtype(t.dtype):
            raise ValueError(f"input '{name}' is {a.dtype}{list(a.shape)}, the graph wants "
                             f"{t.dtype}{list(t.shape)}")
        bound[name] = a
    return bound


def run_all(graph: Graph, inputs: Inputs) -> dict[str, np.ndarray]:
    """Execute every node of graph in order; return the value of every activation by name.

    inputs: a list in graph.inputs order, or a dict by name. Useful for calibration and for finding
    the first layer where another backend departs from the reference.
    """
    values = _bind_inputs(graph, inputs)

    def value(name: str) -> np.ndarray:
        return values[name] if name in values else graph.const(name)

    for node in graph.nodes:
        try:
            outs = evaluate(node.op, [value(i) for i in node.inputs], node.attrs,
                            [graph.tensors[i].quant for i in node.inputs],
                            [graph.tensors[o].quant for o in node.outputs])
        except ValueError as e:
            raise ValueError(f"node '{node.name}' ({node.op}): {e}") from e
        for name, out in zip(node.outputs, outs):
            t = graph.tensors[name]
            if out.shape != tuple(t.shape) or out.dtype != np.dtype(t.dtype):
                raise ValueError(f"node '{node.name}' ({node.op}): output '{name}' is "
                                 f"{out.dtype}{list(out.shape)}, the graph says "
                                 f"{t.dtype}{list(t.shape)}")
            values[name] = out
    for name in graph.outputs:
        values.setdefault(name, value(name))
    return values


def run(graph: Graph, inputs: Inputs) -> list[np.ndarray]:
    """Execute graph on inputs (a list in graph.inputs order, or a dict by name); return the
    graph outputs in order. Raises ValueError when an input's name, shape or dtype does not match
    the graph, or when a node cannot run (the message names the node and its op)."""
    values = run_all(graph, inputs)
    return [values[name] for name in graph.outputs]
