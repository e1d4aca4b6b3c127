"""The portable conv2d kernels (float32 and INT8) on channel counts around their vector loops.

The kernels pack the weights at load and run their inner loops over a row of output channels
(four input values at a time) or, depthwise, over channels (three taps at a time); the compiler
vectorizes those loops 4 or 16 lanes wide. The hypothesis cases of test_kernels_compute.py and
test_kernels_int8_compute.py draw few channels, so this sweep walks the counts below, at and above
those widths and unroll factors (1, 3, 4, 5, 15, 16, 17, 33), with windows that hang over every
border, strides, dilations and groups. The float kernel is checked against the numpy reference
within test_kernels_compute's tolerance, the INT8 kernel bit for bit. A float weight computed at
run time (a graph input) is packed by eval instead of prepare: one case covers it.
"""
from __future__ import annotations

import numpy as np
import pytest

from test_kernels_compute import assert_close, rand, write
from test_kernels_int8_compute import (check, int8_values, int8_weights, int32_bias, layer_params,
                                       qp, weight_qp)
from tinyedge import reference, runtime
from tinyedge.ir import Graph

# (channels in per group, channels out per group, group, kernel, strides, dilations, pads, h, w)
GENERAL = [
    (1, 16, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 5, 6),    # pointwise, one input channel
    (3, 17, 1, (1, 1), (2, 2), (1, 1), (0, 0, 0, 0), 7, 5),    # pointwise, strided
    (4, 15, 1, (1, 1), (1, 1), (1, 1), (1, 0, 0, 1), 4, 4),    # pointwise over padding
    (5, 33, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 3, 9),    # one row of 4 and a tail of 1
    (16, 4, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 6, 3),
    (17, 5, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 2, 7),
    (3, 32, 1, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 9, 8),    # MobileNet's first layer
    (4, 16, 1, (3, 3), (1, 1), (1, 1), (2, 2, 2, 2), 5, 5),    # windows over every border
    (5, 17, 1, (5, 3), (1, 2), (1, 1), (2, 1, 2, 1), 8, 7),
    (3, 16, 1, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2), 6, 6),    # column dilation: tap by tap
    (4, 5, 1, (2, 4), (2, 1), (2, 3), (1, 3, 0, 2), 7, 9),
    (4, 16, 2, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 5, 6),    # grouped
    (9, 17, 3, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 4, 5),
    (1, 16, 4, (3, 3), (2, 1), (1, 1), (1, 1, 1, 1), 6, 5),    # depthwise, channel multiplier 16
    (5, 1, 3, (3, 2), (1, 1), (1, 2), (0, 1, 1, 0), 5, 7),     # one output channel per group
    (4, 16, 1, (3, 3), (1, 1), (1, 1), (4, 4, 0, 0), 2, 2),    # some windows entirely in padding
]
# (channels, kernel, strides, dilations, pads, h, w): depthwise, group == C == O.
DEPTHWISE = [
    (1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 5, 5),
    (15, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 6, 7),
    (16, (3, 3), (2, 2), (1, 1), (0, 1, 1, 0), 9, 8),  # MobileNet's stride 2 (TF "same" pads)
    (17, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 7, 7),
    (33, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2), 6, 6),  # 5 taps a row: one 3 and a tail of 2
    (16, (3, 4), (1, 1), (2, 2), (2, 3, 2, 3), 6, 7),  # dilated: taps two columns apart
    (31, (1, 7), (1, 3), (1, 1), (0, 3, 0, 3), 3, 11),
    (20, (3, 3), (1, 1), (1, 1), (3, 3, 3, 3), 2, 2),  # some windows entirely in padding
]


def general_id(case) -> str:
    ci, co, g, k, s, d, p, h, w = case
    return f"ci{ci}-co{co}-g{g}-k{k[0]}x{k[1]}-s{s[0]}{s[1]}-d{d[0]}{d[1]}-p{''.join(map(str, p))}"


def depthwise_id(case) -> str:
    c, k, s, d, p, h, w = case
    return f"c{c}-k{k[0]}x{k[1]}-s{s[0]}{s[1]}-d{d[0]}{d[1]}-p{''.join(map(str, p))}"


def as_general(case) -> tuple:
    c, k, s, d, p, h, w = case
    return (1, 1, c, k, s, d, p, h, w)


def float_conv(tmp_path, case, seed: int, runtime_weight: bool = False) -> None:
    ci, co, g, k, s, d, p, h, w = case
    x = rand(seed, 2, h, w, ci * g)
    weight, bias = rand(seed + 1, co * g, *k, ci), rand(seed + 2, co * g)
    graph = Graph()
    graph.add_input("x", x.shape)
    feeds = {"x": x}
    if runtime_weight:
        graph.add_input("weight", weight.shape)
        feeds["weight"] = weight
    else:
        graph.add_const("weight", weight)
    graph.add_const("bias", bias)
    graph.outputs = graph.add_node("conv2d", ["x", "weight", "bias"],
                                   dict(strides=s, dilations=d, pads=p, group=g, act_min=-2.0,
                                        act_max=2.0), name="conv2d_under_test")
    (want,) = reference.run(graph, feeds)
    model = runtime.load(write(graph, tmp_path / "model.tem"))
    assert model.ops[0].kernel == "te_conv2d_f32__ref", model.ops
    (got,) = model.run(feeds)
    assert_close(got, want)


def int8_conv(tmp_path, case, seed: int) -> None:
    ci, co, g, k, s, d, p, h, w = case
    rng = np.random.default_rng(seed)
    s_x, s_w, s_y = layer_params(rng, co * g, -10.0)
    consts = {"weight": (int8_weights(rng, (co * g, *k, ci)), weight_qp(s_w, True)),
              "bias": (int32_bias(rng, co * g), None)}
    x = int8_values(rng, (2, h, w, ci * g))
    check(tmp_path, "conv2d", {"x": (x, qp(s_x, int(rng.integers(-128, 128))))}, consts,
          ["x", "weight", "bias"], dict(strides=s, dilations=d, pads=p, group=g),
          qp(s_y, int(rng.integers(-128, 128))))


@pytest.mark.parametrize("case", GENERAL, ids=general_id)
def test_float_conv2d(tmp_path, case):
    float_conv(tmp_path, case, seed=sum(case[:3]))


@pytest.mark.parametrize("case", DEPTHWISE, ids=depthwise_id)
def test_float_depthwise_conv2d(tmp_path, case):
    float_conv(tmp_path, as_general(case), seed=case[0])


@pytest.mark.parametrize("case", [GENERAL[7], GENERAL[11], as_general(DEPTHWISE[5])],
                         ids=["plain", "grouped", "depthwise"])
def test_float_conv2d_with_run_time_weight(tmp_path, case):
    float_conv(tmp_path, case, seed=7, runtime_weight=True)


@pytest.mark.parametrize("case", GENERAL, ids=general_id)
def test_int8_conv2d(tmp_path, case):
    int8_conv(tmp_path, case, seed=sum(case[:3]))


@pytest.mark.parametrize("case", DEPTHWISE, ids=depthwise_id)
def test_int8_depthwise_conv2d(tmp_path, case):
    int8_conv(tmp_path, as_general(case), seed=case[0])
