"""Layout: remove the transposes the ONNX frontend puts around every NHWC op.

The frontend wraps each spatial op as T(0,2,3,1) -> op -> T(0,3,1,2) on an NCHW model. This pass
composes transposes that meet and sinks each transpose towards the outputs through the ops that
commute with a permutation of the axes, until it meets another transpose and cancels, or stops in
front of an op it cannot cross. On a CNN only the two boundary transposes remain.

Notation: T_p(x) = np.transpose(x, p); p^-1 = argsort(p); r is the rank.
  T_q(T_p(x))            -> T_s(x), s[i] = p[q[i]]      identity s -> both removed
  f(T_p(x))              -> T_p(f(x))                   f unary elementwise
  op(T_p(a), c)          -> T_p(op(a, T_p^-1(c)))       c constant, first broadcast to rank r; its
                                                        leading 1-dims are then dropped again
  op(T_p(a), T_p(b))     -> T_p(op(a, b))               op binary elementwise
  concat_k(T_p(x_i)...)  -> T_p(concat_p[k](x_i...))    every input transposed by p
      In both, an input b that is not T_p(y) still qualifies when T_p^-1(b) is already computed
      (b = T_p(T_p^-1(b))): typically the graph input, which its first conv reads in NHWC.
  mean_A(T_p(x))         -> T_p'(mean_p[A](x))          p' = p, or with keepdims=0, p without the
                                                        reduced axes, renumbered
  pad_P(T_p(x))          -> T_p(pad_P'(x))              P'[p[i]] = P[i], for begins and ends
  slice_S(T_p(x))        -> T_p(slice_S'(x))            S'[p[i]] = S[i], for starts, ends, steps
  softmax_k(T_p(x))      -> T_p(softmax_p[k](x))
Once no transpose moves any more:
  T_p(x) moving only size-1 axes  -> reshape(x)         the bytes do not move
  reshape_s(T_p(x)), such a T_p   -> reshape_s(x)
  fully_connected(reshape_[n,k](T_p(x)), W) -> fully_connected(reshape_[n,k](x), W')
        with p[0] = 0 (the flatten in front of a classifier): W's columns are put in x's order.

A transpose sinks below its single reader whenever that reader commutes with it. With several
readers (or when it is also a graph output) it sinks only below the readers where it is absorbed:
it merges with the same transpose on the reader's other inputs (binary op, concat), or every path
down from the reader meets another transpose within a few commuting ops. Each such path removes as
many transposes as sinking creates, so the count never grows; the transpose stays for the others.
Limits: transposes only move towards the outputs, never towards the inputs; a reshape stops them
(apart from the rules above); a binary op with a transposed input and, on the other side, an
activation no transpose reads yet is left alone. So a tensor read both directly and through
commuting ops by an NHWC op (a graph input that a BatchNorm and a residual add both read) keeps a
transpose on each path.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir import Graph, Node, in_group
from .rewrite import (bypass, drop_dead, inherit_quant, insert_after, node_index, producer_of,
                      remove_node, run_rules, set_node, sole_reader)


def _compose(graph: Graph, node: Node) -> bool:
    """T_q(T_p(x)) -> T_(p[q])(x), removed when the composition is the identity."""
    if node.op != "transpose":
        return False
    inner = producer_of(graph, node.inputs[0], "transpose")
    if inner is None:
        return False
    p, q = inner.attrs["perm"], node.attrs["perm"]
    s = tuple(p[i] for i in q)
    x = inner.inputs[0]
    if s == tuple(range(len(s))) and bypass(graph, node, x):
        drop_dead(graph, inner)
        return True
    # Not the identity, or an identity that must stay to write a graph output that x cannot be.
    node.inputs, node.attrs = [x], {"perm": s}
    drop_dead(graph, inner)
    return True


class _Plan:
    """How one reader of T_p(x) is rewritten: its new inputs and attrs, the perm left after it."""

    def __init__(self, inputs: list[str], attrs: dict, out_perm: tuple, merges: bool = False,
                 new_consts: Optional[dict] = None, hoist: Optional[list] = None):
        self.inputs, self.attrs, self.out_perm, self.merges = inputs, attrs, out_perm, merges
        self.new_consts = new_consts or {}  # input slot -> (base name, permuted constant array)
        self.hoist = hoist or []  # existing transposes the reader will read: must come before it


def _read_operand(graph: Graph, plan: _Plan, name: str, t: str, x: str, p: tuple) -> bool:
    """Add to plan what a reader of t = T_p(x) reads instead of its input `name` once the
    transpose is below it; False when name does not qualify. It qualifies when it is t, another
    T_p(y) (that transpose merges away), or an activation that a transpose already brings to the
    layout under p (T_p^-1(name) exists; that node is hoisted above the reader if needed)."""
    if name == t:
        plan.inputs.append(x)
        return True
    inner = producer_of(graph, name, "transpose")
    if inner is not None and tuple(inner.attrs["perm"]) == p:
        plan.inputs.append(inner.inputs[0])
        plan.merges = True
        return True
    inverse = tuple(int(i) for i in np.argsort(p))
    for r in graph.consumers(name):
        if r.op == "transpose" and tuple(r.attrs["perm"]) == inverse:
            plan.inputs.append(r.outputs[0])
            plan.hoist.append(r)
            return True
    return False


def _permuted_const(c: np.ndarray, p: tuple) -> Optional[np.ndarray]:
    """T_p^-1 of constant c broadcast to rank r = len(p), then with its leading 1-dims dropped
    (rank 1 at least); None when c has a higher rank than r."""
    r = len(p)
    if c.ndim > r:
        return None
    full = c.reshape((1,) * (r - c.ndim) + c.shape)
    out = np.transpose(full, np.argsort(p))
    lead = 0
    while lead < r - 1 and out.shape[lead] == 1:
        lead += 1
    return np.ascontiguousarray(out.reshape(out.shape[lead:]))


def _plan_binary(graph, reader, t, x, p) -> Optional[_Plan]:
    plan = _Plan([], dict(reader.attrs), p)
    for k, name in enumerate(reader.inputs):
        if graph.is_const(name):
            c = _permuted_const(graph.const(name), p)
            if c is None:
                return None
            plan.new_consts[k] = (name, c)
            plan.inputs.append(name)
        elif not _read_operand(graph, plan, name, t, x, p):
            return None
    return plan


def _plan_concat(graph, reader, t, x, p) -> Optional[_Plan]:
    plan = _Plan([], {"axis": p[reader.attrs["axis"] % len(p)]}, p)
    if all(_read_operand(graph, plan, name, t, x, p) for name in reader.inputs):
        return plan
    return None


def _plan_mean(graph, reader, t, x, p) -> _Plan:
    r = len(p)
    reduced = sorted(a % r for a in reader.attrs["axes"])
    axes = tuple(sorted(p[a] for a in reduced))
    attrs = dict(reader.attrs, axes=axes)
    if reader.attrs["keepdims"]:
        return _Plan([x], attrs, p)
    kept_x = [j for j in range(r) if j not in axes]  # x's axes left, in order
    out_perm = tuple(kept_x.index(p[i]) for i in range(r) if i not in reduced)
    return _Plan([x], attrs, out_perm)


def _plan_pad(graph, reader, t, x, p) -> _Plan:
    r, pads = len(p), reader.attrs["pads"]
    new = [0] * (2 * r)
    for i in range(r):
        new[p[i]], new[r + p[i]] = pads[i], pads[r + i]
    return _Plan([x], dict(reader.attrs, pads=tuple(new)), p)


def _plan_slice(graph, reader, t, x, p) -> _Plan:
    attrs = dict(reader.attrs)
    for key in ("starts", "ends", "steps"):
        old, new = reader.attrs[key], [0] * len(p)
        for i in range(len(p)):
            new[p[i]] = old[i]
        attrs[key] = tuple(new)
    return _Plan([x], attrs, p)


def _plan_softmax(graph, reader, t, x, p) -> _Plan:
    return _Plan([x], {"axis": p[reader.attrs["axis"] % len(p)]}, p)


def _plan_unary(graph, reader, t, x, p) -> _Plan:
    return _Plan([x], dict(reader.attrs), p)


_PLANNERS = {"concat": _plan_concat, "mean": _plan_mean, "pad": _plan_pad, "slice": _plan_slice,
             "softmax": _plan_softmax}


def _plan(graph: Graph, reader: Node, t: str, x: str, p: tuple) -> Optional[_Plan]:
    """How reader would read x instead of t = T_p(x), or None if it does not commute with T_p."""
    if in_group(reader.op, "unary"):
        return _plan_unary(graph, reader, t, x, p)
    if in_group(reader.op, "binary"):
        return _plan_binary(graph, reader, t, x, p)
    planner = _PLANNERS.get(reader.op)
    return planner(graph, reader, t, x, p) if planner else None


def _apply(graph: Graph, reader: Node, plan: _Plan) -> None:
    """Rewrite reader as planned and put the leftover transpose after it, under its old output."""
    for node in plan.hoist:
        if node_index(graph, node) > node_index(graph, reader):
            remove_node(graph, node)  # it only reads an input of reader: valid just before it
            graph.nodes.insert(node_index(graph, reader), node)
    inputs = list(plan.inputs)
    for k, (base, value) in plan.new_consts.items():
        inputs[k] = graph.add_const(f"{base}_perm", value)
        inherit_quant(graph, inputs[k], base)  # the same values, rearranged
    out = reader.outputs[0]
    if plan.out_perm == tuple(range(len(plan.out_perm))):
        set_node(graph, reader, inputs, plan.attrs, out)  # out is free again: same name, same shape
        return
    # The reader now computes out before the transpose; in the frontend's pattern that is NHWC.
    suffix = "_nhwc" if plan.out_perm == (0, 3, 1, 2) else "_untransposed"
    set_node(graph, reader, inputs, plan.attrs, out + suffix)
    insert_after(graph, reader, "transpose", [reader.outputs[0]], {"perm": plan.out_perm}, out)


def _absorbed(graph: Graph, reader: Node, plan: _Plan, depth: int) -> bool:
    """Whether the transpose sunk through reader as planned disappears further down: it merges
    with another transpose there, or every path from reader's output reaches a transpose (and
    composes with it) within depth commuting ops. A transpose left where it only moves size-1
    axes counts as gone: it becomes a reshape."""
    out = reader.outputs[0]
    if plan.merges or _moves_unit_axes_only(graph.tensors[out].shape, plan.out_perm):
        return True
    readers = graph.consumers(out)
    if depth == 0 or out in graph.outputs or not readers:
        return False
    for r in readers:
        if r.op != "transpose":
            nxt = _plan(graph, r, out, out, plan.out_perm)
            if nxt is None or not _absorbed(graph, r, nxt, depth - 1):
                return False
    return True


# How many commuting ops _absorbed looks through (a BatchNorm and its relu are three).
LOOKAHEAD = 8


def _sink(graph: Graph, node: Node) -> bool:
    """Move transpose node below the readers that take it (see the module docstring)."""
    if node.op != "transpose":
        return False
    t, x, p = node.outputs[0], node.inputs[0], tuple(node.attrs["perm"])
    readers = graph.consumers(t)
    if any(r.op == "transpose" for r in readers):
        return False  # they compose with it on their own turn first
    sole = len(readers) == 1 and t not in graph.outputs
    moved = False
    for reader in readers:
        plan = _plan(graph, reader, t, x, p)
        if plan is None or not (sole or _absorbed(graph, reader, plan, LOOKAHEAD)):
            continue
        merged = [graph.producer(i) for i in reader.inputs if i != t and not graph.is_const(i)]
        _apply(graph, reader, plan)
        for inner in merged:
            if inner is not None and inner.op == "transpose":
                drop_dead(graph, inner)
        moved = True
    drop_dead(graph, node)
    return moved


def _moves_unit_axes_only(result_shape: tuple, perm: tuple) -> bool:
    """Whether a transpose by perm with this output shape keeps the order of the axes longer
    than 1 (then it moves no bytes: it is a reshape)."""
    moved = [perm[i] for i, d in enumerate(result_shape) if d != 1]
    return moved == sorted(moved)


def _unit_transpose_to_reshape(graph: Graph, node: Node) -> bool:
    """T_p(x) moving only size-1 axes -> reshape(x); reshape readers read x directly."""
    if node.op != "transpose":
        return False
    x, t = node.inputs[0], node.outputs[0]
    if not _moves_unit_axes_only(graph.tensors[t].shape, node.attrs["perm"]):
        return False
    readers = graph.consumers(t)
    if readers and t not in graph.outputs and all(r.op == "reshape" for r in readers):
        for r in readers:
            r.inputs = [x]
        drop_dead(graph, node)
        return True
    node.op, node.attrs = "reshape", {"shape": graph.tensors[t].shape}
    return True


def _flatten_into_fully_connected(graph: Graph, node: Node) -> bool:
    """fully_connected(reshape_[n,k](T_p(x)), W) -> fully_connected(reshape_[n,k](x), W')."""
    if node.op != "reshape":
        return False
    tr = producer_of(graph, node.inputs[0], "transpose")
    fc = sole_reader(graph, node.outputs[0])
    if tr is None or fc is None or fc.op != "fully_connected" or fc.inputs[0] != node.outputs[0]:
        return False
    p, xshape = tuple(tr.attrs["perm"]), graph.tensors[tr.inputs[0]].shape
    tshape = graph.tensors[tr.outputs[0]].shape
    if p[0] != 0 or tuple(node.attrs["shape"]) != (xshape[0], int(np.prod(xshape[1:]))):
        return False
    if not graph.is_const(fc.inputs[1]):
        return False
    w = graph.const(fc.inputs[1])
    inv = np.argsort(p)
    # W's column index runs over T_p(x)'s axes 1..r-1; axis j of x is axis inv[j] of T_p(x).
    w_x = w.reshape((w.shape[0],) + tuple(tshape[1:])).transpose([0] + [int(inv[j]) for j in
                                                                      range(1, len(p))])
    weight = graph.tensors[fc.inputs[1]]
    fc.inputs[1] = graph.add_const(f"{fc.inputs[1]}_perm", w_x.reshape(w.shape))
    graph.tensors[fc.inputs[1]].quant = weight.quant  # per output channel: the rows did not move
    node.inputs = [tr.inputs[0]]
    drop_dead(graph, tr)
    return True


def run(graph: Graph) -> bool:
    """Compose and sink transposes to a fixed point, then turn the leftovers that only move
    size-1 axes into reshapes. Returns whether the graph changed."""
    changed = run_rules(graph, [_compose, _sink])
    changed |= run_rules(graph, [_flatten_into_fully_connected, _unit_transpose_to_reshape])
    return changed
