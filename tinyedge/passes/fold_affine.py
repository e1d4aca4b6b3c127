"""Affine folding: per-channel scales and shifts after a layer with weights go into its weights.

This is how BatchNormalization disappears: the frontend emits it as mul(scale) then add(shift),
which the layout pass has moved next to the NHWC conv as constants along the channel (last) axis.

W: weight, b: bias (0 when absent), s, c: constants that vary only along the last axis (shape
[..., 1, O] or [..., 1, 1], rank not above the output's), "layer" one of conv2d, conv_transpose2d,
fully_connected, whose output channel is the last axis:
  mul(layer(x, W, b), s)  -> layer(x, W * s, b * s)    each output channel's filter scaled
  div(layer(x, W, b), s)  -> layer(x, W / s, b / s)    s without zeros
  add(layer(x, W, b), c)  -> layer(x, W, b + c)        a bias is created when absent
  sub(layer(x, W, b), c)  -> layer(x, W, b - c)
Chains of constants on any activation merge (x * a * b has one multiply):
  mul(mul(x, a), b) -> mul(x, a * b)    div(x, a) counts as mul(x, 1 / a)
  add(add(x, a), b) -> add(x, a + b)    sub(x, a) counts as add(x, -a)
Conditions: the inner op's output has no other reader and is not a graph output, and its clamp is
still open (a clamp between the two does not commute with them). Only float32 constants are
rewritten (a QDQ model's annotation on a weight goes with the old weight: the folded one is new, and
the quantizer computes its scales); new constants are added, shared ones are never changed.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir import Graph, Node
from .rewrite import (bypass, const_input, has_open_clamp, is_float_const, remove_node, run_rules,
                      sole_reader)

_LAYERS = ("conv2d", "conv_transpose2d", "fully_connected")


def _scale_of(graph: Graph, node: Node) -> Optional[tuple[str, np.ndarray]]:
    """For x * s or x / s with constant s: (x, the factor s or 1/s); else None."""
    k, c = const_input(graph, node)
    if k is None or not is_float_const(graph, node.inputs[k]):
        return None
    if node.op == "mul":
        return node.inputs[1 - k], c
    if node.op == "div" and k == 1 and np.all(c != 0):
        return node.inputs[0], (np.float32(1) / c).astype(np.float32)
    return None


def _shift_of(graph: Graph, node: Node) -> Optional[tuple[str, np.ndarray]]:
    """For x + c or x - c with constant c: (x, the offset c or -c); else None."""
    k, c = const_input(graph, node)
    if k is None or not is_float_const(graph, node.inputs[k]):
        return None
    if node.op == "add":
        return node.inputs[1 - k], c
    if node.op == "sub" and k == 1:
        return node.inputs[0], -c
    return None


def _per_channel(c: np.ndarray, out_shape: tuple) -> Optional[np.ndarray]:
    """c as a vector of the output's channel count if it varies only along the last axis."""
    if c.ndim > len(out_shape) or any(d != 1 for d in c.shape[:-1]):
        return None
    channels = out_shape[-1]
    if c.ndim and c.shape[-1] not in (1, channels):
        return None
    return np.broadcast_to(c.reshape(-1), (channels,)).astype(np.float32)


def _scaled_weight(layer: Node, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """W with output channel o multiplied by s[o], in the layer's weight layout."""
    if layer.op == "conv2d":  # OHWI
        return w * s.reshape(-1, 1, 1, 1)
    if layer.op == "fully_connected":  # [N, K]
        return w * s.reshape(-1, 1)
    g = layer.attrs["group"]  # conv_transpose2d, IHWO: output channel g_i * O + o
    ci, kh, kw, og = w.shape
    return (w.reshape(g, ci // g, kh, kw, og) * s.reshape(g, 1, 1, 1, og)).reshape(w.shape)


def _foldable_layer(graph: Graph, node: Node, x: str) -> Optional[Node]:
    """The layer writing x when node may fold into it (see the module's conditions)."""
    layer = graph.producer(x)
    if layer is None or layer.op not in _LAYERS or sole_reader(graph, x) is not node:
        return None
    if not has_open_clamp(layer) or not is_float_const(graph, layer.inputs[1]):
        return None
    if len(layer.inputs) > 2 and not is_float_const(graph, layer.inputs[2]):
        return None
    return layer


def _bias(graph: Graph, layer: Node) -> np.ndarray:
    if len(layer.inputs) > 2:
        return graph.const(layer.inputs[2])
    return np.zeros(graph.tensors[layer.outputs[0]].shape[-1], np.float32)


def _set_const_input(graph: Graph, layer: Node, k: int, role: str, value: np.ndarray) -> None:
    """Make input k of layer a new constant named after the layer and role (weight, bias); the
    old constant goes at once when nothing else reads it, so that its name can be reused."""
    inputs = list(layer.inputs)
    if k < len(inputs):
        old = inputs[k]
        layer.inputs = inputs[:k] + inputs[k + 1:]  # detached, to ask whether others read it
        if not graph.consumers(old) and old not in graph.outputs and old not in graph.inputs:
            del graph.tensors[old]
    name = graph.add_const(f"{layer.name}_{role}", value.astype(np.float32))
    layer.inputs = inputs[:k] + [name] + inputs[k + 1:]


def _fold_into_layer(graph: Graph, node: Node) -> bool:
    """mul/div/add/sub by a per-channel constant after conv2d, conv_transpose2d, fully_connected."""
    found = _scale_of(graph, node) or _shift_of(graph, node)
    if found is None or graph.tensors[node.outputs[0]].shape != graph.tensors[found[0]].shape:
        return False
    x, c = found
    layer = _foldable_layer(graph, node, x)
    vec = None if layer is None else _per_channel(c, graph.tensors[x].shape)
    if vec is None:
        return False
    if node.op in ("mul", "div"):
        bias = _bias(graph, layer) * vec
        _set_const_input(graph, layer, 1, "weight",
                         _scaled_weight(layer, graph.const(layer.inputs[1]), vec))
    else:
        bias = _bias(graph, layer) + vec
    _set_const_input(graph, layer, 2, "bias", bias)
    layer.attrs = dict(layer.attrs, act_min=node.attrs["act_min"], act_max=node.attrs["act_max"])
    # x is an inner activation read only by node, so bypass can always take node's place.
    return bypass(graph, node, x)


def _merge_chain(graph: Graph, node: Node) -> bool:
    """mul(mul(x, a), b) -> mul(x, a * b); add(add(x, a), b) -> add(x, a + b)."""
    for of, op in ((_scale_of, "mul"), (_shift_of, "add")):
        outer = of(graph, node)
        if outer is None:
            continue
        inner_node = graph.producer(outer[0])
        inner = None if inner_node is None else of(graph, inner_node)
        if inner is None or sole_reader(graph, outer[0]) is not node:
            continue
        if not has_open_clamp(inner_node):
            continue
        x = inner[0]
        value = inner[1] * outer[1] if op == "mul" else inner[1] + outer[1]
        merged = graph.add_const(f"{node.name}_{op}", value.astype(np.float32))
        node.op, node.inputs = op, [x, merged]
        remove_node(graph, inner_node)
        del graph.tensors[outer[0]]
        return True
    return False


def run(graph: Graph) -> bool:
    """Fold per-channel affine constants into layers and merge constant chains, to a fixed point.
    Returns whether the graph changed."""
    return run_rules(graph, [_fold_into_layer, _merge_chain])
