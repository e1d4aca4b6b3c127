"""Small IR graphs covering every op of the op table, for tests that need real graphs.

`zoo()` returns fresh graphs (callers may change them) keyed by a name that says what each covers.
Every graph has at least one graph input and one constant; shapes are small and odd on purpose and
valid per the op table. Values come from a fixed seed, so every call builds the same graphs.
The float32 graphs come first; the `int8_*` graphs cover quantize, dequantize, lut and the INT8
form of every op with OpDef.int8 (docs/quantization.md), with valid quantization parameters.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from tinyedge.ir import OPS, Graph, QuantParams
from tinyedge.reference.int8 import lut_table, softmax_exp_table

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


# ---------------------------------------------------------------------------------------------
# INT8 graphs. Activations are int8 with per-tensor (scale, zero point); weights int8 in [-127, 127]
# with per-channel scales (axis 0) and zero points 0; biases int32 without a quant record. Output
# scales are chosen so that most outputs land inside the int8 range rather than at its bounds.


def _qparams(scale: float, zero_point: int) -> QuantParams:
    return QuantParams(np.array([scale], np.float32), np.array([zero_point], np.int32))


def _qinput(g: Graph, name: str, shape: tuple[int, ...], scale: float, zero_point: int) -> str:
    x = g.add_input(name, shape, dtype="int8")
    g.tensors[x].quant = _qparams(scale, zero_point)
    return x


def _qnode(g: Graph, op: str, inputs: list[str], attrs: dict | None, name: str, scale: float,
           zero_point: int, dtype: str | None = None) -> str:
    """Add an INT8 node whose output gets (scale, zero_point)."""
    (y,) = g.add_node(op, inputs, attrs or {}, name=name, dtype=dtype)
    g.tensors[y].quant = _qparams(scale, zero_point)
    return y


def _qweight(g: Graph, rng: np.random.Generator, name: str, shape: tuple[int, ...],
             per_channel: bool = True) -> str:
    w = g.add_const(name, rng.integers(-127, 128, shape, dtype=np.int8))
    n = shape[0] if per_channel else 1
    g.tensors[w].quant = QuantParams(rng.uniform(0.002, 0.006, n).astype(np.float32),
                                     np.zeros(n, np.int32), axis=0 if per_channel else None)
    return w


def _qbias(g: Graph, rng: np.random.Generator, name: str, n: int) -> str:
    return g.add_const(name, rng.integers(-3000, 3000, n).astype(np.int32))


def _q_conv2d(rng, bias=True, per_channel=True, out_scale=0.08, **attrs):
    g = Graph()
    x = _qinput(g, "x", (1, 7, 6, 3), 0.05, -3)
    groups = attrs.get("group", 1)
    out_channels = 6 if groups > 1 else 4
    w = _qweight(g, rng, "w", (out_channels, 3, 3, 3 // groups), per_channel)
    inputs = [x, w] + ([_qbias(g, rng, "b", out_channels)] if bias else [])
    g.outputs = [_qnode(g, "conv2d", inputs, attrs, "conv", out_scale, 7)]
    return g


def _q_fully_connected(rng, x_shape=(2, 10), bias=True):
    g = Graph()
    x = _qinput(g, "x", x_shape, 0.04, 10)
    w = _qweight(g, rng, "w", (5, x_shape[-1]))
    inputs = [x, w] + ([_qbias(g, rng, "b", 5)] if bias else [])
    g.outputs = [_qnode(g, "fully_connected", inputs, RELU if bias else {}, "fc", 0.05, -20)]
    return g


def _q_matmul(rng):
    g = Graph()
    a = _qinput(g, "a", (2, 3, 4), 0.03, 5)
    b = g.add_const("b", rng.integers(-128, 128, (4, 5), dtype=np.int8))
    g.tensors[b].quant = _qparams(0.02, -4)  # matmul's b is an ordinary per-tensor operand
    g.outputs = [_qnode(g, "matmul", [a, b], None, "matmul", 0.3, 2)]
    return g


def _q_binary(op: str, attrs: dict | None, out_scale: float, out_zero_point: int):
    def build(rng):
        g = Graph()
        x = _qinput(g, "x", (1, 4, 5, 3), 0.02, -10)
        c = g.add_const("c", rng.integers(-128, 128, 3, dtype=np.int8))
        g.tensors[c].quant = _qparams(0.015, 6)
        g.outputs = [_qnode(g, op, [x, c], attrs, op, out_scale, out_zero_point)]
        return g

    return build


def _q_single(op: str, shape: tuple[int, ...], attrs: dict | None = None,
              out: tuple[float, int] | None = None):
    """A builder for an int8 input x (0.05, -7) -> op(attrs), output parameters `out` (default:
    the input's, as ops that copy values require)."""

    def build(rng):
        g = Graph()
        x = _qinput(g, "x", shape, 0.05, -7)
        g.outputs = [_qnode(g, op, [x], attrs, op, *(out or (0.05, -7)))]
        return g

    return build


def _q_concat(rng):
    """Three inputs: one with the output's parameters (copied), two requantized (one constant)."""
    g = Graph()
    x = _qinput(g, "x", (1, 4, 5, 3), 0.05, -7)
    u = _qinput(g, "u", (1, 4, 2, 3), 0.03, 11)
    k = g.add_const("k", rng.integers(-128, 128, (1, 4, 1, 3), dtype=np.int8))
    g.tensors[k].quant = _qparams(0.2, 0)
    g.outputs = [_qnode(g, "concat", [x, u, k], {"axis": 2}, "concat", 0.05, -7)]
    return g


def _q_softmax(axis: int):
    def build(rng):
        g = Graph()
        x = _qinput(g, "x", (2, 5, 7), 0.03, 3)
        table = g.add_const("exp_table", softmax_exp_table(0.03))
        g.outputs = [_qnode(g, "softmax", [x, table], {"axis": axis}, "softmax", 1 / 256, -128)]
        return g

    return build


def _q_lut(rng):
    """sigmoid as a lut, with the output parameters docs/quantization.md fixes for it."""
    g = Graph()
    x = _qinput(g, "x", (3, 7), 0.06, 4)
    table = g.add_const("table", lut_table("sigmoid", {}, (0.06, 4), (1 / 256, -128)))
    g.outputs = [_qnode(g, "lut", [x, table], None, "sigmoid", 1 / 256, -128)]
    return g


def _q_borders(rng):
    """float -> quantize -> dequantize -> float."""
    g = Graph()
    x = g.add_input("x", (2, 7))
    q = _qnode(g, "quantize", [x], None, "quantize", 0.02, -5, dtype="int8")
    (y,) = g.add_node("dequantize", [q], name="dequantize", dtype="float32")
    g.outputs = [y]
    return g


def _q_tiny_cnn(rng):
    """float image -> quantize -> conv (relu6) -> depthwise conv -> max pool -> mean -> reshape ->
    fully connected -> softmax -> dequantize."""
    g = Graph()
    x = g.add_input("image", (1, 9, 9, 3))
    y = _qnode(g, "quantize", [x], None, "quantize", 1 / 127, 0, dtype="int8")
    y = _qnode(g, "conv2d", [y, _qweight(g, rng, "conv1.w", (8, 3, 3, 3)),
                             _qbias(g, rng, "conv1.b", 8)],
               dict(RELU6, strides=(2, 2), pads=(1, 1, 1, 1)), "conv1", 6 / 255, -128)
    y = _qnode(g, "conv2d", [y, _qweight(g, rng, "dw.w", (8, 3, 3, 1))],
               {"group": 8, "pads": (1, 1, 1, 1)}, "dw", 0.02, 0)
    y = _qnode(g, "max_pool2d", [y], {"kernel": (2, 2), "strides": (2, 2)}, "pool", 0.02, 0)
    y = _qnode(g, "mean", [y], {"axes": (1, 2), "keepdims": 0}, "gap", 0.01, 3)
    y = _qnode(g, "reshape", [y], {"shape": (1, 8)}, "flatten", 0.01, 3)
    y = _qnode(g, "fully_connected",
               [y, _qweight(g, rng, "fc.w", (4, 8)), _qbias(g, rng, "fc.b", 4)], None, "fc", 0.02, -1)
    y = _qnode(g, "softmax", [y, g.add_const("prob.exp_table", softmax_exp_table(0.02))], None,
               "prob", 1 / 256, -128)
    (y,) = g.add_node("dequantize", [y], name="output", dtype="float32")
    g.outputs = [y]
    return g


_INT8_BUILDERS: dict[str, Callable[[np.random.Generator], Graph]] = {
    "int8_quantize_dequantize": _q_borders,
    "int8_conv2d": lambda rng: _q_conv2d(rng, strides=(2, 1), pads=(1, 1, 1, 1), **RELU),
    "int8_conv2d_per_tensor_nobias_dilated": lambda rng: _q_conv2d(
        rng, bias=False, per_channel=False, out_scale=0.12, dilations=(2, 2), pads=(0, 1, 2, 1)),
    "int8_conv2d_depthwise": lambda rng: _q_conv2d(rng, group=3, out_scale=0.05, pads=(1, 1, 1, 1),
                                                   **RELU6),
    "int8_fully_connected": _q_fully_connected,
    "int8_fully_connected_rank3_nobias": lambda rng: _q_fully_connected(rng, (2, 3, 10),
                                                                        bias=False),
    "int8_matmul": _q_matmul,
    "int8_add": _q_binary("add", RELU, 0.03, -128),
    "int8_mul": _q_binary("mul", {"act_min": -4.0, "act_max": 4.0}, 0.04, 0),
    "int8_concat": _q_concat,
    "int8_max_pool2d": _q_single("max_pool2d", (1, 7, 7, 3), {"kernel": (3, 3), "strides": (2, 2),
                                                             "pads": (1, 1, 1, 1), "ceil_mode": 1}),
    "int8_avg_pool2d": _q_single("avg_pool2d", (1, 7, 8, 3), {"kernel": (2, 3), "strides": (2, 2),
                                                             "pads": (0, 1, 0, 1),
                                                             "count_include_pad": 1}),
    "int8_mean": _q_single("mean", (1, 4, 5, 3), {"axes": (1, 2), "keepdims": 1}, out=(0.01, -2)),
    "int8_reshape": _q_single("reshape", (1, 4, 5, 3), {"shape": (4, 15)}),
    "int8_transpose": _q_single("transpose", (1, 4, 5, 3), {"perm": (0, 3, 1, 2)}),
    "int8_pad_constant": _q_single("pad", (1, 4, 5, 3), {"pads": (0, 1, 2, 0, 0, 2, 1, 0),
                                                        "value": 0.5}),
    "int8_pad_reflect": _q_single("pad", (1, 4, 5, 3), {"pads": (0, 1, 2, 0, 0, 2, 1, 0),
                                                       "mode": 1}),
    "int8_slice_reversed": _q_single("slice", (1, 4, 5, 3), {"starts": (0, 3, 4, 2),
                                                            "ends": (1, -1, -1, 0),
                                                            "steps": (1, -1, -2, -1)}),
    "int8_resize_nearest": _q_single("resize", (1, 3, 4, 2), {"size": (6, 8), "scales": (2.0, 2.0),
                                                             "mode": 0, "coord_mode": 1,
                                                             "nearest_mode": 2}),
    "int8_resize_linear": _q_single("resize", (1, 3, 4, 2), {"size": (5, 6),
                                                            "scales": (5 / 3, 1.5), "mode": 1,
                                                            "coord_mode": 0}),
    "int8_softmax": _q_softmax(-1),
    "int8_softmax_axis1": _q_softmax(1),
    "int8_lut": _q_lut,
    "int8_tiny_cnn": _q_tiny_cnn,
}
_BUILDERS.update(_INT8_BUILDERS)


def zoo() -> dict[str, Graph]:
    """Fresh small graphs (float32, then int8), at least one per op of the op table, each
    validated; every op with an INT8 form has an int8 graph too."""
    graphs = {}
    for i, (name, build) in enumerate(_BUILDERS.items()):
        g = build(np.random.default_rng(1000 + i))
        g.meta = {"name": name}
        g.validate()
        graphs[name] = g
    missing = set(OPS) - {n.op for g in graphs.values() for n in g.nodes}
    assert not missing, f"graph_zoo covers no graph for {sorted(missing)}"
    int8_ops = {n.op for name, g in graphs.items() if name.startswith("int8_") for n in g.nodes}
    missing = {op for op, d in OPS.items() if d.int8} - int8_ops
    assert not missing, f"graph_zoo covers no int8 graph for {sorted(missing)}"
    return graphs
