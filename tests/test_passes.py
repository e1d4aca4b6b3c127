"""The graph passes (tinyedge.passes) against the numpy reference executor.

Graphs are built the way the ONNX frontend emits them: NCHW activations, every spatial op wrapped as
transpose(0,2,3,1) -> op -> transpose(0,3,1,2), BatchNorm as mul then add by [C,1,1] constants,
Relu as clip(0, inf), GlobalAveragePool as mean over (2, 3) with keepdims, Flatten as reshape.
Each test runs the reference on the graph before and after `optimize` (the oracle: the unoptimized
graph is what the source model computes) and checks the structure the passes promise.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyedge.ir import Graph
from tinyedge.passes import PASSES, optimize
from tinyedge.reference import run

TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)
INF = float("inf")

# Folding BatchNorm into weights and merging constants reorders float32 roundings, and a mean
# over H, W sums in another order in NHWC: the results differ by a few ulps of the largest value.
# A softmax turns an absolute error in its logits into a relative one in its output (a few ulps of
# logits of ~10 is ~1e-5), so the bound is the 1e-4 rather than a handful of ulps.
RTOL = 1e-4


class Emitter:
    """Builds an IR graph in the frontend's shape (NCHW outside every spatial op)."""

    def __init__(self, shape, seed=0):
        self.g = Graph()
        self.rng = np.random.default_rng(seed)
        self.x = self.g.add_input("x", shape)

    def rand(self, *shape, low=-1.0, high=1.0):
        return self.rng.uniform(low, high, size=shape).astype(np.float32)

    def node(self, op, inputs, **attrs):
        return self.g.add_node(op, inputs, attrs)[0]

    def const(self, name, value):
        return self.g.add_const(name, value)

    def channels(self, t):
        return self.g.tensors[t].shape[1]

    def spatial(self, op, t, inputs=(), **attrs):
        """transpose(0,2,3,1) -> op -> transpose(0,3,1,2), as for Conv, MaxPool, Resize, ..."""
        nhwc = self.node("transpose", [t], perm=TO_NHWC)
        y = self.node(op, [nhwc, *inputs], **attrs)
        return self.node("transpose", [y], perm=TO_NCHW)

    def conv(self, t, cout, k=3, stride=1, group=1, bias=True):
        cin = self.channels(t)
        w = self.const("w", self.rand(cout, k, k, cin // group))
        inputs = [w] + ([self.const("b", self.rand(cout))] if bias else [])
        p = k // 2
        return self.spatial("conv2d", t, inputs, strides=(stride, stride), pads=(p, p, p, p),
                            group=group)

    def conv_transpose(self, t, cout, group=1):
        cin = self.channels(t)
        w = self.const("wt", self.rand(cin, 3, 3, cout // group))
        return self.spatial("conv_transpose2d", t, [w], strides=(2, 2), pads=(1, 1, 1, 1),
                            output_padding=(1, 1), group=group)

    def bn(self, t):
        c = self.channels(t)
        scale = self.const("bn_scale", self.rand(c, 1, 1, low=0.5, high=1.5))
        shift = self.const("bn_shift", self.rand(c, 1, 1))
        return self.node("add", [self.node("mul", [t, scale]), shift])

    def relu(self, t, hi=INF):
        return self.node("clip", [t], min=0.0, max=hi)

    def conv_bn(self, t, cout, k=3, stride=1, group=1, act=6.0):
        y = self.bn(self.conv(t, cout, k, stride, group, bias=False))
        return self.relu(y, act) if act else y

    def gap_classifier(self, t, classes=5):
        c = self.channels(t)
        pooled = self.node("mean", [t], axes=(2, 3), keepdims=1)
        flat = self.node("reshape", [pooled], shape=(self.g.tensors[t].shape[0], c))
        w, b = self.const("fc_w", self.rand(classes, c)), self.const("fc_b", self.rand(classes))
        return self.node("fully_connected", [flat, w, b])

    def finish(self, *outputs):
        self.g.outputs = list(outputs)
        self.g.validate()
        return self.g


def count(g: Graph, op: str) -> int:
    return sum(n.op == op for n in g.nodes)


def const_operand_count(g: Graph, *ops: str) -> int:
    """Nodes of the given ops with a constant input (a BatchNorm mul/add left unfolded)."""
    return sum(n.op in ops and any(g.is_const(i) for i in n.inputs) for n in g.nodes)


def assert_same_outputs(before: Graph, after: Graph, seed=1):
    """optimize kept inputs and outputs, and the reference computes the same outputs."""
    assert after.inputs == before.inputs and after.outputs == before.outputs
    for name in before.inputs + before.outputs:
        assert after.tensors[name].shape == before.tensors[name].shape, name
    after.validate()
    rng = np.random.default_rng(seed)
    feeds = [rng.standard_normal(before.tensors[i].shape).astype(np.float32) for i in before.inputs]
    for name, want, got in zip(before.outputs, run(before, feeds), run(after, feeds)):
        scale = max(float(np.abs(want).max()), 1e-30)
        err = float(np.abs(want - got).max())
        assert err <= RTOL * scale, f"output {name}: max error {err:.3g} vs max |ref| {scale:.3g}"


def optimized(g: Graph) -> Graph:
    ops_before = [(n.op, tuple(n.inputs), tuple(n.outputs)) for n in g.nodes]
    out = optimize(g)
    assert [(n.op, tuple(n.inputs), tuple(n.outputs)) for n in g.nodes] == ops_before, \
        "optimize changed its input graph"
    assert_same_outputs(g, out)
    return out


# ---------------------------------------------------------------------------------------------
# Whole blocks, as real models have them.


def mobilenet_chain(e: Emitter, blocks: int) -> str:
    """Stem conv, then depthwise+pointwise blocks (inverted residuals where shapes allow)."""
    t = e.conv_bn(e.x, 8, stride=2)
    for i in range(blocks):
        c = e.channels(t)
        y = e.conv_bn(t, c * 2, k=1)
        y = e.conv_bn(y, c * 2, k=3, stride=2 if i == 1 else 1, group=c * 2)
        y = e.conv_bn(y, c, k=1, act=None)
        t = e.node("add", [t, y]) if e.g.tensors[y].shape == e.g.tensors[t].shape else y
    return t


def test_mobilenet_chain_keeps_boundary_transposes_folds_bn_fuses_clips():
    e = Emitter((1, 3, 16, 16))
    t = mobilenet_chain(e, blocks=3)
    g = optimized(e.finish(e.gap_classifier(t)))
    assert count(g, "transpose") <= 2
    assert count(g, "clip") == 0 and count(g, "mul") == 0
    assert const_operand_count(g, "add") == 0
    assert count(g, "reshape") <= 1 and count(g, "mean") == 1
    relu6_convs = [n for n in g.nodes if n.op == "conv2d" and n.attrs["act_min"] == 0.0]
    assert len(relu6_convs) == 7 and all(n.attrs["act_max"] == 6.0 for n in relu6_convs)


def test_mobilenet_features_out_in_nchw_two_transposes():
    e = Emitter((2, 3, 12, 10))
    g = optimized(e.finish(mobilenet_chain(e, blocks=2)))
    assert count(g, "transpose") == 2
    assert [n.op for n in g.nodes][0] == "transpose" and g.nodes[-1].op == "transpose"


def test_resnet_basic_block_relu_fuses_into_residual_add():
    e = Emitter((1, 4, 8, 8))
    t = e.conv_bn(e.x, 8, act=INF)
    for _ in range(2):
        y = e.conv_bn(t, 8, act=INF)
        y = e.conv_bn(y, 8, act=None)
        t = e.relu(e.node("add", [y, t]))
    down = e.conv_bn(t, 16, k=1, stride=2, act=None)
    y = e.conv_bn(e.conv_bn(t, 16, stride=2, act=INF), 16, act=None)
    g = optimized(e.finish(e.relu(e.node("add", [y, down]))))
    assert count(g, "transpose") == 2 and count(g, "clip") == 0 and count(g, "mul") == 0
    adds = [n for n in g.nodes if n.op == "add"]
    assert len(adds) == 3 and all(n.attrs["act_min"] == 0.0 for n in adds)


def test_concat_of_branches_with_pool_and_bn_after_concat():
    e = Emitter((1, 6, 9, 9))
    a = e.conv_bn(e.x, 4, k=1)
    b = e.conv_bn(e.conv_bn(e.x, 3, k=1), 5, k=3)
    c = e.spatial("max_pool2d", e.x, kernel=(3, 3), pads=(1, 1, 1, 1))
    cat = e.node("concat", [a, b, c], axis=1)
    g = optimized(e.finish(e.relu(e.bn(cat))))
    assert count(g, "transpose") == 2
    (concat,) = [n for n in g.nodes if n.op == "concat"]
    assert concat.attrs["axis"] == 3


def squeeze_excite(e: Emitter, t: str) -> str:
    s = e.node("mean", [t], axes=(2, 3), keepdims=1)
    s = e.relu(e.conv(s, 4, k=1))
    return e.node("mul", [t, e.node("sigmoid", [e.conv(s, e.channels(t), k=1)])])


def preactivation_block(e: Emitter, t: str) -> str:
    """ResNet v2: BN and relu before the conv, on a tensor the residual add also reads."""
    y = e.conv(e.relu(e.bn(t)), e.channels(t))
    return e.node("add", [t, e.conv(e.relu(e.bn(y)), e.channels(t))])


def test_squeeze_excite_mean_keepdims_sigmoid_gate():
    e = Emitter((1, 8, 6, 6))
    g = optimized(e.finish(squeeze_excite(e, e.conv_bn(e.x, 8))))
    assert count(g, "transpose") == 2 and count(g, "clip") == 0


def test_preactivation_blocks_sink_through_bn_on_a_shared_tensor():
    e = Emitter((1, 3, 6, 6))
    t = e.conv(e.x, 6)
    for _ in range(3):
        t = preactivation_block(e, t)
    g = optimized(e.finish(t))
    # The BNs cannot fold (a conv reads them, none follows one), but the layout is NHWC inside.
    assert count(g, "transpose") == 2 and count(g, "clip") == 0


def test_graph_input_reused_by_concat_and_add_merges_with_its_nhwc_transpose():
    e = Emitter((1, 3, 6, 6))
    t = e.node("concat", [e.conv_bn(e.x, 5), e.x], axis=1)
    t = e.node("add", [e.node("slice", [t], starts=(0, 0, 0, 0), ends=(1, 3, 6, 6),
                                steps=(1, 1, 1, 1)), e.x])
    g = optimized(e.finish(e.conv(t, 4)))
    assert count(g, "transpose") == 2


def test_flatten_before_classifier_permutes_the_weight_columns():
    e = Emitter((2, 3, 6, 5))
    t = e.spatial("max_pool2d", e.conv_bn(e.x, 4, act=INF), kernel=(2, 2), strides=(2, 2))
    flat = e.node("reshape", [t], shape=(2, 4 * 3 * 2))
    w = e.const("fc_w", e.rand(7, 24))
    g = optimized(e.finish(e.node("fully_connected", [flat, w])))
    assert count(g, "transpose") == 1  # the input's; the classifier reads NHWC data directly


def test_pad_slice_softmax_and_mean_without_keepdims_follow_the_layout():
    e = Emitter((1, 5, 7, 6))
    t = e.conv(e.x, 6)
    t = e.node("pad", [t], pads=(0, 1, 2, 0, 0, 0, 1, 3))
    t = e.node("slice", [t], starts=(0, 6, 0, 8), ends=(1, -1, 9, 0), steps=(1, -2, 2, -3))
    t = e.node("softmax", [e.relu(t)], axis=1)
    t = e.conv(t, 4, k=1)
    pooled = e.node("mean", [t], axes=(-1, 2), keepdims=0)
    g = optimized(e.finish(pooled, e.node("tanh", [t])))
    assert count(g, "transpose") == 2  # the input's and the NCHW tanh output's


def test_conv_transpose_grouped_and_fully_connected_fold_per_channel():
    e = Emitter((1, 4, 5, 5))
    t = e.bn(e.conv_transpose(e.x, 6, group=2))
    pooled = e.node("reshape", [e.node("mean", [t], axes=(2, 3), keepdims=1)], shape=(1, 6))
    w = e.const("fc_w", e.rand(3, 6))
    y = e.node("fully_connected", [pooled, w])
    y = e.node("sub", [e.node("mul", [y, e.const("s", e.rand(3))]), e.const("c", e.rand(1))])
    g = optimized(e.finish(e.relu(y, 1.0)))
    assert count(g, "mul") == count(g, "sub") == count(g, "add") == count(g, "clip") == 0
    (fc,) = [n for n in g.nodes if n.op == "fully_connected"]
    assert (fc.attrs["act_min"], fc.attrs["act_max"]) == (0.0, 1.0) and len(fc.inputs) == 3


def test_folding_never_changes_a_shared_weight_or_a_conv_read_twice():
    e = Emitter((1, 3, 6, 6))
    w = e.const("shared_w", e.rand(4, 3, 3, 3))
    nhwc = e.node("transpose", [e.x], perm=TO_NHWC)
    a = e.node("transpose", [e.node("conv2d", [nhwc, w], pads=(1, 1, 1, 1))], perm=TO_NCHW)
    b = e.node("transpose", [e.node("conv2d", [nhwc, w], pads=(1, 1, 1, 1))], perm=TO_NCHW)
    before_w = e.g.const(w).copy()
    a_bn = e.bn(a)
    g = e.finish(e.node("add", [a_bn, a]), e.bn(b))
    out = optimized(g)
    assert np.array_equal(out.const(w), before_w)
    # b's BN folds; a is also read by the add, so its mul stays (a different weight each way).
    assert count(out, "mul") == 1


def test_graph_output_in_the_middle_keeps_its_name_and_layout():
    e = Emitter((1, 3, 5, 5))
    mid = e.conv_bn(e.x, 4)
    cat = e.node("concat", [e.conv(mid, 3), mid], axis=1)
    classes = e.gap_classifier(e.relu(e.bn(cat)))
    g = optimized(e.finish(mid, e.conv_bn(mid, 4, act=None), cat, classes))
    assert g.tensors[mid].shape == (1, 4, 5, 5) and g.tensors[cat].shape == (1, 7, 5, 5)
    # The input's, and one per NCHW output; the classifier's BN runs on NHWC data.
    assert count(g, "transpose") == 4


def test_activation_ranges_intersect_and_disjoint_ranges_stay_apart():
    e = Emitter((1, 3, 4, 4))
    y = e.node("add", [e.x, e.const("c", e.rand(4))])
    y = e.relu(e.relu(y, 6.0), 1.0)  # intersects to [0, 1]
    z = e.node("clip", [e.relu(e.node("mul", [e.x, e.x]), 1.0)], min=2.0, max=3.0)  # disjoint
    g = optimized(e.finish(y, z))
    adds = [n for n in g.nodes if n.op == "add"]
    assert (adds[0].attrs["act_min"], adds[0].attrs["act_max"]) == (0.0, 1.0)
    assert count(g, "clip") == 1


def test_cleanup_merges_reshapes_drops_identities_dead_nodes_and_equal_constants():
    e = Emitter((2, 3, 4))
    ones_a = e.const("ones_a", np.ones(4, np.float32))
    ones_b = e.const("ones_b", np.ones(4, np.float32))
    t = e.node("reshape", [e.node("reshape", [e.x], shape=(6, 4))], shape=(2, 12))
    t = e.node("reshape", [e.node("transpose", [t], perm=(0, 1))], shape=(2, 12))
    t = e.node("reshape", [t], shape=(2, 3, 4))
    e.node("sigmoid", [t])  # dead
    folded = e.node("transpose", [e.const("k", e.rand(4, 2))], perm=(1, 0))  # constant input
    y = e.node("add", [e.node("mul", [t, ones_a]), ones_b])
    y = e.node("add", [y, e.node("reshape", [folded], shape=(2, 1, 4))])
    g = optimized(e.finish(y))
    assert count(g, "reshape") == 0 and count(g, "transpose") == 0 and count(g, "sigmoid") == 0
    consts = [t for t in g.tensors.values() if t.is_const]
    assert len({c.data.tobytes() for c in consts}) == len(consts)


def test_input_straight_to_output_through_cancelling_transposes():
    e = Emitter((1, 2, 3, 4))
    t = e.node("transpose", [e.node("transpose", [e.x], perm=TO_NHWC)], perm=TO_NCHW)
    g = optimized(e.finish(t))
    assert g.outputs == [t] and len(g.nodes) == 1  # one identity left to write the output


def test_passes_are_listed_in_order():
    assert [name for name, _ in PASSES] == ["layout", "fold_affine", "fuse_activation", "cleanup"]


# ---------------------------------------------------------------------------------------------
# Random chains of everything the frontend emits.

STEPS = ("conv", "dwconv", "bn", "relu", "relu6", "unary", "pool", "residual", "concat", "pad",
         "slice", "softmax", "affine", "resize", "upconv", "se", "preact")


def apply_step(e: Emitter, t: str, step: str, draw) -> str:
    c, h, w = e.g.tensors[t].shape[1:]
    if step == "conv":
        return e.conv(t, draw(st.integers(1, 6)), k=draw(st.sampled_from((1, 3))),
                      stride=draw(st.sampled_from((1, 2))), bias=draw(st.booleans()))
    if step == "dwconv":
        return e.conv(t, c, group=c, bias=draw(st.booleans()))
    if step == "bn":
        return e.bn(t)
    if step in ("relu", "relu6"):
        return e.relu(t, INF if step == "relu" else 6.0)
    if step == "unary":
        op = draw(st.sampled_from(("sigmoid", "tanh", "hard_swish", "leaky_relu", "hard_sigmoid")))
        return e.node(op, [t])
    if step == "pool":
        op = draw(st.sampled_from(("max_pool2d", "avg_pool2d")))
        return e.spatial(op, t, kernel=(2, 2), pads=(0, 0, 1, 1))
    if step == "se":
        return squeeze_excite(e, t)
    if step == "preact":
        return preactivation_block(e, t)
    if step == "residual":
        return e.node("add", [t, e.conv_bn(t, c, act=draw(st.sampled_from((None, 6.0))))])
    if step == "concat":
        return e.node("concat", [e.conv(t, 2, k=1), t], axis=draw(st.sampled_from((1, -3))))
    if step == "pad":
        reflect_fits = c > 1 and h > 1 and w > 2  # reflect pads must stay below the padded dim
        return e.node("pad", [t], pads=(0, 1, 1, 0, 0, 0, 0, 2),
                      mode=draw(st.sampled_from((0, 1, 2) if reflect_fits else (0, 2))))
    if step == "slice":
        return e.node("slice", [t], starts=(0, c - 1, 0, 0), ends=(1, -1, h, w),
                      steps=(1, -1, 1, 1))
    if step == "softmax":
        return e.node("softmax", [t], axis=draw(st.sampled_from((1, 3, -1))))
    if step == "affine":
        op = draw(st.sampled_from(("mul", "add", "sub", "div")))
        shape = draw(st.sampled_from(((c, 1, 1), (1,), (w,), (1, c, 1, 1))))
        k = e.const("k", e.rand(*shape, low=0.5, high=1.5))
        return e.node(op, [t, k])
    if step == "resize":
        return e.spatial("resize", t, size=(2 * h, 2 * w), scales=(2.0, 2.0))
    return e.conv_transpose(t, draw(st.integers(1, 4)))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_frontend_chains_keep_their_outputs(data):
    shape = [data.draw(st.integers(lo, hi)) for lo, hi in ((1, 2), (1, 4), (3, 7), (3, 7))]
    e = Emitter(tuple(shape), seed=data.draw(st.integers(0, 2**16)))
    t = e.x
    for step in data.draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=7)):
        if e.g.tensors[t].shape[2] * e.g.tensors[t].shape[3] > 64 and step in ("resize", "upconv"):
            continue  # small tensors: fast, and means over few enough terms for RTOL
        t = apply_step(e, t, step, data.draw)
    tail = data.draw(st.sampled_from(("features", "classifier", "features_and_classifier", "mean")))
    if tail == "features":
        outputs = [t]
    elif tail == "mean":
        axes = data.draw(st.sampled_from(((1, 3), (2,), (-1,), (1,), (0, 2))))
        outputs = [e.node("mean", [t], axes=axes, keepdims=data.draw(st.integers(0, 1)))]
    else:
        outputs = [e.gap_classifier(t)] + ([t] if tail == "features_and_classifier" else [])
    g = optimized(e.finish(*outputs))
    assert count(g, "transpose") <= count(e.g, "transpose")
