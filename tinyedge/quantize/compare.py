"""Measure how far an INT8 (or mixed) graph departs from its float graph, tensor by tensor: SQNR.

Both graphs run on the same samples with the numpy reference. A tensor of the float graph keeps its
name in the quantized one (tinyedge.quantize.quantizer), so each is compared by name, the INT8 one
dequantized with its own parameters: SQNR = 10 log10(sum ref^2 / sum (ref - q)^2), inf when equal.

The quantized graph is run incrementally: a node that is the same float node as in the float graph
(same name, op, attributes, tensors) and reads only such unchanged values produces the float graph's
value, so only the nodes downstream of a change run again. The float graph's values are cached per
sample within a memory budget (recomputed beyond it), which makes measuring many variants of one
model (the --min-sqnr search) cost about the changed part of each.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import numpy as np

from ..ir import Graph
from ..reference import run_all
from .fixed_point import dequantize_value, quantize_value

CACHE_BYTES = 256 << 20  # float activations kept across measurements; beyond it, recomputed


def sqnr_db(signal: float, noise: float) -> float:
    """10 log10(signal / noise) in dB; inf when noise is 0 (also for a zero signal), -inf for a
    zero signal with noise."""
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


@dataclass
class _Plan:
    """The part of a quantized graph that must run again: its nodes, and the float graph's values
    (or quantized graph inputs) they read."""

    graph: Graph
    from_float: list[str]  # unchanged activations read by changed nodes
    quantized_inputs: list[str]  # graph inputs that are int8 in the quantized graph


def _same_const(a, b) -> bool:
    return a.data is b.data or (a.dtype == b.dtype and a.shape == b.shape
                                and np.array_equal(a.data, b.data))


def _plan(float_graph: Graph, qgraph: Graph) -> _Plan:
    fnodes = {n.name: n for n in float_graph.nodes}
    clean = {t for t in qgraph.inputs if t in float_graph.tensors
             and qgraph.tensors[t].dtype == float_graph.tensors[t].dtype}

    def unchanged_input(t: str) -> bool:
        if qgraph.tensors[t].is_const:
            return t in float_graph.tensors and float_graph.tensors[t].is_const and \
                _same_const(qgraph.tensors[t], float_graph.tensors[t])
        return t in clean

    dirty = []
    for n in qgraph.nodes:
        f = fnodes.get(n.name)
        same = (f is not None and f.op == n.op and f.inputs == n.inputs and f.outputs == n.outputs
                and f.attrs == n.attrs and all(unchanged_input(t) for t in n.inputs)
                and all(qgraph.tensors[o].dtype == float_graph.tensors[o].dtype for o in n.outputs))
        if same:
            clean.update(n.outputs)
        else:
            dirty.append(n)
    read = dict.fromkeys(t for n in dirty for t in n.inputs if not qgraph.tensors[t].is_const)
    written = {o for n in dirty for o in n.outputs}
    from_float = [t for t in read if t in clean]
    quantized = [t for t in qgraph.inputs if t not in clean and (t in read or t in qgraph.outputs)]
    missing = [t for t in read if t not in clean and t not in written and t not in quantized]
    if missing:
        raise ValueError(f"compare: tensors {missing} of the quantized graph have no source")
    sub = Graph(tensors=qgraph.tensors, nodes=dirty, inputs=from_float + quantized, outputs=[])
    return _Plan(sub, from_float, quantized)


class Comparison:
    """The float graph run on calibration samples, against which quantized variants are measured.

    samples: {input name: (N, *input_shape) float32}, as tinyedge.quantize.calib_data returns."""

    def __init__(self, float_graph: Graph, samples: dict[str, np.ndarray], cache_bytes: int = CACHE_BYTES):
        self.graph = float_graph
        self.samples = samples
        self.count = int(next(iter(samples.values())).shape[0]) if samples else 0
        self._cache: dict[int, dict[str, np.ndarray]] = {}
        self._budget = cache_bytes

    def inputs(self, i: int) -> dict[str, np.ndarray]:
        """Sample i as the float graph's inputs."""
        return {name: np.ascontiguousarray(self.samples[name][i], dtype=np.float32)
                for name in self.graph.inputs}

    def float_values(self, i: int) -> dict[str, np.ndarray]:
        """Every activation of the float graph on sample i (cached while the budget allows)."""
        if i in self._cache:
            return self._cache[i]
        values = run_all(self.graph, self.inputs(i))
        size = sum(v.nbytes for v in values.values())
        if size <= self._budget:
            self._cache[i] = values
            self._budget -= size
        return values

    def measure(self, qgraph: Graph, names: Iterable[str], indices: Optional[Iterable[int]] = None,
                progress: Optional[Callable[[int, int], None]] = None) -> dict[str, float]:
        """SQNR (dB) of each named tensor of qgraph against the float graph's tensor of that name,
        over the samples `indices` (all by default). A name missing from qgraph is skipped."""
        names = [n for n in dict.fromkeys(names) if n in qgraph.tensors and n in self.graph.tensors]
        indices = list(range(self.count) if indices is None else indices)
        plan = _plan(self.graph, qgraph)
        signal = dict.fromkeys(names, 0.0)
        noise = dict.fromkeys(names, 0.0)
        for k, i in enumerate(indices):
            ref = self.float_values(i)
            given = {t: ref[t] for t in plan.from_float}
            for t in plan.quantized_inputs:
                q = qgraph.tensors[t].quant
                given[t] = quantize_value(ref[t], q.scale[0], int(q.zero_point[0])).astype(np.int8)
            got = run_all(plan.graph, given) if plan.graph.nodes or given else {}
            for name in names:
                want = ref[name].astype(np.float64)
                value = got.get(name)
                if value is None:  # unchanged: equal to the float value
                    signal[name] += float(np.sum(want * want))
                    continue
                t = qgraph.tensors[name]
                if t.dtype == "int8":
                    value = dequantize_value(value, t.quant.scale[0], int(t.quant.zero_point[0]))
                diff = want - np.asarray(value, np.float64)
                signal[name] += float(np.sum(want * want))
                noise[name] += float(np.sum(diff * diff))
            if progress:
                progress(k + 1, len(indices))
        return {name: sqnr_db(signal[name], noise[name]) for name in names}
