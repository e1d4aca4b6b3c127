"""--min-sqnr: keep in float the fewest layers needed for every output to reach a target SQNR.

The algorithm, measured on the calibration samples against the float model:
1. Quantize everything. If every output reaches the target, nothing stays float.
2. Sensitivity: for each quantizable layer, the output SQNR with only that layer in INT8 (everything
   else float), on the first SENSITIVITY_SAMPLES samples. Its noise-to-signal ratio on the worst
   output ranks the layer: quantization noise adds up roughly along a network, so the layers whose
   own noise is largest are the ones worth keeping float. This finds a detection head's few
   sensitive layers (raw box outputs with a wide range, an outlier channel that dominates a
   per-tensor scale) and also pairs such as a wide-range tensor's producer and its readers, since
   both quantize that tensor.
3. Binary search, on all samples, for the shortest prefix of that ranking that reaches the target
   (assuming more float layers never hurt, which holds in practice but is not guaranteed).
4. Prune: try to put each chosen layer back into INT8, least sensitive first (at most MAX_PRUNE
   tries), keeping it float only if the target needs it. This removes layers the ranking placed
   early for an output that already reached the target.
Cost: one evaluation per quantizable layer on a few samples, then about log2(layers) + MAX_PRUNE
evaluations on all of them; each evaluation reruns only the part of the graph that changed
(tinyedge.quantize.compare). Limits: greedy, so not provably the minimum; with --io int8 the
quantized model inputs and outputs cap the SQNR even with every layer in float, and the search then
says that the target was not reached.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np

from ..errors import TinyEdgeError
from ..ir import Graph
from .compare import Comparison
from .quantizer import quantizable_layers, rewrite
from .report import int8_mac_share, json_safe

SENSITIVITY_SAMPLES = 8  # enough to rank layers; the search itself uses every sample
MAX_PRUNE = 24


@dataclass
class MixedSearch:
    """The outcome of the --min-sqnr search.

    float_layers: the layers the search keeps float (besides the user's --float-layers); outputs:
    each output's SQNR (dB) with them float; sensitivity: per layer, in ranking order, the worst
    output SQNR with only that layer in INT8; evaluations: quantized variants measured."""

    target_db: float
    reached: bool
    float_layers: list[str]
    outputs: dict[str, float]
    int8_mac_share: Optional[float]
    evaluations: int
    sensitivity: list[dict]
    note: str

    def to_dict(self) -> dict:
        return json_safe(asdict(self))


class _Search:
    def __init__(self, graph: Graph, ranges: dict, options, comparison: Comparison,
                 progress: Callable[[str, int, int], None]):
        self.graph, self.ranges, self.options = graph, ranges, options
        self.comparison, self.progress = comparison, progress
        self.user_float = tuple(options.float_layers)
        self.layers = [n for n in quantizable_layers(graph) if n not in self.user_float]
        self.evaluations = 0
        self.results: dict[frozenset, dict[str, float]] = {}

    def measure(self, float_set, indices=None) -> dict[str, float]:
        """Output SQNRs with float_set (plus the user's float layers) kept float."""
        key = frozenset(float_set)
        if indices is None and key in self.results:
            return self.results[key]
        o = self.options
        q = rewrite(self.graph, self.ranges, o.per_channel, self.user_float + tuple(float_set), o.io)
        self.evaluations += 1
        sqnr = self.comparison.measure(q.graph, self.graph.outputs, indices)
        if indices is None:
            self.results[key] = sqnr
        return sqnr

    def reaches(self, float_set) -> bool:
        return all(v >= self.options.min_sqnr for v in self.measure(float_set).values())

    def sensitivity(self) -> list[tuple[str, float]]:
        """(layer, worst output SQNR with only it in INT8), most sensitive first."""
        indices = range(min(SENSITIVITY_SAMPLES, self.comparison.count))
        scored = []
        for i, name in enumerate(self.layers):
            others = [n for n in self.layers if n != name]
            worst = min(self.measure(others, indices).values(), default=math.inf)
            scored.append((name, worst))
            self.progress("sensitivity", i + 1, len(self.layers))
        return sorted(scored, key=lambda s: s[1])  # stable: graph order among equals

    def run(self) -> tuple[list[str], bool, str, list[tuple[str, float]]]:
        target = self.options.min_sqnr
        if self.reaches([]):
            return [], True, "every layer in INT8 reaches the target", []
        if not self.reaches(self.layers):
            return list(self.layers), False, ("even with every layer in float the outputs miss "
                                              "the target (int8 model inputs/outputs, --io int8, "
                                              "limit the SQNR)"), []
        if target == math.inf:
            return list(self.layers), True, "an infinite target keeps every layer in float", []
        ranked = self.sensitivity()
        order = [name for name, _ in ranked]
        lo, hi = 0, len(order)  # order[:lo] misses the target, order[:hi] reaches it
        steps, step = max(1, math.ceil(math.log2(max(hi, 2)))), 0
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.reaches(order[:mid]):
                hi = mid
            else:
                lo = mid
            step += 1
            self.progress("search", min(step, steps), steps)
        chosen = order[:hi]
        tries = list(reversed(chosen))[:MAX_PRUNE]
        for i, name in enumerate(tries):
            trial = [n for n in chosen if n != name]
            if self.reaches(trial):
                chosen = trial
            self.progress("prune", i + 1, len(tries))
        note = (f"ranked {len(order)} layers by sensitivity, binary search then pruning kept "
                f"{len(chosen)} in float")
        return chosen, True, note, ranked


def search_float_layers(graph: Graph, samples: dict[str, np.ndarray], ranges: dict, options,
                        progress: Callable[[str, int, int], None],
                        comparison: Optional[Comparison] = None) -> MixedSearch:
    """Choose the layers to keep in float so that every output reaches options.min_sqnr dB on the
    samples (see the module docstring for the algorithm and its limits)."""
    target = options.min_sqnr
    if target is None or math.isnan(target):
        raise TinyEdgeError(f"--min-sqnr must be a number of dB, not {target!r}")
    comparison = comparison or Comparison(graph, samples)
    search = _Search(graph, ranges, options, comparison, progress)
    chosen, reached, note, ranked = search.run()
    kinds = {n.name: n.op for n in graph.nodes}
    floats = set(search.user_float) | set(chosen)
    int8 = [n for n in quantizable_layers(graph) if n not in floats]
    return MixedSearch(
        target_db=float(target), reached=reached, float_layers=list(chosen),
        outputs=search.measure(chosen), int8_mac_share=int8_mac_share(graph, int8),
        evaluations=search.evaluations,
        sensitivity=[{"name": n, "op": kinds[n], "sqnr_db_alone": db} for n, db in ranked],
        note=note)
