"""Activation fusion: a clip (Relu, Relu6, Clip) becomes its producer's fused clamp.

  clip_[lo,hi](op_[a,b](...))   -> op_[max(a,lo), min(b,hi)](...)    op: conv2d, conv_transpose2d,
                                                                    fully_connected, add, sub, mul,
                                                                    div (attrs act_min, act_max)
  clip_[lo,hi](clip_[a,b](x))   -> clip_[max(a,lo), min(b,hi)](x)
Conditions: the producer's output has the clip as its only reader and is not a graph output, and
the two ranges overlap: clamping twice is clamping once to the intersection only then (with
disjoint ranges the result is a constant, which no single clamp computes).
"""
from __future__ import annotations

from ..ir import Graph, Node
from .rewrite import bypass, run_rules, sole_reader

# Op -> names of its clamp attributes.
_CLAMPS = {op: ("act_min", "act_max") for op in
           ("conv2d", "conv_transpose2d", "fully_connected", "add", "sub", "mul", "div")}
_CLAMPS["clip"] = ("min", "max")


def _fuse_clip(graph: Graph, node: Node) -> bool:
    if node.op != "clip":
        return False
    x = node.inputs[0]
    producer = graph.producer(x)
    if producer is None or producer.op not in _CLAMPS or sole_reader(graph, x) is not node:
        return False
    lo_key, hi_key = _CLAMPS[producer.op]
    lo = max(producer.attrs[lo_key], node.attrs["min"])
    hi = min(producer.attrs[hi_key], node.attrs["max"])
    if lo > hi:
        return False
    producer.attrs = dict(producer.attrs, **{lo_key: lo, hi_key: hi})
    # x is an inner activation read only by the clip, so bypass can always take the clip's place.
    return bypass(graph, node, x)


def run(graph: Graph) -> bool:
    """Fuse every clip into its producer where the rules allow; returns whether it changed."""
    return run_rules(graph, [_fuse_clip])
