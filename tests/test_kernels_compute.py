"""The C float32 reference kernels of the compute-heavy ops against the numpy reference executor.

Each case builds a one-op IR graph, writes it as a .tem file, runs it through the C runtime
(tinyedge.runtime) and compares with tinyedge.reference.run on the same graph: conv2d (depthwise and
grouped too), conv_transpose2d, fully_connected, matmul (broadcast batches), max/avg pooling (ceil
mode, count_include_pad, dilations), mean, softmax, lrn and resize (every mode). A second part hands
the loader files whose attributes or shapes are inconsistent and checks that each kernel's prepare
step refuses them with a message saying what is wrong.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinyedge.errors import RuntimeLoadError
from tinyedge.format.writer import write_tem
from tinyedge.ir import Graph
from tinyedge.ir.ops import ShapeError, conv_out_size
from tinyedge.plan import plan_memory
from tinyedge import reference, runtime

# Float32 sums in a different order than numpy's (pairwise sums, einsum/BLAS blocking): each output
# differs by a few ulps of its largest terms, far below 1e-4 of the largest output. The floor keeps
# the bound meaningful when every reference output is tiny (inputs here are O(1), so an output near
# 0 is a cancellation whose rounding error is still measured in ulps of O(1) terms).
RTOL = 1e-4
ABS_FLOOR = 1e-2
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
# "inverted": min > max is defined (ONNX Clip, numpy): every output becomes max.
CLAMPS = {"none": {}, "relu": {"act_min": 0.0}, "relu6": {"act_min": 0.0, "act_max": 6.0},
          "inverted": {"act_min": 1.0, "act_max": -0.5}}


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    """got matches want within RTOL of want's largest magnitude; says where and how much if not."""
    assert got.dtype == np.float32, f"dtype {got.dtype}, want float32"
    assert got.shape == want.shape, f"shape {got.shape}, want {want.shape}"
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    limit = RTOL * max(float(np.abs(want).max(initial=0.0)), ABS_FLOOR)
    bad = np.argwhere(~(diff <= limit))  # NaN counts as bad
    assert bad.size == 0, (f"{len(bad)} of {diff.size} elements off, first at {tuple(bad[0])}: "
                           f"got {got[tuple(bad[0])]}, want {want[tuple(bad[0])]}; worst "
                           f"difference {np.nanmax(diff):.3g} (limit {limit:.3g})")


def write(graph: Graph, path) -> str:
    graph.validate()
    write_tem(graph, plan_memory(graph), path, {"name": "kernel_test"})
    return str(path)


def check_op(tmp_path, op: str, inputs: dict[str, np.ndarray], consts: dict[str, np.ndarray],
             order: list[str], attrs: dict) -> None:
    """Build op(order...) with `inputs` as graph inputs and `consts` as constants, run C and numpy.

    order lists the op's input names; None stands for an absent optional input."""
    g = Graph()
    for name, value in inputs.items():
        g.add_input(name, value.shape)
    for name, value in consts.items():
        g.add_const(name, value)
    g.outputs = g.add_node(op, [n for n in order if n is not None], attrs, name=f"{op}_under_test")
    (want,) = reference.run(g, dict(inputs))
    model = runtime.load(write(g, tmp_path / "model.tem"))
    (got,) = model.run(dict(inputs))
    assert_close(got, want)


def rand(seed: int, *shape: int, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# -- convolutions ---------------------------------------------------------------------------------

@st.composite
def conv_cases(draw, transposed: bool = False):
    kind = draw(st.sampled_from(["plain", "grouped", "depthwise"]))
    group = 1 if kind == "plain" else draw(st.integers(2, 4))
    cin_g = 1 if kind == "depthwise" else draw(st.integers(1, 4))
    cout_g = draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    case = dict(n=draw(st.integers(1, 2)), h=draw(st.integers(1, 8)), w=draw(st.integers(1, 8)),
                group=group, cin_g=cin_g, cout_g=cout_g,
                k=(draw(st.integers(1, 4)), draw(st.integers(1, 4))), strides=strides,
                dilations=dilations, pads=tuple(draw(st.integers(0, 3)) for _ in range(4)),
                bias=draw(st.booleans()), clamp=draw(st.sampled_from(sorted(CLAMPS))),
                seed=draw(st.integers(0, 2**31)))
    if transposed:  # output_padding below max(stride, dilation), as PyTorch and ONNX require
        case["output_padding"] = tuple(draw(st.integers(0, max(s, d) - 1))
                                       for s, d in zip(strides, dilations))
    return case


@SETTINGS
@given(conv_cases())
def test_conv2d(tmp_path, case):
    g, cin, cout = case["group"], case["cin_g"] * case["group"], case["cout_g"] * case["group"]
    (kh, kw), s = case["k"], case["seed"]
    try:  # a window larger than the padded input is not a valid conv2d: draw another case
        conv_out_size(case["h"], kh, case["strides"][0], case["dilations"][0], case["pads"][0],
                      case["pads"][2])
        conv_out_size(case["w"], kw, case["strides"][1], case["dilations"][1], case["pads"][1],
                      case["pads"][3])
    except ShapeError:
        assume(False)
    consts = {"weight": rand(s + 1, cout, kh, kw, case["cin_g"]) }
    if case["bias"]:
        consts["bias"] = rand(s + 2, cout)
    attrs = dict(strides=case["strides"], dilations=case["dilations"], pads=case["pads"], group=g,
                 **CLAMPS[case["clamp"]])
    check_op(tmp_path, "conv2d", {"x": rand(s, case["n"], case["h"], case["w"], cin)}, consts,
             ["x", "weight", "bias" if case["bias"] else None], attrs)


@SETTINGS
@given(conv_cases(transposed=True))
def test_conv_transpose2d(tmp_path, case):
    g, cin, cout_g = case["group"], case["cin_g"] * case["group"], case["cout_g"]
    (kh, kw), s = case["k"], case["seed"]
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = case["strides"], case["dilations"], case["pads"]
    oph, opw = case["output_padding"]
    assume((case["h"] - 1) * sh - pt - pb + dh * (kh - 1) + oph + 1 > 0)
    assume((case["w"] - 1) * sw - pl - pr + dw * (kw - 1) + opw + 1 > 0)
    consts = {"weight": rand(s + 1, cin, kh, kw, cout_g)}
    if case["bias"]:
        consts["bias"] = rand(s + 2, cout_g * g)
    attrs = dict(strides=case["strides"], dilations=case["dilations"], pads=case["pads"], group=g,
                 output_padding=case["output_padding"], **CLAMPS[case["clamp"]])
    check_op(tmp_path, "conv_transpose2d", {"x": rand(s, case["n"], case["h"], case["w"], cin)},
             consts, ["x", "weight", "bias" if case["bias"] else None], attrs)


# -- fully connected and matmul -------------------------------------------------------------------

@SETTINGS
@given(lead=st.lists(st.integers(1, 4), max_size=3), k=st.integers(1, 40), n=st.integers(1, 20),
       bias=st.booleans(), clamp=st.sampled_from(sorted(CLAMPS)), seed=st.integers(0, 2**31))
def test_fully_connected(tmp_path, lead, k, n, bias, clamp, seed):
    consts = {"weight": rand(seed + 1, n, k)}
    if bias:
        consts["bias"] = rand(seed + 2, n)
    check_op(tmp_path, "fully_connected", {"x": rand(seed, *lead, k)}, consts,
             ["x", "weight", "bias" if bias else None], CLAMPS[clamp])


@st.composite
def matmul_shapes(draw):
    """Two shapes whose batch dims broadcast: a drawn output batch, each side a suffix with 1s."""
    batch = draw(st.lists(st.integers(1, 3), max_size=4))
    m, k, n = draw(st.integers(1, 6)), draw(st.integers(1, 12)), draw(st.integers(1, 6))

    def side(rows: int, cols: int) -> tuple[int, ...]:
        keep = draw(st.integers(0, len(batch)))
        dims = [d if draw(st.booleans()) else 1 for d in batch[len(batch) - keep:]]
        return tuple(dims) + (rows, cols)

    return side(m, k), side(k, n)


@SETTINGS
@given(shapes=matmul_shapes(), b_const=st.booleans(), seed=st.integers(0, 2**31))
def test_matmul(tmp_path, shapes, b_const, seed):
    a, b = rand(seed, *shapes[0]), rand(seed + 1, *shapes[1])
    inputs, consts = ({"a": a}, {"b": b}) if b_const else ({"a": a, "b": b}, {})
    check_op(tmp_path, "matmul", inputs, consts, ["a", "b"], {})


# -- pooling and mean -----------------------------------------------------------------------------

def every_window_sees_input(size, k, stride, dilation, pad_begin, pad_end, ceil_mode) -> bool:
    """Whether each output's window has a tap inside [0, size) (else the kernel refuses the pads)."""
    out = conv_out_size(size, k, stride, dilation, pad_begin, pad_end, ceil_mode)
    return all(any(0 <= o * stride - pad_begin + j * dilation < size for j in range(k))
               for o in range(out))


@st.composite
def pool_cases(draw, dilated: bool):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    case = dict(n=draw(st.integers(1, 2)), h=draw(st.integers(1, 9)), w=draw(st.integers(1, 9)),
                c=draw(st.integers(1, 5)), kernel=k,
                strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                dilations=(draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilated else (1, 1),
                pads=(draw(st.integers(0, k[0] - 1)), draw(st.integers(0, k[1] - 1)),
                      draw(st.integers(0, k[0] - 1)), draw(st.integers(0, k[1] - 1))),
                ceil_mode=draw(st.integers(0, 1)), seed=draw(st.integers(0, 2**31)))
    (pt, pl, pb, pr), cm = case["pads"], bool(case["ceil_mode"])
    try:
        rows = every_window_sees_input(case["h"], k[0], case["strides"][0], case["dilations"][0],
                                       pt, pb, cm)
        cols = every_window_sees_input(case["w"], k[1], case["strides"][1], case["dilations"][1],
                                       pl, pr, cm)
    except ShapeError:  # the window does not fit the padded input
        rows = cols = False
    assume(rows and cols)
    return case


@SETTINGS
@given(pool_cases(dilated=True))
def test_max_pool2d(tmp_path, case):
    attrs = {key: case[key] for key in ("kernel", "strides", "pads", "ceil_mode", "dilations")}
    x = rand(case["seed"], case["n"], case["h"], case["w"], case["c"])
    check_op(tmp_path, "max_pool2d", {"x": x}, {}, ["x"], attrs)


@SETTINGS
@given(pool_cases(dilated=False), st.integers(0, 1))
def test_avg_pool2d(tmp_path, case, count_include_pad):
    attrs = {key: case[key] for key in ("kernel", "strides", "pads", "ceil_mode")}
    x = rand(case["seed"], case["n"], case["h"], case["w"], case["c"])
    check_op(tmp_path, "avg_pool2d", {"x": x}, {}, ["x"],
             dict(attrs, count_include_pad=count_include_pad))


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), max_size=6), data=st.data(), keepdims=st.integers(0, 1),
       seed=st.integers(0, 2**31))
def test_mean(tmp_path, shape, data, keepdims, seed):
    r = len(shape)  # rank 0 included: no axes, the mean of one value
    axes = data.draw(st.lists(st.integers(0, r - 1), unique=True, max_size=r) if r else st.just([]))
    axes = [a - r if data.draw(st.booleans()) else a for a in axes]  # negative axes count from the end
    check_op(tmp_path, "mean", {"x": rand(seed, *shape)}, {}, ["x"],
             dict(axes=axes, keepdims=keepdims))


# -- softmax and lrn ------------------------------------------------------------------------------

@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=5), data=st.data(),
       scale=st.sampled_from([1.0, 30.0]), seed=st.integers(0, 2**31))
def test_softmax(tmp_path, shape, data, scale, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    # scale 30: exp would overflow float32 without subtracting the max
    check_op(tmp_path, "softmax", {"x": rand(seed, *shape, scale=scale)}, {}, ["x"], {"axis": axis})


@SETTINGS
@given(n=st.integers(1, 2), h=st.integers(1, 4), w=st.integers(1, 4), c=st.integers(1, 12),
       size=st.integers(1, 7), alpha=st.floats(1e-4, 1.0), beta=st.floats(0.1, 1.0),
       bias=st.floats(0.5, 2.0), seed=st.integers(0, 2**31))
def test_lrn(tmp_path, n, h, w, c, size, alpha, beta, bias, seed):
    check_op(tmp_path, "lrn", {"x": rand(seed, n, h, w, c)}, {}, ["x"],
             dict(size=size, alpha=alpha, beta=beta, bias=bias))


# -- resize ---------------------------------------------------------------------------------------

@st.composite
def resize_axis(draw):
    """(input length, output length, scale): the scale either out / in (sizes given, as the ONNX
    frontend stores them) or drawn, with the output floor(in * scale) as ONNX computes it."""
    size_in = draw(st.integers(1, 8))
    if draw(st.booleans()):
        out = draw(st.integers(1, 17))
        return size_in, out, float(np.float32(out / size_in))
    scale = draw(st.sampled_from([0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]))
    out = int(np.floor(size_in * scale))
    assume(out >= 1)
    return size_in, out, scale


@SETTINGS
@given(hs=resize_axis(), ws=resize_axis(), n=st.integers(1, 2), c=st.integers(1, 4),
       mode=st.integers(0, 1), coord_mode=st.integers(0, 4), nearest_mode=st.integers(0, 3),
       seed=st.integers(0, 2**31))
def test_resize(tmp_path, hs, ws, n, c, mode, coord_mode, nearest_mode, seed):
    attrs = dict(size=(hs[1], ws[1]), scales=(hs[2], ws[2]), mode=mode, coord_mode=coord_mode,
                 nearest_mode=nearest_mode)
    check_op(tmp_path, "resize", {"x": rand(seed, n, hs[0], ws[0], c)}, {}, ["x"], attrs)


def test_resize_nearest_ties_round_like_onnxruntime(tmp_path):
    """Exact halves: asymmetric 2x down-then-up lands on k + 0.5, where the four modes differ."""
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6, 1)
    for nearest_mode in range(4):
        attrs = dict(size=(1, 5), scales=(1.0, 0.8), mode=0, coord_mode=1, nearest_mode=nearest_mode)
        check_op(tmp_path, "resize", {"x": x}, {}, ["x"], attrs)


@pytest.mark.parametrize("scale, edge", [(1e30, 0), (1e-30, -1)])
def test_resize_extreme_scales_clamp_to_the_edge(tmp_path, scale, edge):
    """half_pixel (i + 0.5) / scale - 0.5 is ~-0.5 for a huge scale and overflows to inf for a tiny
    one: every output takes the first or the last input pixel (and no index overflows on the way)."""
    x = rand(7, 1, 3, 4, 2)
    g = Graph()
    g.add_input("x", x.shape)
    g.outputs = g.add_node("resize", ["x"], dict(size=(5, 6), scales=(scale, scale), mode=1,
                                                 coord_mode=0))
    (got,) = runtime.load(write(g, tmp_path / "model.tem")).run([x])
    assert np.array_equal(got, np.broadcast_to(x[:, edge:, edge:, :][:, :1, :1, :], got.shape))


# -- prepare refuses what eval could not run ------------------------------------------------------

def one_op_graph(op: str, x_shape, consts: dict, attrs: dict) -> Graph:
    g = Graph()
    g.add_input("x", x_shape)
    names = ["x"] + [g.add_const(k, v) for k, v in consts.items()]
    g.outputs = g.add_node(op, names, attrs, name="bad_node")
    return g


def conv_graph():
    w = np.ones((4, 3, 3, 2), np.float32)
    return one_op_graph("conv2d", (1, 8, 8, 2), {"w": w, "b": np.zeros(4, np.float32)}, {})


def set_attr(name, value):
    def edit(g: Graph) -> None:
        g.nodes[0].attrs[name] = value
    return edit


def set_shape(tensor, shape):
    def edit(g: Graph) -> None:
        t = g.tensors[tensor]
        g.tensors[tensor] = type(t)(t.name, tuple(shape), t.dtype,
                                    None if t.data is None else np.ones(shape, np.float32))
    return edit


POOL = dict(kernel=(3, 3))
RESIZE = dict(size=(4, 4), scales=(2.0, 2.0))
HOSTILE = [
    ("conv2d stride 0", conv_graph, set_attr("strides", (0, 1)), "strides"),
    ("conv2d dilation 0", conv_graph, set_attr("dilations", (1, 0)), "dilations"),
    ("conv2d negative pad", conv_graph, set_attr("pads", (0, -1, 0, 0)), "pads"),
    ("conv2d 3 pads", conv_graph, set_attr("pads", (0, 0, 0)), "pads"),
    ("conv2d group 0", conv_graph, set_attr("group", 0), "group"),
    ("conv2d group 3", conv_graph, set_attr("group", 3), "group"),
    ("conv2d NaN clamp", conv_graph, set_attr("act_min", float("nan")), "clamp"),
    ("conv2d wrong output", conv_graph, set_shape("bad_node", (1, 7, 6, 4)), "shape"),
    ("conv2d wrong bias", conv_graph, set_shape("b", (5,)), "bias"),
    ("conv2d weight I != C", conv_graph, set_shape("w", (4, 3, 3, 3)), "group"),
    ("conv_transpose2d opad", lambda: one_op_graph(
        "conv_transpose2d", (1, 4, 4, 2), {"w": np.ones((2, 3, 3, 2), np.float32)}, {}),
     set_attr("output_padding", (-1, 0)), "output_padding"),
    ("fully_connected K", lambda: one_op_graph(
        "fully_connected", (2, 5), {"w": np.ones((3, 5), np.float32)}, {}),
     set_shape("w", (3, 4)), "K"),
    ("matmul batch", lambda: one_op_graph(
        "matmul", (2, 3, 4), {"b": np.ones((2, 4, 5), np.float32)}, {}),
     set_shape("b", (3, 4, 5)), "broadcast"),
    ("max_pool2d kernel 0", lambda: one_op_graph("max_pool2d", (1, 6, 6, 2), {}, POOL),
     set_attr("kernel", (0, 3)), "kernel"),
    ("max_pool2d ceil_mode 2", lambda: one_op_graph("max_pool2d", (1, 6, 6, 2), {}, POOL),
     set_attr("ceil_mode", 2), "ceil_mode"),
    ("max_pool2d pad >= kernel", lambda: one_op_graph("max_pool2d", (1, 6, 6, 2), {}, POOL),
     set_attr("pads", (0, 3, 0, 0)), "smaller than the kernel"),
    ("max_pool2d all-pad window", lambda: one_op_graph(  # taps -1 and 2 of a 2-row input
        "max_pool2d", (1, 2, 2, 1), {}, dict(kernel=(2, 1), pads=(1, 0, 1, 0), dilations=(3, 1))),
     None, "no input"),
    ("avg_pool2d count_include_pad 5", lambda: one_op_graph("avg_pool2d", (1, 6, 6, 2), {}, POOL),
     set_attr("count_include_pad", 5), "count_include_pad"),
    ("mean axis 4 of rank 4", lambda: one_op_graph("mean", (1, 3, 3, 2), {}, {"axes": (1,)}),
     set_attr("axes", (4,)), "axis"),
    ("mean axis twice", lambda: one_op_graph("mean", (1, 3, 3, 2), {}, {"axes": (1,)}),
     set_attr("axes", (1, -3)), "twice"),
    ("softmax axis", lambda: one_op_graph("softmax", (2, 3), {}, {}), set_attr("axis", 2), "axis"),
    ("lrn size 0", lambda: one_op_graph("lrn", (1, 2, 2, 5), {}, {"size": 3}),
     set_attr("size", 0), "size"),
    ("resize scale 0", lambda: one_op_graph("resize", (1, 2, 2, 1), {}, RESIZE),
     set_attr("scales", (0.0, 2.0)), "scales"),
    ("resize coord_mode 9", lambda: one_op_graph("resize", (1, 2, 2, 1), {}, RESIZE),
     set_attr("coord_mode", 9), "coord_mode"),
    ("resize size vs output", lambda: one_op_graph("resize", (1, 2, 2, 1), {}, RESIZE),
     set_attr("size", (4, 5)), "shape"),
]


@pytest.mark.parametrize("build, edit, words", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_prepare_refuses(tmp_path, build, edit, words):
    g = build()
    if edit:
        edit(g)
    path = tmp_path / "bad.tem"
    write_tem(g, plan_memory(g), path, {"name": "hostile"})
    with pytest.raises(RuntimeLoadError) as err:
        runtime.load(str(path))
    message = str(err.value)
    assert "bad_node" in message and words in message, message
