"""INT8 post-training quantization (docs/quantization.md).

`quantize_graph(graph, samples, QuantOptions(...))` turns an optimized float graph into an INT8 one
and measures it: calibration (calibration.py, from samples that calib_data.py loads), the graph
rewrite (quantizer.py, with the lut and softmax tables of tables.py), the optional --min-sqnr search
for layers to keep in float (mixed.py) and the per-layer SQNR report (report.py, compare.py). The one
rounding rule shared with the C runtime is in fixed_point.py.

The names below load on first use: the numpy reference imports fixed_point.py from this package, and
the quantizer imports the reference, so an eager import here would be circular.
"""
from __future__ import annotations

import importlib

_EXPORTS = {"QuantOptions": "quantizer", "quantize_graph": "quantizer", "rewrite": "quantizer",
            "quantizable_layers": "quantizer", "QuantReport": "report", "LayerReport": "report",
            "MixedSearch": "mixed"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tinyedge.quantize' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
