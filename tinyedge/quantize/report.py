"""The quantization report: per-layer SQNR against the float model, what stayed float, sizes.

Every layer that could run in INT8 gets a row: its precision, the SQNR of its output against the float
model on the calibration samples (errors accumulate along the graph, so a row measures the model up
to that layer, not the layer alone), its MACs and its weight bytes in float and in INT8. The model's
outputs, the share of MACs that run in INT8 and the weight bytes of the whole model follow.
JSON (`to_json`, `save`): SQNR values are numbers in dB, or the string "inf" where the INT8 value
equals the float one.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from ..ir import Graph
from ..ir.cost import macs
from .compare import Comparison


@dataclass
class LayerReport:
    """One quantizable layer: precision ("int8" or "float"), output SQNR (dB), MACs, weight bytes."""

    name: str
    op: str
    precision: str
    sqnr_db: float
    macs: int
    weight_bytes_float: int
    weight_bytes_int8: int


@dataclass
class QuantReport:
    """What quantize_graph did and how close the result stays to the float model.

    float_layers are the quantizable layers kept float (--float-layers and --min-sqnr); float_ops the
    nodes that stay float because they have no INT8 form (op and reason). int8_mac_share is None for
    a model without multiply-accumulates. mixed holds the --min-sqnr search (mixed.MixedSearch as a
    dict). model_bytes ({"float": n, "int8": n}) is filled in by the build when it writes files."""

    method: str
    per_channel: bool
    io: str
    samples: int
    layers: list[LayerReport]
    outputs: dict[str, float]
    float_layers: list[str]
    float_ops: list[dict]
    int8_mac_share: Optional[float]
    weight_bytes_float: int
    weight_bytes_int8: int
    warnings: list[str] = field(default_factory=list)
    mixed: Optional[dict] = None
    model_bytes: Optional[dict] = None

    def to_dict(self) -> dict:
        """The report as JSON-ready data (infinite SQNR as "inf")."""
        return json_safe(asdict(self))

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | os.PathLike) -> None:
        """Write the JSON report to path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json() + "\n")

    def render(self, console) -> None:
        """Print the per-layer table and the summary on a rich console."""
        from rich.table import Table

        from ..cli.fmt import human_bytes

        t = Table(title="INT8 quantization: SQNR against the float model (calibration samples)",
                  title_justify="left")
        t.add_column("layer", overflow="fold", min_width=24)  # whole names: --float-layers takes them
        for col in ("op", "dtype", "SQNR dB", "MMACs"):
            t.add_column(col, justify="left" if col in ("op", "dtype") else "right", no_wrap=True)
        t.add_column("weights", justify="right")
        for r in self.layers:
            weights = (f"{human_bytes(r.weight_bytes_float)} -> {human_bytes(r.weight_bytes_int8)}"
                       if r.weight_bytes_float else "")
            t.add_row(r.name, r.op, r.precision, _db(r.sqnr_db), f"{r.macs / 1e6:.2f}" if r.macs else "",
                      weights, style="yellow" if r.precision == "float" else None)
        console.print(t)
        for name, db in self.outputs.items():
            console.print(f"output [bold]{name}[/]: SQNR {_db(db)} dB")
        share = "n/a" if self.int8_mac_share is None else f"{self.int8_mac_share:.1%}"
        console.print(f"MACs in INT8: {share}; weights {human_bytes(self.weight_bytes_float)} -> "
                      f"{human_bytes(self.weight_bytes_int8)}; calibration: {self.method} on "
                      f"{self.samples} samples")
        if self.float_layers:
            console.print(f"kept in float: {', '.join(self.float_layers)}")
        if self.float_ops:
            ops = sorted({d['op'] for d in self.float_ops})
            console.print(f"float (no INT8 form): {len(self.float_ops)} node(s) ({', '.join(ops)})")
        if self.mixed:
            m = self.mixed
            verdict = "reached" if m["reached"] else "NOT reached"
            console.print(f"--min-sqnr {m['target_db']} dB: {verdict} with {len(m['float_layers'])} "
                          f"layer(s) in float after {m['evaluations']} evaluations. {m['note']}")
        for w in self.warnings:
            console.print(f"[yellow]warning:[/] {w}")


def _db(value: float) -> str:
    return "inf" if value == math.inf else f"{value:.1f}"


def json_safe(obj):
    """Replace non-finite floats (which JSON cannot hold) by their names."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else "nan")
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def node_macs(graph: Graph, node) -> int:
    """MACs of one node of graph (tinyedge.ir.cost)."""
    return macs(node.op, [graph.tensors[t].shape for t in node.inputs],
                [graph.tensors[t].shape for t in node.outputs], node.attrs)


def _const_bytes(graph: Graph, node) -> int:
    return sum(graph.tensors[t].nbytes for t in dict.fromkeys(node.inputs) if graph.is_const(t))


def int8_mac_share(graph: Graph, int8_nodes) -> Optional[float]:
    """Share of the float graph's MACs done by int8_nodes (None when the graph has no MACs)."""
    chosen = set(int8_nodes)
    total = int8 = 0
    for n in graph.nodes:
        m = node_macs(graph, n)
        total += m
        int8 += m if n.name in chosen else 0
    return int8 / total if total else None


def build_report(float_graph: Graph, result, samples: dict[str, np.ndarray], options,
                 float_layers, search, progress: Callable[[str, int, int], None],
                 comparison: Optional[Comparison] = None) -> QuantReport:
    """Measure result (quantizer.Rewrite) against float_graph on samples and assemble the report."""
    from .quantizer import int8_blocker

    qgraph = result.graph
    comparison = comparison or Comparison(float_graph, samples, cache_bytes=0)
    candidates = [n for n in float_graph.nodes if int8_blocker(float_graph, n) is None]
    names = [o for n in candidates for o in n.outputs] + list(float_graph.outputs)
    sqnr = comparison.measure(qgraph, names, progress=lambda d, t: progress("report", d, t))
    qnodes = {n.name: n for n in qgraph.nodes}
    int8 = set(result.int8_nodes)
    layers = [LayerReport(n.name, n.op, "int8" if n.name in int8 else "float",
                          sqnr.get(n.outputs[0], math.inf), node_macs(float_graph, n),
                          _const_bytes(float_graph, n), _const_bytes(qgraph, qnodes[n.name]))
              for n in candidates]
    float_ops = [{"name": n.name, "op": n.op, "reason": int8_blocker(float_graph, n)}
                 for n in float_graph.nodes if int8_blocker(float_graph, n) is not None]
    kept = [n.name for n in candidates if n.name not in int8]
    return QuantReport(
        method=options.method, per_channel=options.per_channel, io=options.io,
        samples=comparison.count, layers=layers,
        outputs={o: sqnr.get(o, math.inf) for o in float_graph.outputs},
        float_layers=[n for n in float_layers if n in kept], float_ops=float_ops,
        int8_mac_share=int8_mac_share(float_graph, int8),
        weight_bytes_float=sum(t.nbytes for t in float_graph.tensors.values() if t.is_const),
        weight_bytes_int8=sum(t.nbytes for t in qgraph.tensors.values() if t.is_const),
        warnings=list(result.warnings), mixed=None if search is None else search.to_dict())
