"""The graph rewrite from a float IR graph to an INT8 one (docs/quantization.md is the contract).

Given activation ranges, every node that has an INT8 form and is not kept in float becomes INT8:
- its activations are int8 with per-tensor (scale, zero_point) from the calibrated range, or the
  parameters the source model already carried (QDQ models), or the ones the op fixes (softmax,
  sigmoid, tanh) or inherits from its input (pools, pad, movement, resize);
- conv2d / fully_connected weights become int8 symmetric per output channel (or per tensor), their
  bias int32 in the accumulator's scale s_x * s_w[c]; other constant operands int8 per tensor;
- sigmoid, tanh, hard_sigmoid, hard_swish and leaky_relu become `lut` with a table constant, softmax
  gains its exp_table constant; fused clamps stay float attributes (the kernels derive the bounds).
Where an int8 tensor meets a float reader a `dequantize` is inserted, and a `quantize` where a float
tensor meets an int8 reader: one per tensor, right after its producer. Node names, graph input and
output names and shapes are kept; the tensors of the float graph keep their names on the tensor
that holds their value (int8 or float), so reports can compare them by name.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from ..errors import TinyEdgeError
from ..ir import OPS, Graph, Node, QuantParams, Tensor
from . import tables
from .fixed_point import quantize_value

# Ops whose INT8 output must carry its input's parameters (docs/quantization.md, table).
SAME_PARAMS = frozenset({"max_pool2d", "avg_pool2d", "pad", "reshape", "transpose", "slice", "resize"})
WEIGHTED = frozenset({"conv2d", "fully_connected"})
BORDER_OPS = frozenset({"quantize", "dequantize", "lut"})  # made by the quantizer, never rewritten
INT32_MAX = 2**31 - 1
IO_MODES = ("float", "int8")


@dataclass
class QuantOptions:
    """How to quantize: calibration method, weight granularity, layers kept float, the --min-sqnr
    target (dB; None: no search) and whether the model's inputs/outputs are float32 or raw int8."""

    method: str = "minmax"
    per_channel: bool = True
    float_layers: tuple[str, ...] = ()
    min_sqnr: Optional[float] = None
    io: str = "float"


@dataclass
class Rewrite:
    """What `rewrite` produced: the INT8 graph, the nodes it made INT8 and any warnings."""

    graph: Graph
    int8_nodes: list[str]
    warnings: list[str] = field(default_factory=list)


Params = tuple[float, int]  # (scale as float32-exact float, zero point) of one int8 tensor


def int8_blocker(graph: Graph, node: Node) -> Optional[str]:
    """Why node cannot run in INT8 (a short reason), or None when it can."""
    if node.op in BORDER_OPS:
        return f"{node.op} is a quantization border op"
    if not (OPS[node.op].int8 or node.op in tables.LUT_OPS):
        return f"{node.op} has no INT8 form"
    tensors = [graph.tensors[t] for t in node.inputs + node.outputs]
    bad = [t.name for t in tensors if t.dtype != "float32"]
    if bad:
        return f"tensor(s) {', '.join(bad)} are not float32"
    if node.op in WEIGHTED and not all(graph.is_const(t) for t in node.inputs[1:]):
        return f"{node.op} with weights computed at run time (INT8 needs constant weights)"
    if node.op == "softmax" and len(node.inputs) > 1:
        return "softmax already has an exp_table"
    return None


def quantizable_layers(graph: Graph) -> list[str]:
    """Names of the nodes that can run in INT8, in graph order."""
    return [n.name for n in graph.nodes if int8_blocker(graph, n) is None]


def check_float_layers(graph: Graph, names) -> None:
    """Raise TinyEdgeError when a name of --float-layers is not a node of graph (with close matches)."""
    known = [n.name for n in graph.nodes]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
            hint = (f"close matches: {', '.join(close)}" if close else
                    "`tinyedge inspect MODEL` lists the layer names")
            raise TinyEdgeError(f"--float-layers: no layer named '{name}' in the model; {hint}")


def preset_params(quant: Optional[QuantParams]) -> Optional[Params]:
    """The (scale, zero_point) of a per-tensor int8 annotation the source model carried, if usable."""
    if quant is None or quant.axis is not None or np.size(quant.scale) != 1:
        return None
    s = float(np.float32(np.asarray(quant.scale).reshape(-1)[0]))
    z = int(np.asarray(quant.zero_point).reshape(-1)[0])
    return (s, z) if np.isfinite(s) and s > 0 and -128 <= z <= 127 else None


def per_tensor(params: Params) -> QuantParams:
    """QuantParams of one (scale, zero_point) pair."""
    return QuantParams(scale=np.array([params[0]], np.float32),
                       zero_point=np.array([params[1]], np.int32), axis=None)


class _Rewriter:
    """One rewrite of `src` into a new graph (see the module docstring for the rules)."""

    def __init__(self, src: Graph, ranges: dict, per_channel: bool, float_layers, io: str):
        from .calibration import qparams_from_range, weight_scales

        self.qparams_from_range, self.weight_scales = qparams_from_range, weight_scales
        self.src, self.ranges, self.per_channel, self.io = src, ranges, per_channel, io
        keep_float = set(float_layers)
        self.int8 = {n.name for n in src.nodes
                     if n.name not in keep_float and int8_blocker(src, n) is None}
        self.out = Graph(inputs=list(src.inputs), outputs=list(src.outputs), meta=dict(src.meta))
        self.warnings: list[str] = []
        self.params: dict[str, Params] = {}  # tensor of the float graph -> its int8 version's params
        self.int8_name: dict[str, str] = {}
        self.float_name: dict[str, str] = {}
        self.node_names = {n.name for n in src.nodes}
        self.taken = set(src.tensors)  # one namespace for every tensor of both graphs
        self.claimed: set[str] = set()  # src constants whose name an INT8 version took over
        self.producer = {o: n for n in src.nodes for o in n.outputs}
        self._plan_names()

    # -- which version of each activation exists, and under which name ---------------------------
    def _activation(self, t: str) -> bool:
        return not self.src.is_const(t) and self.src.tensors[t].dtype == "float32"

    def _home_int8(self, t: str) -> bool:
        if t in self.src.inputs:
            return self.io == "int8"
        n = self.producer.get(t)
        return n is not None and n.name in self.int8

    def _plan_names(self) -> None:
        need_int8, need_float = set(), set()
        self.float_const_readers = set()
        for n in self.src.nodes:
            for t in n.inputs:
                if self.src.is_const(t):
                    if n.name not in self.int8:
                        self.float_const_readers.add(t)
                elif self._activation(t):
                    (need_int8 if n.name in self.int8 else need_float).add(t)
        for t in self.src.outputs:
            if self._activation(t):
                (need_int8 if self.io == "int8" else need_float).add(t)
        for t in [t for t in self.src.activations() if self._activation(t)]:
            # A graph output keeps its name on the version the boundary wants (io); the other
            # version of a tensor gets a fresh name.
            renamed = t in self.src.outputs and self._home_int8(t) != (self.io == "int8")
            if self._home_int8(t):
                self.int8_name[t] = self._fresh(f"{t}_q") if renamed else t
                if t in need_float:
                    self.float_name[t] = t if renamed else self._fresh(f"{t}_dq")
            else:
                self.float_name[t] = self._fresh(f"{t}_f") if renamed else t
                if t in need_int8:
                    self.int8_name[t] = t if renamed else self._fresh(f"{t}_q")

    def _fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name

    # -- parameters ------------------------------------------------------------------------------
    def _calibrated(self, t: str) -> Params:
        preset = preset_params(self.src.tensors[t].quant)
        if preset is not None:
            return preset
        if t not in self.ranges:
            raise TinyEdgeError(f"quantize: no calibrated range for tensor '{t}'")
        s, z = self.qparams_from_range(*self.ranges[t])
        return float(np.float32(s)), int(z)

    def _output_params(self, node: Node, t: str) -> Params:
        if node.op in SAME_PARAMS:
            return self.params[node.inputs[0]]
        fixed = tables.fixed_output_params(node.op)
        return fixed if fixed is not None else self._calibrated(t)

    # -- emitting nodes --------------------------------------------------------------------------
    def _node_name(self, base: str) -> str:
        name, i = base, 1
        while name in self.node_names:
            name, i = f"{base}_{i}", i + 1
        self.node_names.add(name)
        return name

    def _emit(self, op: str, inputs: list[str], attrs: dict, name: str, outputs: list[str],
              dtype: str) -> None:
        self.out.add_node(op, inputs, attrs, name=name, outputs=outputs, dtype=dtype)

    def _set_int8(self, t: str, params: Params) -> None:
        self.params[t] = params
        self.out.tensors[self.int8_name[t]].quant = per_tensor(params)

    def _borders(self, t: str) -> None:
        """The quantize or dequantize that gives t's other version, right after t is written."""
        if self._home_int8(t) and t in self.float_name:
            self._emit("dequantize", [self.int8_name[t]], {}, self._node_name(f"{t}/dequantize"),
                       [self.float_name[t]], "float32")
        elif not self._home_int8(t) and t in self.int8_name:
            self._emit("quantize", [self.float_name[t]], {}, self._node_name(f"{t}/quantize"),
                       [self.int8_name[t]], "int8")
            self._set_int8(t, self._calibrated(t))

    def _const(self, name: str, array: np.ndarray, quant: Optional[QuantParams] = None) -> str:
        """Add an INT8-side constant derived from src constant `name`: under that name when no float
        node reads the original and no other INT8 version took it, else under a fresh one."""
        if name in self.float_const_readers or name in self.claimed:
            name = self._fresh(f"{name}_q")
        self.claimed.add(name)
        return self._new_const(name, array, quant)

    def _new_const(self, name: str, array: np.ndarray, quant: Optional[QuantParams] = None) -> str:
        arr = np.ascontiguousarray(array)
        self.out.tensors[name] = Tensor(name, tuple(arr.shape), str(arr.dtype), arr, quant)
        return name

    def _float_const(self, name: str) -> str:
        if name not in self.out.tensors:
            self.out.tensors[name] = replace(self.src.tensors[name], quant=None)
        return name

    def run(self) -> Rewrite:
        for t in self.src.inputs:
            t_in = self.src.tensors[t]
            if not self._activation(t):
                self.out.tensors[t] = replace(t_in)
                continue
            # An input keeps its name: io decides its dtype (a float tensor drops any QDQ annotation).
            self.out.tensors[t] = replace(t_in, dtype="int8" if self._home_int8(t) else "float32",
                                          quant=None)
            if self._home_int8(t):
                self._set_int8(t, self._calibrated(t))
            self._borders(t)
        for node in self.src.nodes:
            if node.name in self.int8:
                self._int8_node(node)
            else:
                inputs = [self._float_const(t) if self.src.is_const(t) else self.float_name.get(t, t)
                          for t in node.inputs]
                outputs = [self.float_name.get(t, t) for t in node.outputs]
                self._emit(node.op, inputs, dict(node.attrs), node.name, outputs,
                           self.src.tensors[node.outputs[0]].dtype)
            for t in node.outputs:
                if self._activation(t):
                    self._borders(t)
        for t in self.src.outputs:  # a constant graph output stays as it is
            if self.src.is_const(t):
                self._float_const(t)
        self.out.remove_unused()
        self.out.validate()
        order = [n.name for n in self.src.nodes if n.name in self.int8]
        return Rewrite(self.out, order, self.warnings)

    # -- one INT8 node ---------------------------------------------------------------------------
    def _int8_node(self, node: Node) -> None:
        x = node.inputs[0]
        inputs = [self._int8_operand(t) for t in node.inputs]
        attrs, op = dict(node.attrs), node.op
        if op in WEIGHTED:
            inputs[1:] = self._weights(node)
        elif op == "softmax":
            table = tables.softmax_exp_table(self.params[x][0])
            inputs.append(self._new_const(self._fresh(f"{node.name}/exp_table"), table))
        elif op in tables.LUT_OPS:
            y_params = self._output_params(node, node.outputs[0])
            table = tables.lut_table(op, attrs, self.params[x], y_params)
            inputs.append(self._new_const(self._fresh(f"{node.name}/table"), table))
            op, attrs = "lut", {}
        self._emit(op, inputs, attrs, node.name, [self.int8_name[t] for t in node.outputs], "int8")
        for t in node.outputs:
            self._set_int8(t, self._output_params(node, t))

    def _int8_operand(self, t: str) -> str:
        """The int8 version of an activation, or of a constant operand (per tensor, its own range)."""
        if not self.src.is_const(t):
            return self.int8_name[t]
        data = self.src.const(t)
        params = preset_params(self.src.tensors[t].quant)
        if params is None:
            s, z = self.qparams_from_range(float(data.min()), float(data.max()))
            params = float(np.float32(s)), int(z)
        q = quantize_value(data, np.float32(params[0]), params[1]).astype(np.int8)
        self.params[t] = params
        return self._const(t, q, per_tensor(params))

    def _weights(self, node: Node) -> list[str]:
        """[int8 weight] or [int8 weight, int32 bias] of a conv2d / fully_connected node."""
        w_name = node.inputs[1]
        w = self.src.const(w_name)
        scales = self._weight_scales(w_name, w)
        s = scales.astype(np.float64).reshape((-1,) + (1,) * (w.ndim - 1))
        q = np.clip(np.rint(w.astype(np.float64) / s), -127, 127).astype(np.int8)
        axis = 0 if len(scales) > 1 else None
        quant = QuantParams(scale=scales, zero_point=np.zeros(len(scales), np.int32), axis=axis)
        if axis is not None and len(scales) != w.shape[0]:
            raise TinyEdgeError(f"quantize: node '{node.name}' ({node.op}): {len(scales)} weight "
                                f"scales for {w.shape[0]} output channels")
        out = [self._const(w_name, q, quant)]
        if len(node.inputs) > 2:
            out.append(self._bias(node, scales, w))
        return out

    def _weight_scales(self, name: str, w: np.ndarray) -> np.ndarray:
        """float32 scales of a weight: the source model's own when it carried usable ones."""
        quant = self.src.tensors[name].quant
        if quant is not None and quant.axis in (None, 0) and not np.any(quant.zero_point):
            scales = np.asarray(quant.scale, np.float32).reshape(-1)
            if (len(scales) in (1, w.shape[0]) and np.all(np.isfinite(scales))
                    and np.all(scales > 0)):
                return scales
        try:
            return np.asarray(self.weight_scales(w, self.per_channel), np.float32).reshape(-1)
        except ValueError as e:
            raise TinyEdgeError(f"quantize: weight '{name}': {e}") from None

    def _bias(self, node: Node, w_scales: np.ndarray, w: np.ndarray) -> str:
        """int32 bias in the accumulator's scale s_x * s_w[c], saturated (with a warning) so that
        bias plus the largest possible sum of products still fits the int32 accumulator (the int8
        reference refuses an accumulator that overflows, and C would wrap)."""
        b_name = node.inputs[2]
        b = self.src.const(b_name).astype(np.float64)
        acc_scale = np.float64(self.params[node.inputs[0]][0]) * w_scales.astype(np.float64)
        q = np.rint(b / acc_scale)
        # Each product |(x - z_x) * w| is at most 255 * 127. Beyond ~33000 products per output the
        # worst case leaves under half the range; real sums stay far below it, so keep 2^30.
        products = int(np.prod(w.shape[1:]))
        limit = max(INT32_MAX - products * 255 * 127, 2**30)
        over = np.count_nonzero(np.abs(q) > limit)
        if over:
            self.warnings.append(f"node '{node.name}' ({node.op}): {over} bias value(s) saturate "
                                 f"at +-{limit} (the int32 accumulator's headroom): the input's "
                                 f"scale is too small for them")
        return self._const(b_name, np.clip(q, -limit, limit).astype(np.int32))


def rewrite(graph: Graph, ranges: dict, per_channel: bool = True, float_layers=(),
            io: str = "float") -> Rewrite:
    """Rewrite the float graph into INT8 with the given activation ranges ({tensor: (lo, hi)}).

    float_layers names nodes to keep in float; io is "float" (quantize/dequantize at the edges) or
    "int8" (graph inputs and outputs are int8 tensors under their own names). graph is unchanged."""
    if io not in IO_MODES:
        raise TinyEdgeError(f"quantize: io '{io}' is not one of {', '.join(IO_MODES)}")
    check_float_layers(graph, float_layers)
    return _Rewriter(graph, ranges, per_channel, float_layers, io).run()


def quantize_graph(graph: Graph, samples: dict[str, np.ndarray], options: QuantOptions,
                   progress: Optional[Callable[[str, int, int], None]] = None):
    """Quantize an optimized float graph to INT8; return (int8 graph, QuantReport).

    samples are calibration inputs, (N, *input_shape) float32 per graph input. Activation ranges
    come from options.method (tinyedge.quantize.calibration); with options.min_sqnr set, the fewest
    layers needed for every output to reach that SQNR on the samples stay in float besides
    options.float_layers. progress(stage, done, total) is called as the stages advance."""
    from .calib_data import load_calibration
    from .calibration import collect_ranges
    from .compare import CACHE_BYTES, Comparison
    from .mixed import search_float_layers
    from .report import build_report

    if options.io not in IO_MODES:
        raise TinyEdgeError(f"quantize: io '{options.io}' is not one of {', '.join(IO_MODES)}")
    check_float_layers(graph, options.float_layers)
    tick = progress or (lambda stage, done, total: None)
    samples = load_calibration(samples, [(n, graph.tensors[n].shape, graph.tensors[n].dtype)
                                         for n in graph.inputs])
    ranges = collect_ranges(graph, samples, options.method,
                            progress=lambda done, total: tick("calibrate", done, total))
    # Float activations are cached across the search's many measurements, not for one report.
    comparison = Comparison(graph, samples, cache_bytes=0 if options.min_sqnr is None else CACHE_BYTES)
    search = None
    float_layers = tuple(options.float_layers)
    if options.min_sqnr is not None:
        search = search_float_layers(graph, samples, ranges, options, tick, comparison)
        float_layers = tuple(dict.fromkeys(float_layers + tuple(search.float_layers)))
    result = rewrite(graph, ranges, options.per_channel, float_layers, options.io)
    report = build_report(graph, result, samples, options, float_layers, search, tick, comparison)
    return result.graph, report
