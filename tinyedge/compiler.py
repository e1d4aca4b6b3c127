"""The build pipeline: source model -> IR -> passes -> memory plan -> .tem file."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .errors import ModelError
from .ir import Graph
from .plan import MemoryPlan, plan_memory

FRONTENDS = {".onnx": "ONNX"}


@dataclass
class BuildResult:
    """What `build` produced: the file, the optimized graph, its memory plan and sizes."""

    path: Path
    graph: Graph
    plan: MemoryPlan
    file_size: int

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


def build(src: str | os.PathLike, out: str | os.PathLike, input_shapes: Optional[dict] = None,
          on_stage: Optional[Callable[[str], None]] = None) -> BuildResult:
    """Compile a source model into a .tem file at `out`.

    input_shapes maps input names to concrete shapes for models with symbolic dimensions.
    on_stage, when given, is called with the name of each stage as it starts (for progress)."""
    from .format.writer import write_tem

    out = Path(out)
    if out.parent and not out.parent.exists():
        raise ModelError(f"{out}: the output folder {out.parent} does not exist")
    stage = on_stage or (lambda name: None)
    stage("import")
    graph = import_model(src, input_shapes)
    stage("optimize")
    graph, plan = compile_graph(graph)
    stage("write")
    size = write_tem(graph, plan, out, dict(graph.meta))
    return BuildResult(out, graph, plan, size)
