"""Graph passes: turn the frontend's literal graph into a lean NHWC graph with fused ops.

Each pass is a function `run(graph) -> bool` that rewrites the graph in place and says whether it
changed anything; the file of each pass states its rewrite rules. Every pass keeps the node order
topological and never changes the graph's inputs or outputs (names, shapes, layouts).

PASSES is the order they run in; `optimize` repeats the whole list until a round changes nothing,
because each pass opens work for the others (layout brings a BatchNorm's mul next to its conv,
folding it makes the relu's clip adjacent, cleanup removes what they left behind).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ..ir import Graph, Node
from . import cleanup, fold_affine, fuse_activation, layout

PASSES: list[tuple[str, Callable[[Graph], bool]]] = [
    ("layout", layout.run),
    ("fold_affine", fold_affine.run),
    ("fuse_activation", fuse_activation.run),
    ("cleanup", cleanup.run),
]

# Each round strictly shrinks the graph or moves transposes towards the outputs, so a fixed point
# comes within a few rounds; the cap only guards against a rule pair that would undo each other.
MAX_ROUNDS = 32


def copy_graph(graph: Graph) -> Graph:
    """A copy whose nodes and tensors can be rewritten; constant arrays are shared (passes never
    write into an array, they add new constants)."""
    return Graph(tensors={k: replace(t) for k, t in graph.tensors.items()},
                 nodes=[Node(n.op, list(n.inputs), list(n.outputs), dict(n.attrs), n.name)
                        for n in graph.nodes],
                 inputs=list(graph.inputs), outputs=list(graph.outputs), meta=dict(graph.meta))


def optimize(graph: Graph, passes=PASSES) -> Graph:
    """Run passes (a list of (name, fn) like PASSES) to a fixed point on a copy of graph; return it.

    The input graph is left unchanged."""
    g = copy_graph(graph)
    for _ in range(MAX_ROUNDS):
        changed = False
        for _name, fn in passes:
            changed |= fn(g)
        if not changed:
            return g
    raise RuntimeError(f"passes did not reach a fixed point in {MAX_ROUNDS} rounds: "
                       + ", ".join(name for name, _ in passes))
