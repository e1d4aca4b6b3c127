"""The ONNX frontend: reads an ONNX model (opsets 9..21 of the default domain) into the IR.

The walk: load the model (upgrading opsets 7 and 8 with onnx.version_converter), declare its
initializers as constants and its other inputs with static shapes, then visit the nodes in their
(topological) order. A node whose inputs are all constants and that has a numpy folder
(onnx_fold.FOLDERS) is evaluated at once; any other node goes to its converter (CONVERTERS: those
of onnx_ops.py and onnx_qdq.py), which emits IR nodes through `ImportContext.emit`. emit folds too:
an IR node whose inputs are all constants is evaluated with the numpy reference instead of being
added, so constant subgraphs of any supported op leave no node behind. Finally each ONNX output
gets an IR tensor of the same name.

QDQ models (QuantizeLinear / DequantizeLinear, onnx_qdq.py) import as float graphs whose tensors
carry the model's quantization parameters (Tensor.quant); a constant made by moving an annotated
one (a weight's transpose to the IR layout) carries the annotation along.

Limits: float32 activations only; static shapes only (dynamic dims come from `input_shapes` or are a
batch of 1); no subgraphs (If, Loop), no custom domains, no local functions.
"""
from __future__ import annotations

import copy
import functools
import inspect
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper, version_converter

from ..errors import ModelError, UnsupportedOpError
from ..ir import Graph, QuantParams, ShapeError, fill_attrs, infer_shapes
from .onnx_fold import FOLDERS, attribute_value
from .onnx_ops import CONVERTERS as OP_CONVERTERS
from .onnx_qdq import CONVERTERS as QDQ_CONVERTERS, folded_quant, moved_quant

OPSETS = range(9, 22)  # default-domain opsets read directly
UPGRADABLE = (7, 8)  # opsets converted to UPGRADE_TO first
UPGRADE_TO = 9
DEFAULT_DOMAINS = ("", "ai.onnx")
CONVERTERS = {**OP_CONVERTERS, **QDQ_CONVERTERS}


def load_onnx(model: str | os.PathLike | onnx.ModelProto,
              input_shapes: Optional[dict[str, tuple]] = None,
              source: Optional[str] = None) -> Graph:
    """Import an ONNX model (a path or a ModelProto) into an IR graph.

    Graph inputs keep their ONNX names, NCHW layout and float32 dtype. Dynamic dims are taken from
    input_shapes ({name: shape}); a symbolic first (batch) dim defaults to 1; any other dynamic dim
    is a ModelError. `source` names the model in errors and metadata (default: the file name).
    Raises ModelError for a model that cannot be read, UnsupportedOpError for an op or attribute
    value tinyedge does not support."""
    proto, source, name = _read(model, source)
    proto = _upgrade(proto, source)
    ctx = ImportContext(source, _default_opset(proto, source), proto.graph)
    ctx.declare(proto.graph, dict(input_shapes or {}))
    for index, node in enumerate(proto.graph.node):
        ctx.convert(node, index)
    ctx.bind_outputs(proto.graph.output)

    graph = ctx.graph
    graph.remove_unused()
    graph.validate()
    graph.meta.update(name=proto.graph.name or name, source=source,
                      input_layouts=",".join(_layout(graph.tensors[i].shape) for i in graph.inputs),
                      output_layouts=",".join(_layout(graph.tensors[o].shape) for o in graph.outputs))
    return graph


def _layout(shape) -> str:
    return "NCHW" if len(shape) == 4 else "-"


def _read(model, source: Optional[str]) -> tuple[onnx.ModelProto, str, str]:
    """The ModelProto, the source name for messages and the model's default name."""
    if isinstance(model, onnx.ModelProto):
        return model, source or "<ModelProto>", "model"
    path = Path(model)
    source = source or path.name
    if not path.is_file():
        raise ModelError(f"{source}: no such file ({path})")
    try:
        return onnx.load(str(path)), source, path.stem
    except Exception as e:  # protobuf and external-data errors have no common base class
        raise ModelError(f"{source}: not a readable ONNX model: {e}") from e


def _default_opset(proto: onnx.ModelProto, source: str) -> int:
    versions = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions:
        raise ModelError(f"{source}: the model imports no opset of the default ONNX domain")
    return versions[0]


def _upgrade(proto: onnx.ModelProto, source: str) -> onnx.ModelProto:
    """Convert opsets 7 and 8 to UPGRADE_TO; refuse opsets outside 7..21."""
    opset = _default_opset(proto, source)
    if opset in OPSETS:
        return proto
    if opset not in UPGRADABLE:
        raise ModelError(f"{source}: ONNX opset {opset} is not supported; tinyedge reads opsets "
                         f"{OPSETS.start}..{OPSETS.stop - 1} (and upgrades {UPGRADABLE[0]} and "
                         f"{UPGRADABLE[1]})")
    # The converter only sees initializers that are also graph inputs (the IR 3 rule of that era).
    proto = _with_initializers_as_inputs(proto)
    try:
        return version_converter.convert_version(proto, UPGRADE_TO)
    except Exception as e:  # the converter raises bare RuntimeErrors and C++ exceptions
        raise ModelError(f"{source}: cannot upgrade ONNX opset {opset} to {UPGRADE_TO}: {e}") from e


def _with_initializers_as_inputs(proto: onnx.ModelProto) -> onnx.ModelProto:
    listed = {vi.name for vi in proto.graph.input}
    missing = [t for t in proto.graph.initializer if t.name not in listed]
    if not missing:
        return proto
    proto = copy.deepcopy(proto)
    proto.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, t.dims)
                             for t in missing)
    return proto


@functools.lru_cache(maxsize=None)
def _signature(fn) -> tuple[int, int, bool, frozenset, frozenset]:
    """(required inputs, max inputs, variadic?, attribute names, required attribute names)."""
    params = list(inspect.signature(fn).parameters.values())[1:]  # skip ctx
    positional = [p for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    required = sum(p.default is p.empty for p in positional)
    variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
    keywords = [p for p in params if p.kind == p.KEYWORD_ONLY]
    return (required, len(positional), variadic, frozenset(p.name for p in keywords),
            frozenset(p.name for p in keywords if p.default is p.empty))


class ImportContext:
    """The state of one import, and the toolkit the converters use.

    Converters see: `opset`, `node_name`, `shape(t)`, `value(t)` (a constant's array or None),
    `const(array, label, quant)`, `emit(op, inputs, label, **attrs)` and `fail(detail)`. Tensors are
    IR tensor names; an absent optional input is None. The QDQ converters also see the ONNX side:
    `onnx_node`, `onnx_readers` (value name -> nodes reading it), `onnx_outputs`, and keep the
    QuantizeLinear outputs waiting for their DequantizeLinear in `quantized`."""

    def __init__(self, source: str, opset: int, onnx_graph: onnx.GraphProto):
        self.source, self.opset = source, opset
        self.graph = Graph()
        self.names: dict[str, str] = {}  # ONNX value name -> IR tensor name
        self.op_type = self.node_name = ""
        # ONNX names are kept for the tensors they name, so no IR-made name may take one of them.
        self._reserved = {v.name for v in list(onnx_graph.input) + list(onnx_graph.output)}
        self._reserved |= {t.name for t in onnx_graph.initializer}
        self.onnx_outputs = {o.name for o in onnx_graph.output}
        self._consumed = set(self.onnx_outputs)
        self.onnx_readers: dict[str, list[onnx.NodeProto]] = {}
        for n in onnx_graph.node:
            self._reserved.update(n.input)
            self._reserved.update(n.output)
            self._consumed.update(n.input)
            for i in n.input:
                self.onnx_readers.setdefault(i, []).append(n)
        self.onnx_node: Optional[onnx.NodeProto] = None
        self.quantized: dict[str, tuple] = {}  # see onnx_qdq.QuantizeLinear
        self._node_names: set[str] = set()
        self._made: list[str] = []  # tensors created while converting the current node

    # -- the converters' toolkit -----------------------------------------------------------------
    def shape(self, tensor: str) -> tuple[int, ...]:
        """The static shape of an IR tensor."""
        return self.graph.tensors[tensor].shape

    def value(self, tensor: Optional[str]) -> Optional[np.ndarray]:
        """A constant tensor's array; None for an activation or an absent input."""
        if tensor is None:
            return None
        return self.graph.tensors[tensor].data

    def const(self, array: np.ndarray, label: str, quant: Optional[QuantParams] = None) -> str:
        """Add a constant made for the current node, with its quantization parameters if it has
        any; returns its IR name."""
        name = self.graph.add_const(self._fresh(f"{self.node_name}/{label}"), np.asarray(array))
        self.graph.tensors[name].quant = quant
        self._made.append(name)
        return name

    def emit(self, op: str, inputs: Sequence[Optional[str]], label: Optional[str] = None,
             **attrs) -> str:
        """Add IR node `op` (its node named after the ONNX node, plus /label) and return its output.

        When every input is a constant the op is evaluated with the numpy reference instead and
        its value is returned as a new constant (a transpose or reshape keeps the annotation)."""
        inputs = [i for i in inputs if i is not None]  # only trailing optional inputs are absent
        if all(self.graph.tensors[i].is_const for i in inputs):
            from ..reference import evaluate

            filled = fill_attrs(op, attrs)
            infer_shapes(op, [self.shape(i) for i in inputs], filled)  # the op table's checks
            value = evaluate(op, [self.value(i) for i in inputs], filled)[0]
            quant = None
            if op in ("transpose", "reshape"):
                quant = moved_quant(self.graph.tensors[inputs[0]].quant, self.shape(inputs[0]),
                                    value.shape, filled["perm"] if op == "transpose" else None)
            return self.const(value, label or op, quant)
        name = self._unique_node_name(f"{self.node_name}/{label}" if label else self.node_name)
        out = self.graph.add_node(op, list(inputs), attrs, name=name, outputs=[self._fresh(name)])[0]
        self._made.append(out)
        return out

    def fail(self, detail: str):
        """Raise UnsupportedOpError for the current node."""
        raise UnsupportedOpError(self.op_type, self.node_name, self.source, detail)

    # -- the walk ------------------------------------------------------------------------------------
    def declare(self, g: onnx.GraphProto, input_shapes: dict) -> None:
        """Add the initializers as constants and the remaining graph inputs as float32 inputs."""
        if len(g.sparse_initializer):
            raise ModelError(f"{self.source}: sparse initializers are not supported")
        for init in g.initializer:
            self.names[init.name] = self.graph.add_const(init.name, numpy_helper.to_array(init))
        inputs = [vi for vi in g.input if vi.name not in self.names]  # initializers listed as inputs
        unknown = set(input_shapes) - {vi.name for vi in inputs}
        if unknown:
            raise ModelError(f"{self.source}: input_shapes names {sorted(unknown)}, but the model's "
                             f"inputs are {[vi.name for vi in inputs]}")
        for vi in inputs:
            elem = vi.type.tensor_type.elem_type
            if elem != onnx.TensorProto.FLOAT:
                raise ModelError(f"{self.source}: input '{vi.name}' is "
                                 f"{onnx.TensorProto.DataType.Name(elem)}; only float32 inputs "
                                 "are supported")
            shape = _input_shape(vi, input_shapes.get(vi.name), self.source)
            self.names[vi.name] = self.graph.add_input(vi.name, shape)

    def convert(self, node: onnx.NodeProto, index: int) -> None:
        """Fold or convert one ONNX node and bind its outputs."""
        self.op_type, self.onnx_node = node.op_type, node
        self.node_name = self._unique_node_name(node.name or f"{node.op_type}_{index}", claim=False)
        self._made = []
        try:
            self._convert(node)
        except (ShapeError, ValueError) as e:
            raise ModelError(f"{self.source}: node '{self.node_name}' ({node.op_type}): {e}") from e

    def bind_outputs(self, outputs) -> None:
        """Make the IR graph outputs carry the ONNX output names (copying aliases of other tensors)."""
        for vi in outputs:
            if vi.name not in self.names:
                raise ModelError(f"{self.source}: graph output '{vi.name}' is never computed")
            t = self.names[vi.name]
            if self.graph.tensors[t].is_const:
                raise ModelError(f"{self.source}: graph output '{vi.name}' is a constant (it does "
                                 "not depend on any input); tinyedge needs outputs computed at run time")
            if t != vi.name or t in self.graph.outputs:
                # An alias (Identity, Dropout of another tensor): a same-shape reshape is the copy.
                self.node_name = self._unique_node_name(f"{vi.name}/copy")
                name = vi.name if vi.name not in self.graph.tensors else self._fresh(vi.name)
                quant = self.graph.tensors[t].quant
                t = self.graph.add_node("reshape", [t], {"shape": self.shape(t)},
                                        name=self.node_name, outputs=[name])[0]
                self.graph.tensors[t].quant = quant  # a copy: the same values
            self.graph.outputs.append(t)

    def _convert(self, node: onnx.NodeProto) -> None:
        op = node.op_type
        if node.domain not in DEFAULT_DOMAINS:
            self.fail(f"domain '{node.domain}' is not supported; tinyedge reads the default ONNX "
                      f"domain (opsets {OPSETS.start}..{OPSETS.stop - 1})")
        inputs = [self._input(i) if i else None for i in node.input]
        attrs = {a.name: attribute_value(a) for a in node.attribute}
        all_const = all(i is None or self.graph.tensors[i].is_const for i in inputs)
        if all_const and op in FOLDERS:
            results = self._call(FOLDERS[op], [self.value(i) for i in inputs], attrs)
            source = self.graph.tensors[inputs[0]] if inputs and inputs[0] else None
            arrays = [np.asarray(r) for r in _as_list(results)]
            quants = [folded_quant(op, attrs, source, arrays[0])] + [None] * (len(arrays) - 1)
            results = [self.const(a, f"out{k}", q) for k, (a, q) in enumerate(zip(arrays, quants))]
        elif op in CONVERTERS:
            results = _as_list(self._call(CONVERTERS[op], inputs, attrs))
        elif op in FOLDERS:
            live = [n for n, i in zip(node.input, inputs) if i and not self.graph.tensors[i].is_const]
            self.fail(f"{op} is supported only on constant inputs (it is evaluated at import), but "
                      f"input '{live[0]}' is computed at run time")
        else:
            self.fail("supported ONNX ops: " + ", ".join(sorted(set(CONVERTERS) | set(FOLDERS))))
        for k, onnx_name in enumerate(node.output):
            if not onnx_name:
                continue
            if k >= len(results) or results[k] is None:
                if onnx_name in self._consumed:
                    self.fail(f"output {k} ('{onnx_name}') is not supported; only the first "
                              f"{sum(r is not None for r in results)} output(s) can be used")
                continue
            self.names[onnx_name] = self._claim(results[k], onnx_name)

    def _call(self, fn, args: list, attrs: dict):
        """Call a converter or folder after checking its inputs and attributes against its signature."""
        required, most, variadic, known, needed = _signature(fn)
        while args and args[-1] is None:
            args = args[:-1]
        if len(args) > most and not variadic:
            self.fail(f"{len(args)} inputs given; tinyedge supports at most {most}")
        missing = [k for k in range(required) if k >= len(args) or args[k] is None]
        if missing:
            raise ModelError(f"{self.source}: node '{self.node_name}' ({self.op_type}): required "
                             f"input {missing[0]} is missing")
        unknown = sorted(set(attrs) - known)
        if unknown:
            self.fail(f"attribute '{unknown[0]}' is not supported (supported: "
                      f"{', '.join(sorted(known)) or 'none'})")
        if needed - set(attrs):
            raise ModelError(f"{self.source}: node '{self.node_name}' ({self.op_type}): required "
                             f"attribute '{sorted(needed - set(attrs))[0]}' is missing")
        return fn(self, *args, **attrs)

    def _input(self, onnx_name: str) -> str:
        if onnx_name not in self.names:
            raise ModelError(f"{self.source}: node '{self.node_name}' ({self.op_type}) reads "
                             f"'{onnx_name}', which no input, initializer or earlier node defines")
        return self.names[onnx_name]

    def _claim(self, tensor: str, onnx_name: str) -> str:
        """Rename a tensor made for this node to the ONNX name it computes; aliases stay as they are."""
        if tensor not in self._made or onnx_name in self.graph.tensors:
            return tensor
        t = self.graph.tensors.pop(tensor)
        t.name = onnx_name
        self.graph.tensors[onnx_name] = t
        for n in self.graph.nodes[-len(self._made):]:  # only this node's IR nodes can mention it
            n.inputs = [onnx_name if i == tensor else i for i in n.inputs]
            n.outputs = [onnx_name if o == tensor else o for o in n.outputs]
        self._made = [onnx_name if m == tensor else m for m in self._made]
        return onnx_name

    def _fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.graph.tensors or name in self._reserved:
            name, i = f"{base}_{i}", i + 1
        return name

    def _unique_node_name(self, base: str, claim: bool = True) -> str:
        """An IR node name not used yet; `claim` marks it used."""
        name, i = base, 1
        while name in self._node_names:
            name, i = f"{base}_{i}", i + 1
        if claim:
            self._node_names.add(name)
        return name


def _as_list(results) -> list:
    return list(results) if isinstance(results, (list, tuple)) else [results]


def _input_shape(vi: onnx.ValueInfoProto, given: Optional[Sequence[int]], source: str) -> tuple:
    """A graph input's static shape: `given`, else its declared dims with a symbolic batch of 1."""
    tt = vi.type.tensor_type
    declared = None
    if tt.HasField("shape"):
        # dim_value 0 is how some exporters write "unknown"; a zero-size input is not useful anyway.
        declared = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else
                    (d.dim_param or "?") for d in tt.shape.dim]
    if given is not None:
        shape = tuple(int(d) for d in given)
        if declared is not None and (len(declared) != len(shape) or any(
                isinstance(d, int) and d != s for d, s in zip(declared, shape))):
            raise ModelError(f"{source}: input_shapes gives '{vi.name}' the shape {shape}, but the "
                             f"model declares {_pretty(declared)}")
        if any(d < 1 for d in shape):
            raise ModelError(f"{source}: input_shapes gives '{vi.name}' the shape {shape}; every "
                             "dim must be >= 1")
        return shape
    dims = list(declared) if declared is not None else None
    if dims and not isinstance(dims[0], int):
        dims[0] = 1  # a symbolic batch dim: one sample at a time
    if dims is None or not all(isinstance(d, int) for d in dims):
        what = "no declared shape" if dims is None else f"dynamic dims {_pretty(declared)}"
        raise ModelError(f"{source}: input '{vi.name}' has {what}; pass --input-shape "
                         f"{vi.name}=d0,d1,... (input_shapes={{'{vi.name}': (...)}} in Python)")
    return tuple(dims)


def _pretty(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


__all__ = ["load_onnx", "ImportContext"]
