"""Small float32 IR graphs covering every op of the op table, for tests that need real graphs.

`zoo()` returns fresh graphs (callers may change them) keyed by a name that says what each covers.
Every graph has at least one graph input and one constant; shapes are small and odd on purpose and
valid per the op table. Values come from a fixed seed, so every call builds the same graphs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from tinyedge.ir import OPS, Graph

RELU = {"act_min": 0.0}
RELU6 = {"act_min": 0.0, "act_max": 6.0}


def _rand(rng: np.random.Generator, *shape: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return rng.uniform(low, high, size=shape).astype(np.float32)


def _start(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[Graph, str]:
    """A graph whose input x goes through `x + c` (c a constant over the last axis)."""
    g = Graph()
    x = g.add_input("x", shape)
    c = g.add_const("c", _rand(rng, shape[-1]))
    (y,) = g.add_node("add", [x, c], name="add_c")
    return g, y


def _single(op: str, shape: tuple[int, ...], attrs: dict | None = None) -> Callable:
    """A builder for `x + c -> op(attrs)`."""

    def build(rng: np.random.Generator) -> Graph:
        g, y = _start(rng, shape)
        g.outputs = g.add_node(op, [y], attrs or {}, name=op)
        return g

    return build


def _conv2d(rng, bias=True, **attrs):
    g = Graph()
    x = g.add_input("x", (1, 7, 6, 3))
    groups = attrs.get("group", 1)
    out_channels = 6 if groups > 1 else 4
    w = g.add_const("w", _rand(rng, out_channels, 3, 3, 3 // groups))
    inputs = [x, w] + ([g.add_const("b", _rand(rng, out_channels))] if bias else [])
    g.outputs = g.add_node("conv2d", inputs, attrs, name="conv")
    return g


def _conv_transpose2d(rng, group=1, **attrs):
    g = Graph()
    x = g.add_input("x", (1, 4, 5, 4))
    w = g.add_const("w", _rand(rng, 4, 3, 3, 3))
    b = g.add_const("b", _rand(rng, 3 * group))
    g.outputs = g.add_node("conv_transpose2d", [x, w, b], dict(attrs, group=group), name="deconv")
    return g


def _fully_connected(rng, x_shape=(2, 10), bias=True):
    g = Graph()
    x = g.add_input("x", x_shape)
    w = g.add_const("w", _rand(rng, 5, x_shape[-1]))
    inputs = [x, w] + ([g.add_const("b", _rand(rng, 5))] if bias else [])
    g.outputs = g.add_node("fully_connected", inputs, RELU if bias else {}, name="fc")
    return g


def _matmul(rng):
    g = Graph()
    a = g.add_input("a", (2, 3, 4))
    b = g.add_const("b", _rand(rng, 4, 5))
    g.outputs = g.add_node("matmul", [a, b], name="matmul")
    return g


def _binary(op: str, attrs: dict | None = None, low: float = -1.0):
    def build(rng):
        g = Graph()
        x = g.add_input("x", (1, 4, 5, 3))
        c = g.add_const("c", _rand(rng, 3, low=low, high=2.0))
        g.outputs = g.add_node(op, [x, c], attrs or {}, name=op)
        return g

    return build


def _concat(rng):
    g, y = _start(rng, (1, 4, 5, 3))
    k = g.add_const("k", _rand(rng, 1, 4, 5, 2))
    g.outputs = g.add_node("concat", [y, k, g.inputs[0]], {"axis": 3}, name="concat")
    return g


def _tiny_cnn(rng):
    """conv (relu6) -> depthwise conv -> max pool -> mean -> reshape -> fully connected -> softmax."""
    g = Graph()
    x = g.add_input("image", (1, 9, 9, 3))
    (y,) = g.add_node("conv2d", [x, g.add_const("conv1.w", _rand(rng, 8, 3, 3, 3)),
                                 g.add_const("conv1.b", _rand(rng, 8))],
                      dict(RELU6, strides=(2, 2), pads=(1, 1, 1, 1)), name="conv1")
    (y,) = g.add_node("conv2d", [y, g.add_const("dw.w", _rand(rng, 8, 3, 3, 1))],
                      {"group": 8, "pads": (1, 1, 1, 1)}, name="dw")
    (y,) = g.add_node("max_pool2d", [y], {"kernel": (2, 2), "strides": (2, 2)}, name="pool")
    (y,) = g.add_node("mean", [y], {"axes": (1, 2), "keepdims": 0}, name="gap")
    (y,) = g.add_node("reshape", [y], {"shape": (1, 8)}, name="flatten")
    (y,) = g.add_node("fully_connected", [y, g.add_const("fc.w", _rand(rng, 4, 8)),
                                          g.add_const("fc.b", _rand(rng, 4))], name="fc")
    g.outputs = g.add_node("softmax", [y], name="prob")
    return g


_BUILDERS: dict[str, Callable[[np.random.Generator], Graph]] = {
    "conv2d": lambda rng: _conv2d(rng, strides=(2, 1), pads=(1, 1, 1, 1), **RELU),
    "conv2d_nobias_dilated": lambda rng: _conv2d(rng, bias=False, dilations=(2, 2), pads=(0, 1, 2, 1)),
    "conv2d_depthwise": lambda rng: _conv2d(rng, group=3, pads=(1, 1, 1, 1), **RELU6),
    "conv_transpose2d": lambda rng: _conv_transpose2d(rng, strides=(2, 2), pads=(1, 1, 1, 1),
                                                      output_padding=(1, 1)),
    "conv_transpose2d_grouped": lambda rng: _conv_transpose2d(rng, group=2, strides=(1, 2)),
    "fully_connected": _fully_connected,
    "fully_connected_rank3_nobias": lambda rng: _fully_connected(rng, (2, 3, 10), bias=False),
    "matmul": _matmul,
    "add": _binary("add", RELU),
    "sub": _binary("sub"),
    "mul": _binary("mul", {"act_min": -0.5, "act_max": 0.5}),
    "div": _binary("div", low=0.5),  # divisors kept away from zero
    "prelu": _binary("prelu"),
    "clip": _single("clip", (1, 4, 5, 3), {"min": -0.5, "max": 0.5}),
    "leaky_relu": _single("leaky_relu", (1, 4, 5, 3), {"alpha": 0.1}),
    "sigmoid": _single("sigmoid", (2, 7)),
    "tanh": _single("tanh", (3, 5)),
    "hard_sigmoid": _single("hard_sigmoid", (1, 4, 5, 3), {"alpha": 0.25, "beta": 0.4}),
    "hard_swish": _single("hard_swish", (1, 4, 5, 3)),
    "max_pool2d": _single("max_pool2d", (1, 7, 7, 3), {"kernel": (3, 3), "strides": (2, 2),
                                                       "pads": (1, 1, 1, 1), "ceil_mode": 1}),
    "avg_pool2d": _single("avg_pool2d", (1, 7, 8, 3), {"kernel": (2, 3), "strides": (2, 2),
                                                       "pads": (0, 1, 0, 1), "count_include_pad": 1}),
    "mean": _single("mean", (1, 4, 5, 3), {"axes": (1, 2), "keepdims": 1}),
    "reshape": _single("reshape", (1, 4, 5, 3), {"shape": (4, 15)}),
    "transpose": _single("transpose", (1, 4, 5, 3), {"perm": (0, 3, 1, 2)}),
    "concat": _concat,
    "pad_constant": _single("pad", (1, 4, 5, 3), {"pads": (0, 1, 2, 0, 0, 2, 1, 0), "value": 0.5}),
    "pad_reflect": _single("pad", (1, 4, 5, 3), {"pads": (0, 1, 2, 0, 0, 2, 1, 0), "mode": 1}),
    "pad_edge": _single("pad", (1, 4, 5, 3), {"pads": (0, 3, 0, 1, 0, 0, 4, 1), "mode": 2}),
    "slice": _single("slice", (1, 4, 5, 3), {"starts": (0, 1, 0, 0), "ends": (1, 4, 5, 3),
                                             "steps": (1, 2, 1, 1)}),
    "slice_reversed": _single("slice", (1, 4, 5, 3), {"starts": (0, 3, 4, 2), "ends": (1, -1, -1, 0),
                                                      "steps": (1, -1, -2, -1)}),
    "softmax": _single("softmax", (2, 3, 7)),
    "softmax_axis1": _single("softmax", (2, 5, 3), {"axis": 1}),
    "resize_nearest": _single("resize", (1, 3, 4, 2), {"size": (6, 8), "scales": (2.0, 2.0),
                                                       "mode": 0, "coord_mode": 1, "nearest_mode": 2}),
    "resize_linear": _single("resize", (1, 3, 4, 2), {"size": (5, 6), "scales": (5 / 3, 1.5),
                                                      "mode": 1, "coord_mode": 0}),
    "lrn": _single("lrn", (1, 3, 4, 5), {"size": 3, "alpha": 2e-4}),
    "tiny_cnn": _tiny_cnn,
}


def zoo() -> dict[str, Graph]:
    """Fresh small float32 graphs, at least one per op of the op table, each validated."""
    graphs = {}
    for i, (name, build) in enumerate(_BUILDERS.items()):
        g = build(np.random.default_rng(1000 + i))
        g.meta = {"name": name}
        g.validate()
        graphs[name] = g
    missing = set(OPS) - {n.op for g in graphs.values() for n in g.nodes}
    assert not missing, f"graph_zoo covers no graph for {sorted(missing)}"
    return graphs
