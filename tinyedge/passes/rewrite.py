"""Graph editing helpers shared by the passes.

Every helper keeps the invariants a pass promises: node order stays topological, and the graph's
inputs and outputs keep their names and shapes (a value that must disappear from the middle of the
graph but is a graph output is renamed onto its replacement instead).

Quantization annotations (Tensor.quant, from a QDQ model) describe values, so they stay with the
tensor that holds those values when a rewrite renames or replaces one: a removed identity, transpose
or reshape leaves its output's annotation to its input; a rewritten node's new output keeps the old
one's; when a producer takes over a clamp or an affine op (fusion, BatchNorm folding), its output
takes that op's annotation, and its own (which described the values before) is dropped.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..ir import Graph, Node, Tensor, infer_shapes

Rule = Callable[[Graph, Node], bool]

# Every rule shrinks the graph or moves work towards the outputs, so sweeps end long before this;
# the cap turns a pair of rules that undo each other into an error instead of a hang.
MAX_SWEEPS = 1000


def run_rules(graph: Graph, rules: list[Rule]) -> bool:
    """Apply rules to every node, sweep after sweep, until no rule fires; return whether one did.

    A rule takes (graph, node), rewrites the graph when it matches and returns True. The first rule
    that fires on a node ends that node's turn; nodes a rewrite removed are skipped."""
    changed_any = False
    for _ in range(MAX_SWEEPS):
        changed = False
        live = {id(n) for n in graph.nodes}
        for node in list(graph.nodes):
            if id(node) not in live:
                continue
            if any(rule(graph, node) for rule in rules):
                changed = True
                live = {id(n) for n in graph.nodes}
        if not changed:
            return changed_any
        changed_any = True
    raise RuntimeError("graph rewrite rules did not settle after "
                       f"{MAX_SWEEPS} sweeps: {', '.join(r.__name__ for r in rules)}")


def node_index(graph: Graph, node: Node) -> int:
    """Position of node in graph.nodes (by identity)."""
    for i, n in enumerate(graph.nodes):
        if n is node:
            return i
    raise ValueError(f"node '{node.name}' is not in the graph")


def fresh_node_name(graph: Graph, base: str) -> str:
    """A node name not used yet, derived from base."""
    taken = {n.name for n in graph.nodes}
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def sole_reader(graph: Graph, tensor: str) -> Optional[Node]:
    """The one node reading tensor, or None when it has several readers or is a graph output."""
    if tensor in graph.outputs:
        return None
    readers = graph.consumers(tensor)
    return readers[0] if len(readers) == 1 else None


def producer_of(graph: Graph, tensor: str, op: str) -> Optional[Node]:
    """The node writing tensor when it is an `op` node, else None."""
    node = graph.producer(tensor)
    return node if node is not None and node.op == op else None


def has_open_clamp(node: Node) -> bool:
    """Whether a node with a fused clamp (act_min/act_max) does not clamp yet."""
    return node.attrs["act_min"] == -np.inf and node.attrs["act_max"] == np.inf


def is_float_const(graph: Graph, tensor: str) -> bool:
    """A float32 constant (what folding may rewrite). An annotation from a QDQ model does not
    stop it: folding makes a new constant, without the annotation (the quantizer computes its
    scales)."""
    t = graph.tensors[tensor]
    return t.is_const and t.dtype == "float32"


def inherit_quant(graph: Graph, dst: str, src: str) -> None:
    """dst now holds src's values (maybe in another layout): it takes src's per-tensor
    annotation unless it has one already."""
    q = graph.tensors[src].quant
    if graph.tensors[dst].quant is None and q is not None and q.axis is None:
        graph.tensors[dst].quant = q


def remove_node(graph: Graph, node: Node) -> None:
    """Drop node from the graph (its outputs must have no readers left)."""
    graph.nodes = [n for n in graph.nodes if n is not node]


def rename_tensor(graph: Graph, old: str, new: str) -> None:
    """Give tensor old the name new everywhere (new must be free); not for graph inputs/outputs."""
    t = graph.tensors.pop(old)
    graph.tensors[new] = Tensor(new, t.shape, t.dtype, t.data, t.quant)
    for n in graph.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]
        n.outputs = [new if o == old else o for o in n.outputs]


def _is_identity(node: Node) -> bool:
    """A node that bypass may remove because it copies its input: a reshape (bypass checks that
    the shape stays) or a transpose by the identity."""
    if node.op == "transpose":
        return tuple(node.attrs["perm"]) == tuple(range(len(node.attrs["perm"])))
    return node.op == "reshape"


def bypass(graph: Graph, node: Node, src: str) -> bool:
    """Remove node, whose single output equals the value src, so that its readers read src.

    When the output is a graph output its name must survive: src is renamed to it, which is only
    possible when src is an inner activation. Returns False (graph untouched) when it is not.
    Annotations: when node reads src and is not an identity, src's producer has just taken over
    node's work (a fused clamp, a folded affine op), so src gets the output's annotation (none
    included); otherwise src held these values already and keeps its own, or takes the output's."""
    out = node.outputs[0]
    if graph.tensors[src].shape != graph.tensors[out].shape:
        raise ValueError(f"bypass of '{node.name}': {src} and {out} differ in shape")
    keeps_name = src in graph.inputs or src in graph.outputs or graph.is_const(src)
    if out in graph.outputs and keeps_name:
        return False
    if src in node.inputs and not _is_identity(node):
        graph.tensors[src].quant = graph.tensors[out].quant
    elif graph.tensors[src].quant is None:
        graph.tensors[src].quant = graph.tensors[out].quant
    remove_node(graph, node)
    del graph.tensors[out]
    if out in graph.outputs:
        rename_tensor(graph, src, out)
    else:
        graph.replace_uses(out, src)
    return True


def set_node(graph: Graph, node: Node, inputs: list[str], attrs: dict, output: str) -> None:
    """Point node (one output) at new inputs and attrs, writing a tensor named from output (its
    current output name is kept when asked for, else a fresh name is derived from it).

    The output shape is inferred again from the op table, so a wrong rewrite fails loudly here.
    The new output holds the old one's values (in another layout, for the layout pass), so it keeps
    a per-tensor annotation."""
    shape = infer_shapes(node.op, [graph.tensors[i].shape for i in inputs], attrs)[0]
    old = graph.tensors[node.outputs[0]]
    quant = old.quant if old.quant is not None and old.quant.axis is None else None
    if output == node.outputs[0]:
        del graph.tensors[output]  # the node keeps its output name
    name = graph.unique_name(output)
    graph.tensors[name] = Tensor(name, shape, old.dtype, quant=quant)
    node.inputs, node.attrs, node.outputs = list(inputs), dict(attrs), [name]


def insert_after(graph: Graph, anchor: Node, op: str, inputs: list[str], attrs: dict,
                 output: str) -> Node:
    """Add an `op` node right after anchor that writes the (existing or new) tensor output; an
    existing one keeps its annotation."""
    index = node_index(graph, anchor) + 1
    name = fresh_node_name(graph, f"{anchor.name}/{op}")
    quant = graph.tensors[output].quant if output in graph.tensors else None
    graph.add_node(op, inputs, attrs, name=name, outputs=[output], index=index)
    graph.tensors[output].quant = quant
    return graph.nodes[index]


def drop_dead(graph: Graph, node: Node) -> None:
    """Remove node if nothing reads its outputs (and none is a graph output). A removed transpose
    or reshape, whose readers now read its input instead, leaves its annotation to that input."""
    if any(o in graph.outputs or graph.consumers(o) for o in node.outputs):
        return
    if node.op in ("transpose", "reshape"):
        inherit_quant(graph, node.inputs[0], node.outputs[0])
    remove_node(graph, node)
    for o in node.outputs:
        graph.tensors.pop(o, None)


def const_input(graph: Graph, node: Node) -> tuple[Optional[int], Optional[np.ndarray]]:
    """For a binary node with exactly one constant input: (its index, its value), else
    (None, None)."""
    flags = [graph.is_const(i) for i in node.inputs]
    if len(flags) != 2 or flags.count(True) != 1:
        return None, None
    k = flags.index(True)
    return k, graph.const(node.inputs[k])
