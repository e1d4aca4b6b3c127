"""Cleanup: remove what computes nothing and what nobody reads.

  reshape_s(x), s == shape(x)         -> x
  transpose_p(x), p the identity      -> x
  reshape_t(reshape_s(x))             -> reshape_t(x)
  op(c1, ..., ck), all constants      -> constant (computed by the reference executor)
  node whose outputs nobody reads     -> removed; so are constants nobody reads
  constants equal in dtype, shape and bytes -> one of them
  op(x...) computed twice (same op, inputs, attrs) -> once
A graph output keeps its name: an identity writing one stays when its input is a graph input or a
constant, and a node writing one is not folded into a constant. Constants with quantization
parameters are not merged.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..ir import Graph, Node, Tensor
from ..reference import evaluate
from .rewrite import bypass, drop_dead, producer_of, remove_node, run_rules


def _drop_identity(graph: Graph, node: Node) -> bool:
    x = node.inputs[0]
    if node.op == "reshape":
        same = tuple(node.attrs["shape"]) == graph.tensors[x].shape
    elif node.op == "transpose":
        same = tuple(node.attrs["perm"]) == tuple(range(len(node.attrs["perm"])))
    else:
        return False
    return same and bypass(graph, node, x)


def _merge_reshapes(graph: Graph, node: Node) -> bool:
    if node.op != "reshape":
        return False
    inner = producer_of(graph, node.inputs[0], "reshape")
    if inner is None:
        return False
    node.inputs = [inner.inputs[0]]
    drop_dead(graph, inner)
    return True


def _fold_constant(graph: Graph, node: Node) -> bool:
    if not node.inputs or not all(graph.is_const(i) for i in node.inputs):
        return False
    if any(o in graph.outputs for o in node.outputs):
        return False
    try:
        values = evaluate(node.op, [graph.const(i) for i in node.inputs], node.attrs)
    except ValueError:
        return False  # constants the reference does not compute on (e.g. integer add): left to run
    remove_node(graph, node)
    for name, value in zip(node.outputs, values):
        value = np.ascontiguousarray(value)
        graph.tensors[name] = Tensor(name, tuple(value.shape), str(value.dtype), value)
    return True


def _dedup_constants(graph: Graph) -> bool:
    """Make readers of equal constants read the first one; returns whether any was merged."""
    first: dict[tuple, str] = {}
    changed = False
    for name, t in list(graph.tensors.items()):
        if not t.is_const or t.quant is not None or name in graph.outputs or name in graph.inputs:
            continue
        data = t.data.tobytes()
        key = (t.dtype, t.shape, hashlib.sha256(data).digest())
        kept = first.setdefault(key, name)
        if kept != name and graph.tensors[kept].data.tobytes() == data:
            graph.replace_uses(name, kept)
            del graph.tensors[name]
            changed = True
    return changed


def _merge_equal_nodes(graph: Graph) -> bool:
    """Make readers of a node that repeats an earlier one (same op, inputs and attrs) read the
    earlier one's output; returns whether any was merged."""
    first: dict[tuple, Node] = {}
    changed = False
    for node in list(graph.nodes):
        key = (node.op, tuple(node.inputs), tuple(sorted(node.attrs.items())))
        kept = first.setdefault(key, node)
        if kept is not node and len(node.outputs) == 1 and bypass(graph, node, kept.outputs[0]):
            changed = True
    return changed


def run(graph: Graph) -> bool:
    """Apply the cleanup rules, merge equal constants then equal nodes, drop dead nodes and unused
    constants. Returns whether the graph changed."""
    changed = run_rules(graph, [_drop_identity, _merge_reshapes, _fold_constant])
    changed |= _remove_unused(graph)  # first, so that a merged constant keeps a live name
    changed |= _dedup_constants(graph)
    changed |= _merge_equal_nodes(graph)
    return _remove_unused(graph) or changed


def _remove_unused(graph: Graph) -> bool:
    before = (len(graph.nodes), len(graph.tensors))
    graph.remove_unused()
    return before != (len(graph.nodes), len(graph.tensors))
