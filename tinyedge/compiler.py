"""The build pipeline: source model -> IR -> passes -> memory plan -> .tem file."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .errors import ModelError, TinyEdgeError
from .ir import Graph
from .plan import MemoryPlan, plan_memory

FRONTENDS = {".onnx": "ONNX"}


@dataclass
class BuildResult:
    """What `build` produced: the file, the optimized graph, its memory plan and sizes.

    For an INT8 build, `report` is the quantization report and `float_file_size` the size the float
    build of the same model would have."""

    path: Path
    graph: Graph
    plan: MemoryPlan
    file_size: int
    report: Optional[object] = None
    float_file_size: Optional[int] = None
    report_path: Optional[Path] = None

    @property
    def num_ops(self) -> int:
        return len(self.graph.nodes)

    @property
    def num_params(self) -> int:
        return self.graph.num_params()

    @property
    def weight_bytes(self) -> int:
        return sum(t.nbytes for t in self.graph.tensors.values() if t.is_const)


def import_model(src: str | os.PathLike, input_shapes: Optional[dict] = None) -> Graph:
    """Read a source model into the IR (no optimization). Raises ModelError for what it cannot read."""
    path = Path(src)
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    kind = FRONTENDS.get(path.suffix.lower())
    if kind is None:
        raise ModelError(f"{path}: unknown model type '{path.suffix}'; tinyedge reads "
                         + ", ".join(f"{k} ({v})" for k, v in FRONTENDS.items()))
    from .frontends.onnx import load_onnx

    return load_onnx(path, input_shapes=input_shapes, source=path.name)


def compile_graph(graph: Graph) -> tuple[Graph, MemoryPlan]:
    """Optimize a graph and plan its memory."""
    from .passes import optimize

    graph = optimize(graph)
    graph.validate()
    return graph, plan_memory(graph)


NO_CALIBRATION = ("INT8 needs calibration data (--calib FILE.npz or --calib IMAGE_DIR): the scales of "
                  "the activations come from the ranges they take on real inputs, and tinyedge does "
                  "not invent random ones")


def build(src: str | os.PathLike, out: str | os.PathLike, input_shapes: Optional[dict] = None,
          on_stage: Optional[Callable[[str], None]] = None, quantize: Optional[str] = None,
          calib=None, quant_options=None, preprocess=None, calib_limit: Optional[int] = None,
          progress: Optional[Callable[[str, int, int], None]] = None) -> BuildResult:
    """Compile a source model into a .tem file at `out`.

    input_shapes maps input names to concrete shapes for models with symbolic dimensions.
    quantize="int8" quantizes with calibration data `calib` (a .npz file, an image folder with
    `preprocess` (tinyedge.quantize.calib_data.ImagePreprocess), or {input name: (N, *shape) array});
    quant_options is a tinyedge.quantize.QuantOptions. The quantization report is saved as JSON beside
    the output (`<out>.quant.json`). calib_limit caps the number of samples used. on_stage is called with each stage's name as it starts;
    progress(stage, done, total) reports calibration progress."""
    from .format.writer import serialize, write_tem

    out = Path(out)
    if out.parent and not out.parent.exists():
        raise ModelError(f"{out}: the output folder {out.parent} does not exist")
    if quantize not in (None, "int8"):
        raise TinyEdgeError(f"--quantize {quantize}: tinyedge quantizes to int8 only")
    if quantize and calib is None:
        raise TinyEdgeError(NO_CALIBRATION)
    stage = on_stage or (lambda name: None)
    stage("import")
    graph = import_model(src, input_shapes)
    stage("optimize")
    graph, plan = compile_graph(graph)
    if not quantize:
        stage("write")
        size = write_tem(graph, plan, out, dict(graph.meta))
        return BuildResult(out, graph, plan, size)

    from .quantize import QuantOptions, quantize_graph
    from .quantize.calib_data import load_calibration

    stage("calibrate")
    samples = calib if isinstance(calib, dict) else load_calibration(
        calib, [(n, graph.tensors[n].shape, graph.tensors[n].dtype) for n in graph.inputs], preprocess,
        limit=calib_limit)
    float_size = len(serialize(graph, plan, dict(graph.meta)))
    qgraph, report = quantize_graph(graph, samples, quant_options or QuantOptions(), progress=progress)
    qgraph.validate()
    qplan = plan_memory(qgraph)
    stage("write")
    size = write_tem(qgraph, qplan, out, dict(qgraph.meta))
    report_path = out.with_suffix(".quant.json")
    report.model_bytes = {"float": float_size, "int8": size}
    report.save(report_path)
    return BuildResult(out, qgraph, qplan, size, report, float_size, report_path)
