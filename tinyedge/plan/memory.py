"""The activation memory planner: one arena, an offset for every activation.

Algorithm (greedy by size, as TensorFlow Lite Micro's greedy planner):
1. Number the ops 0..N-1 in execution order (the graph's node order) and give every activation
   (graph inputs and node outputs) a lifetime [first_step, last_step]:
   - a graph input is alive from step 0 (the caller writes it before the first op runs);
   - a node output is alive from its node's step to the step of its last reader;
   - a graph output stays alive until the last step (the caller reads it after the run).
   An op's inputs and outputs are alive together at its step: no op writes over its own input.
2. Place the activations largest first (ties: the one used first goes first, then graph order).
   Each goes at the lowest offset, a multiple of `alignment`, where it overlaps no already placed
   activation whose lifetime intersects its own.

Limits: greedy placement is not optimal. The arena can exceed `lower_bound` (the largest total of
activations alive at one step, which no plan beats) when small long-lived tensors fragment the
space left for large ones; on chains and the usual CNN shapes it lands on or near the bound.
There is no in-place reuse (an elementwise op writing over its dying input), which a later
planner could add where a kernel allows it. Placement costs O(A^2) for A activations, fine for
the few hundred of an edge model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph


@dataclass
class MemoryPlan:
    """Where each activation lives in the arena, and the totals that judge the plan.

    offsets: arena offset of every activation (graph inputs and node outputs), by tensor name.
    arena_size: bytes of the arena (the end of the last placed tensor, rounded up to alignment).
    activations_total: sum of the activations' sizes, what a plan without reuse would need.
    lower_bound: largest sum of sizes of activations alive at one step; no plan can beat it.
    lifetimes: (first_step, last_step) of every activation, steps being op indices.
    alignment: every offset is a multiple of it.
    """

    offsets: dict[str, int] = field(default_factory=dict)
    arena_size: int = 0
    activations_total: int = 0
    lower_bound: int = 0
    lifetimes: dict[str, tuple[int, int]] = field(default_factory=dict)
    alignment: int = 64


def align_up(value: int, alignment: int) -> int:
    """The smallest multiple of alignment that is >= value."""
    return -(-value // alignment) * alignment


def activation_lifetimes(graph: Graph) -> dict[str, tuple[int, int]]:
    """(first_step, last_step) of every activation, in graph.activations() order."""
    last_step = max(len(graph.nodes) - 1, 0)
    first: dict[str, int] = {name: 0 for name in graph.inputs}
    last: dict[str, int] = {name: 0 for name in graph.inputs}
    for step, node in enumerate(graph.nodes):
        for name in node.inputs:
            if name in last:  # constants have no lifetime
                last[name] = step
        for name in node.outputs:
            first.setdefault(name, step)
            last[name] = max(last.get(name, step), step)
    for name in graph.outputs:
        if name in last:
            last[name] = last_step
    return {name: (first[name], last[name]) for name in graph.activations()}


def _peak_alive(sizes: dict[str, int], lifetimes: dict[str, tuple[int, int]], steps: int) -> int:
    """The largest sum of sizes of tensors alive at one step."""
    alive = [0] * max(steps, 1)
    for name, (lo, hi) in lifetimes.items():
        for step in range(lo, hi + 1):
            alive[step] += sizes[name]
    return max(alive)


def _lowest_free_offset(size: int, taken: list[tuple[int, int]], alignment: int) -> int:
    """The lowest aligned offset where [offset, offset + size) misses every (start, end) in taken."""
    offset = 0
    for start, end in sorted(taken):
        if offset + size <= start:
            break
        offset = max(offset, align_up(end, alignment))
    return offset


def plan_memory(graph: Graph, alignment: int = 64) -> MemoryPlan:
    """Plan the activation arena of graph (see the module docstring for the algorithm)."""
    if alignment < 1 or alignment & (alignment - 1):
        raise ValueError(f"plan_memory: alignment {alignment} is not a power of two")
    lifetimes = activation_lifetimes(graph)
    order = {name: i for i, name in enumerate(lifetimes)}
    sizes = {name: graph.tensors[name].nbytes for name in lifetimes}

    by_size = sorted(lifetimes, key=lambda n: (-sizes[n], lifetimes[n][0], order[n]))
    offsets: dict[str, int] = {}
    for name in by_size:
        lo, hi = lifetimes[name]
        taken = [(offsets[other], offsets[other] + sizes[other]) for other in offsets
                 if lifetimes[other][0] <= hi and lo <= lifetimes[other][1]]
        offsets[name] = _lowest_free_offset(sizes[name], taken, alignment)

    end = max((offsets[n] + sizes[n] for n in offsets), default=0)
    return MemoryPlan(
        offsets={name: offsets[name] for name in lifetimes},  # graph order, not placement order
        arena_size=align_up(end, alignment),
        activations_total=sum(sizes.values()),
        lower_bound=_peak_alive(sizes, lifetimes, len(graph.nodes)),
        lifetimes=lifetimes,
        alignment=alignment,
    )
