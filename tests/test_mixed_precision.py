"""Mixed precision: --float-layers keeps exactly the named layers in float, --min-sqnr finds the few
layers a detection-style model needs in float, and bad layer names are errors."""
import math

import numpy as np
import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.format.writer import serialize
from tinyedge.ir import Graph
from tinyedge.plan import plan_memory
from tinyedge.quantize import QuantOptions, quantizable_layers, quantize_graph
from tinyedge.reference import run

SEED = 3


def detector(rng) -> Graph:
    """A small backbone and two heads: box regression (outputs `boxes`) and class scores.

    The box head is deliberately sensitive: feature channel 0 of box.0 is dead (a large negative
    bias before its relu) and box.1's weights for it blew up to 400, an outlier that sets every
    output channel's weight scale, so all the useful weights quantize to 0."""
    g = Graph()
    g.add_input("image", (1, 16, 16, 3))

    def conv(name, x, cin, cout, k=3, relu=True, w=None, b=None):
        if w is None:
            w = (rng.standard_normal((cout, k, k, cin)) / np.sqrt(k * k * cin)).astype(np.float32)
        if b is None:
            b = (0.1 * rng.standard_normal(cout)).astype(np.float32)
        attrs = {"pads": (k // 2,) * 4, **({"act_min": 0.0} if relu else {})}
        inputs = [x, g.add_const(f"{name}.weight", w), g.add_const(f"{name}.bias", b)]
        return g.add_node("conv2d", inputs, attrs, name=name)[0]

    f = conv("backbone.0", "image", 3, 8)
    f = conv("backbone.1", f, 8, 16)
    f = conv("backbone.2", f, 16, 16)
    bias = (0.1 * rng.standard_normal(16)).astype(np.float32)
    bias[0] = -100.0
    box = conv("box.0", f, 16, 16, b=bias)
    w = (rng.standard_normal((4, 1, 1, 16)) / 4).astype(np.float32)
    w[..., 0] = 400.0
    boxes = conv("box.1", box, 16, 4, k=1, relu=False, w=w)
    c = conv("cls.0", f, 16, 8)
    c = conv("cls.1", c, 8, 3, k=1, relu=False)
    scores, = g.add_node("sigmoid", [c], name="cls.sigmoid")
    g.outputs = [boxes, scores]
    return g


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(SEED)
    g = detector(rng)
    return g, {"image": rng.standard_normal((16, 1, 16, 16, 3)).astype(np.float32)}


def precision(graph, name):
    node = next(n for n in graph.nodes if n.name == name)
    return graph.tensors[node.outputs[0]].dtype, node.op


def test_float_layers_stay_float(model):
    g, samples = model
    keep = ("box.0", "cls.sigmoid")
    q_all, _ = quantize_graph(g, samples, QuantOptions())
    q, report = quantize_graph(g, samples, QuantOptions(float_layers=keep))
    for name in quantizable_layers(g):
        dtype, op = precision(q, name)
        if name in keep:
            assert dtype == "float32" and op == next(n.op for n in g.nodes if n.name == name)
        else:
            assert dtype == "int8", name
    assert report.float_layers == list(keep)
    assert [r.name for r in report.layers if r.precision == "float"] == list(keep)
    x = samples["image"][0]
    assert not np.array_equal(run(q, [x])[1], run(q_all, [x])[1]), "a float sigmoid changes scores"
    assert 0 < report.int8_mac_share < 1

    # The C runtime runs the mixed file as the reference does (float layers within float rounding).
    import tinyedge.runtime

    m = tinyedge.runtime.load_bytes(serialize(q, plan_memory(q), {}))
    for got, want in zip(m.run([x]), run(q, [x])):
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_unknown_float_layer_is_an_error_with_close_matches(model):
    g, samples = model
    with pytest.raises(TinyEdgeError, match=r"no layer named 'box1'.*box\.1"):
        quantize_graph(g, samples, QuantOptions(float_layers=("box1",)))
    with pytest.raises(TinyEdgeError, match="tinyedge inspect"):
        quantize_graph(g, samples, QuantOptions(float_layers=("zzzz",)))


def naive_reverse(g, samples, target):
    """Keep layers float from the outputs backwards until every output reaches the target."""
    order = quantizable_layers(g)[::-1]
    for k in range(len(order) + 1):
        _, report = quantize_graph(g, samples, QuantOptions(float_layers=tuple(order[:k])))
        if min(report.outputs.values()) >= target:
            return order[:k]
    raise AssertionError("all float must reach any finite target")


def test_min_sqnr_keeps_only_the_sensitive_layer(model):
    g, samples = model
    target = 30.0
    _, all_int8 = quantize_graph(g, samples, QuantOptions())
    assert all_int8.outputs["box.1"] < 10, "the box head should break in INT8"
    q, report = quantize_graph(g, samples, QuantOptions(min_sqnr=target))
    assert all(v >= target for v in report.outputs.values()), report.outputs
    assert report.mixed["reached"] and report.mixed["float_layers"] == ["box.1"]
    assert report.float_layers == ["box.1"] and precision(q, "box.1") == ("float32", "conv2d")
    assert report.mixed["sensitivity"][0]["name"] == "box.1"
    assert report.mixed["evaluations"] <= len(quantizable_layers(g)) + 8
    naive = naive_reverse(g, samples, target)
    assert len(report.mixed["float_layers"]) < len(naive), naive


def test_min_sqnr_edge_targets(model):
    g, samples = model
    _, low = quantize_graph(g, samples, QuantOptions(min_sqnr=-20.0))
    assert low.mixed["float_layers"] == [] and low.mixed["evaluations"] == 1 and low.float_layers == []
    _, inf = quantize_graph(g, samples, QuantOptions(min_sqnr=math.inf))
    assert inf.mixed["reached"] and inf.mixed["float_layers"] == quantizable_layers(g)
    assert inf.int8_mac_share == 0 and all(v == math.inf for v in inf.outputs.values())
    # With int8 model outputs, even all-float layers cannot reach 80 dB: said, not hidden.
    _, io8 = quantize_graph(g, samples, QuantOptions(min_sqnr=80.0, io="int8"))
    assert not io8.mixed["reached"] and "miss" in io8.mixed["note"]
    with pytest.raises(TinyEdgeError, match="min-sqnr"):
        quantize_graph(g, samples, QuantOptions(min_sqnr=math.nan))
