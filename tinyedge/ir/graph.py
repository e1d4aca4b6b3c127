"""The IR: a graph of nodes over named tensors with static shapes.

Constants are numpy arrays held by their tensor. Nodes are kept in a topological order (frontends
append in order; passes that rewrite keep it). Every tensor carries room for quantization
parameters (`Tensor.quant`), unused by float graphs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

from .ops import OPS, fill_attrs, infer_shapes

# dtype names used in the IR and their codes in the .tem format (append only).
DTYPES = {"float32": 1, "int8": 2, "uint8": 3, "int32": 4, "int16": 5}
DTYPE_BY_CODE = {v: k for k, v in DTYPES.items()}


@dataclass
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per `axis` channel."""

    scale: np.ndarray  # float32, shape (1,) or (channels,)
    zero_point: np.ndarray  # int32, same shape as scale
    axis: Optional[int] = None  # None: per tensor


@dataclass
class Tensor:
    """A named value: an activation (data is None) or a constant (data holds it)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    data: Optional[np.ndarray] = None
    quant: Optional[QuantParams] = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    """One op application. attrs always hold every attribute of the op (defaults filled)."""

    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict
    name: str


@dataclass
class Graph:
    """A whole model: tensors by name, nodes in topological order, graph inputs and outputs."""

    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    # -- building -------------------------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        """A tensor name not used yet, derived from base."""
        if base not in self.tensors:
            return base
        i = 1
        while f"{base}_{i}" in self.tensors:
            i += 1
        return f"{base}_{i}"

    def add_input(self, name: str, shape: Iterable[int], dtype: str = "float32") -> str:
        """Declare a graph input."""
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), dtype)
        self.inputs.append(name)
        return name

    def add_const(self, name: str, array: np.ndarray) -> str:
        """Add a constant tensor (a fresh name is chosen if `name` is taken); returns its name."""
        arr = np.ascontiguousarray(array).reshape(np.shape(array))  # keeps 0-d arrays 0-d
        name = self.unique_name(name)
        self.tensors[name] = Tensor(name, tuple(arr.shape), str(arr.dtype), arr)
        return name

    def add_node(self, op: str, inputs: list[str], attrs: Optional[dict] = None,
                 name: Optional[str] = None, outputs: Optional[list[str]] = None,
                 index: Optional[int] = None, dtype: Optional[str] = None) -> list[str]:
        """Append (or insert at `index`) a node; output tensors are created with inferred shapes.

        Outputs take the first input's dtype unless `dtype` is given (quantize, dequantize).
        Returns the output tensor names."""
        if op not in OPS:
            raise KeyError(f"unknown IR op '{op}'")
        attrs = fill_attrs(op, attrs or {})
        shapes = infer_shapes(op, [self.tensors[i].shape for i in inputs], attrs)
        name = name or f"{op}_{len(self.nodes)}"
        if outputs is None:
            outputs = [self.unique_name(name if len(shapes) == 1 else f"{name}:{k}")
                       for k in range(len(shapes))]
        dtype = dtype or (self.tensors[inputs[0]].dtype if inputs else "float32")
        for o, s in zip(outputs, shapes):
            self.tensors[o] = Tensor(o, s, dtype)
        node = Node(op, list(inputs), list(outputs), attrs, name)
        if index is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(index, node)
        return outputs

    # -- queries --------------------------------------------------------------------------------
    def producer(self, tensor: str) -> Optional[Node]:
        """The node writing tensor, or None for inputs and constants."""
        for n in self.nodes:
            if tensor in n.outputs:
                return n
        return None

    def consumers(self, tensor: str) -> list[Node]:
        """Nodes reading tensor, in order."""
        return [n for n in self.nodes if tensor in n.inputs]

    def is_const(self, tensor: str) -> bool:
        return self.tensors[tensor].is_const

    def const(self, tensor: str) -> np.ndarray:
        """The constant value of tensor (KeyError-like ValueError if it is an activation)."""
        t = self.tensors[tensor]
        if t.data is None:
            raise ValueError(f"tensor '{tensor}' is not a constant")
        return t.data

    def activations(self) -> list[str]:
        """Non-constant tensors, in first-use order (inputs, then node outputs)."""
        seen = list(self.inputs)
        for n in self.nodes:
            seen += [o for o in n.outputs if o not in seen]
        return seen

    def replace_uses(self, old: str, new: str) -> None:
        """Make every reader of old read new instead (graph outputs included)."""
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]

    def remove_unused(self) -> None:
        """Drop nodes whose outputs nobody reads, then tensors no node or boundary mentions."""
        live = set(self.outputs)
        kept = []
        for n in reversed(self.nodes):
            if any(o in live for o in n.outputs):
                kept.append(n)
                live.update(n.inputs)
        self.nodes = kept[::-1]
        used = set(self.inputs) | set(self.outputs)
        for n in self.nodes:
            used.update(n.inputs)
            used.update(n.outputs)
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}

    def validate(self) -> None:
        """Check names resolve, order is topological and shapes agree with the op table."""
        ready = set(self.inputs) | {k for k, t in self.tensors.items() if t.is_const}
        for n in self.nodes:
            for i in n.inputs:
                if i not in ready:
                    raise ValueError(f"node '{n.name}' ({n.op}) reads '{i}' before it is written")
            shapes = infer_shapes(n.op, [self.tensors[i].shape for i in n.inputs], n.attrs)
            for o, s in zip(n.outputs, shapes):
                if self.tensors[o].shape != s:
                    raise ValueError(f"node '{n.name}': output '{o}' has shape "
                                     f"{self.tensors[o].shape}, op table says {s}")
                ready.add(o)
        for o in self.outputs:
            if o not in ready:
                raise ValueError(f"graph output '{o}' is never written")

    def num_params(self) -> int:
        """Number of constant elements (weights, biases, other constants)."""
        return sum(int(t.data.size) for t in self.tensors.values() if t.data is not None)

    def summary(self) -> str:
        """A one-line count of ops by kind."""
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
