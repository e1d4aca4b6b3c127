"""The numpy reference executor against torch (the independent oracle), op by op.

Activations are NHWC in the IR and NCHW in torch: the tests transpose at the boundary. torch pads
only symmetrically, so asymmetric pads go through F.pad first. Resize is checked on hand-computed
cases and against F.interpolate for the modes torch has (the ONNX sweep checks it against
onnxruntime).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from tinyedge.ir import OPS, Graph
from tinyedge.reference import KERNELS, evaluate, run

# float32 sums of up to a few hundred products, in a different order than torch's: a few ulps of
# the largest output each, far below 1e-4 of it.
RTOL = 1e-4
SETTINGS = settings(max_examples=40, deadline=None)


def assert_close(got: np.ndarray, want, rtol: float = RTOL) -> None:
    """got matches want within rtol of want's largest magnitude; says where and how much if not."""
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert got.dtype == np.float32, f"dtype {got.dtype}, want float32"
    assert got.shape == want.shape, f"shape {got.shape}, want {want.shape}"
    with np.errstate(invalid="ignore"):  # equal infinities (an all-padding max window) agree
        diff = np.where(got == want, 0.0, np.abs(got.astype(np.float64) - want))
    diff = np.where(np.isnan(got) == np.isnan(want), np.nan_to_num(diff, nan=0.0), np.inf)
    limit = rtol * max(float(np.abs(want[np.isfinite(want)]).max(initial=0.0)), 1e-30)
    bad = np.argwhere(diff > limit)
    assert bad.size == 0, (f"{len(bad)} of {diff.size} elements off, first at {tuple(bad[0])}: "
                           f"got {got[tuple(bad[0])]}, want {want[tuple(bad[0])]}; worst "
                           f"difference {diff.max():.3g} (limit {limit:.3g})")


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def nhwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().transpose(0, 2, 3, 1)


def one(op: str, inputs: list, **attrs) -> np.ndarray:
    (out,) = evaluate(op, inputs, attrs)
    return out


# -- every op has a kernel ------------------------------------------------------------------------

def test_every_ir_op_has_a_kernel():
    assert set(KERNELS) == set(OPS)


# -- convolutions ---------------------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    depthwise = draw(st.booleans())
    group = draw(st.integers(1, 4)) if depthwise else draw(st.integers(1, 3))
    cin_g = 1 if depthwise else draw(st.integers(1, 4))
    cout_g = draw(st.integers(1, 3))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return dict(n=draw(st.integers(1, 2)), h=draw(st.integers(1, 9)), w=draw(st.integers(1, 9)),
                group=group, cin=cin_g * group, cout=cout_g * group, k=k,
                strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                dilations=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
                pads=tuple(draw(st.integers(0, 2)) for _ in range(4)),
                bias=draw(st.booleans()), relu6=draw(st.booleans()), seed=draw(st.integers(0, 99)))


@SETTINGS
@given(conv_cases())
@example(c={"n": 2, "h": 9, "w": 3, "group": 1, "cin": 1, "cout": 1, "k": (1, 3), "strides": (1, 2),
            "dilations": (1, 1), "pads": (0, 0, 0, 1), "bias": False, "relu6": False, "seed": 0})
def test_conv2d_matches_torch(c):
    rng = np.random.default_rng(c["seed"])
    pt, pl, pb, pr = c["pads"]
    (kh, kw), (dh, dw) = c["k"], c["dilations"]
    assume(c["h"] + pt + pb >= (kh - 1) * dh + 1 and c["w"] + pl + pr >= (kw - 1) * dw + 1)
    x = rand(rng, c["n"], c["h"], c["w"], c["cin"])
    w = rand(rng, c["cout"], kh, kw, c["cin"] // c["group"])  # OHWI
    b = rand(rng, c["cout"]) if c["bias"] else None
    act = dict(act_min=0.0, act_max=6.0) if c["relu6"] else {}
    got = one("conv2d", [x, w, b], strides=c["strides"], dilations=c["dilations"], pads=c["pads"],
              group=c["group"], **act)
    # torch in float64: a better reference than float32, and not torch's float32 CPU conv path,
    # which once returned garbage (~1e20) in some output rows for n=2, 9x3 input, a 1x3 window,
    # stride (1, 2) and a right pad of 1 (a hypothesis run in CI; not reproducible on demand).
    xt = F.pad(nchw(x), (pl, pr, pt, pb)).double()
    want = F.conv2d(xt, torch.from_numpy(w.transpose(0, 3, 1, 2).copy()).double(),
                    None if b is None else torch.from_numpy(b).double(), stride=c["strides"],
                    dilation=c["dilations"], groups=c["group"])
    if c["relu6"]:
        want = want.clamp(0, 6)
    assert_close(got, nhwc(want))


@SETTINGS
@given(conv_cases(), st.integers(0, 2), st.integers(0, 2))
def test_conv_transpose2d_matches_torch(c, oph, opw):
    rng = np.random.default_rng(c["seed"])
    (kh, kw), (sh, sw), (dh, dw) = c["k"], c["strides"], c["dilations"]
    pt, pl, pb, pr = c["pads"]
    # torch wants output_padding below the stride or the dilation.
    oph, opw = oph % max(sh, dh), opw % max(sw, dw)
    h, w = c["h"], c["w"]
    oh = (h - 1) * sh - pt - pb + dh * (kh - 1) + oph + 1
    ow = (w - 1) * sw - pl - pr + dw * (kw - 1) + opw + 1
    assume(oh > 0 and ow > 0)
    x = rand(rng, c["n"], h, w, c["cin"])
    wt = rand(rng, c["cin"], kh, kw, c["cout"] // c["group"])  # IHWO
    b = rand(rng, c["cout"]) if c["bias"] else None
    got = one("conv_transpose2d", [x, wt, b], strides=c["strides"], dilations=c["dilations"],
              pads=c["pads"], group=c["group"], output_padding=(oph, opw))
    # Unpadded transposed conv, then crop the pads: torch's padding is symmetric only.
    full = F.conv_transpose2d(nchw(x), torch.from_numpy(wt.transpose(0, 3, 1, 2).copy()),
                              None if b is None else torch.from_numpy(b), stride=c["strides"],
                              output_padding=(oph, opw), groups=c["group"],
                              dilation=c["dilations"])
    assert_close(got, nhwc(full[:, :, pt:pt + oh, pl:pl + ow]))


# -- linear ---------------------------------------------------------------------------------------

@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=0, max_size=2), st.integers(1, 40), st.integers(1, 20),
       st.booleans(), st.integers(0, 99))
def test_fully_connected_matches_torch(lead, k, n, bias, seed):
    rng = np.random.default_rng(seed)
    x, w = rand(rng, *lead, k), rand(rng, n, k)
    b = rand(rng, n) if bias else None
    want = F.linear(torch.from_numpy(x), torch.from_numpy(w),
                    None if b is None else torch.from_numpy(b))
    assert_close(one("fully_connected", [x, w, b]), want)
    clamped = one("fully_connected", [x, w, b], act_min=-0.5, act_max=0.5)
    assert_close(clamped, want.clamp(-0.5, 0.5))


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6),
       st.integers(1, 6), st.integers(0, 99))
def test_matmul_broadcasts_batch_dims_like_torch(b1, b2, m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, b1, 1, m, k), rand(rng, b2, k, n)
    assert_close(one("matmul", [a, b]), torch.matmul(torch.from_numpy(a), torch.from_numpy(b)))


# -- element-wise ---------------------------------------------------------------------------------

BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_ops_broadcast_and_clamp_like_torch(op):
    rng = np.random.default_rng(1)
    a, b = rand(rng, 2, 3, 4, 5), rand(rng, 4, 1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert_close(one(op, [a, b]), BINARY[op](ta, tb))
    assert_close(one(op, [b, a], act_min=0.0, act_max=6.0), BINARY[op](tb, ta).clamp(0, 6))


def test_div_by_zero_is_ieee_not_an_error():
    got = one("div", [np.array([1.0, -1.0, 0.0], np.float32), np.zeros(3, np.float32)])
    want = torch.tensor([1.0, -1.0, 0.0]) / torch.zeros(3)
    np.testing.assert_array_equal(got, want.numpy())


UNARY = [
    ("clip", dict(min=-0.7, max=1.3), lambda t: t.clamp(-0.7, 1.3)),
    ("clip", dict(min=0.0), F.relu),
    ("leaky_relu", dict(alpha=0.1), lambda t: F.leaky_relu(t, 0.1)),
    ("sigmoid", {}, torch.sigmoid),
    ("tanh", {}, torch.tanh),
    ("hard_sigmoid", dict(alpha=1 / 6, beta=0.5), F.hardsigmoid),
    ("hard_sigmoid", {}, lambda t: (0.2 * t + 0.5).clamp(0, 1)),
    ("hard_swish", {}, F.hardswish),
]


@pytest.mark.parametrize("op,attrs,torch_fn", UNARY,
                         ids=[f"{u[0]}-{i}" for i, u in enumerate(UNARY)])
def test_unary_ops_match_torch(op, attrs, torch_fn):
    x = np.concatenate([np.linspace(-8, 8, 161), [-100.0, 100.0]]).astype(np.float32)
    got = one(op, [x], **attrs)
    assert_close(got, torch_fn(torch.from_numpy(x)))


def test_prelu_broadcasts_slope_over_channels_like_torch():
    rng = np.random.default_rng(2)
    x, slope = rand(rng, 2, 4, 5, 3), rand(rng, 3)
    want = F.prelu(nchw(x), torch.from_numpy(slope))
    assert_close(one("prelu", [x, slope]), nhwc(want))


# -- pooling and mean -----------------------------------------------------------------------------

@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # Pads stay below the kernel (ONNX and onnxruntime require it), so no window is all padding.
    pads = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
            draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    return dict(n=draw(st.integers(1, 2)), h=draw(st.integers(1, 9)), w=draw(st.integers(1, 9)),
                c=draw(st.integers(1, 3)), kernel=(kh, kw),
                strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))), pads=pads,
                ceil_mode=draw(st.integers(0, 1)), seed=draw(st.integers(0, 99)))


# The last ceil-mode window [5, 8) hangs one row past the end pad (6 + 1): never counted.
CEIL_OVERHANG = dict(n=1, h=6, w=6, c=2, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1),
                     ceil_mode=1, seed=0)


def symmetric_pads(c) -> tuple[int, int] | None:
    """(pad_h, pad_w) when the pads are symmetric and small enough for torch's own padding."""
    pt, pl, pb, pr = c["pads"]
    if pt == pb and pl == pr and 2 * pt <= c["kernel"][0] and 2 * pl <= c["kernel"][1]:
        return pt, pl
    return None


@SETTINGS
@given(pool_cases(), st.integers(1, 2), st.integers(1, 2))
@example(CEIL_OVERHANG, 1, 1)
@example(CEIL_OVERHANG, 2, 1)
def test_max_pool2d_matches_torch(c, dh, dw):
    rng = np.random.default_rng(c["seed"])
    (kh, kw), (pt, pl, pb, pr) = c["kernel"], c["pads"]
    assume(c["h"] + pt + pb >= (kh - 1) * dh + 1 and c["w"] + pl + pr >= (kw - 1) * dw + 1)
    x = rand(rng, c["n"], c["h"], c["w"], c["c"])
    got = one("max_pool2d", [x], kernel=c["kernel"], strides=c["strides"], pads=c["pads"],
              ceil_mode=c["ceil_mode"], dilations=(dh, dw))
    sym = symmetric_pads(c)
    span_ok = sym and all(2 * p <= (k - 1) * d + 1 for p, k, d in zip(sym, c["kernel"], (dh, dw)))
    if span_ok:
        want = F.max_pool2d(nchw(x), c["kernel"], c["strides"], sym, (dh, dw), bool(c["ceil_mode"]))
    else:
        # -inf pads never win; the ceil-mode rule differs once the pads are part of the input.
        want = F.max_pool2d(F.pad(nchw(x), (pl, pr, pt, pb), value=-np.inf), c["kernel"],
                            c["strides"], 0, (dh, dw), bool(c["ceil_mode"]))
        assume(tuple(want.shape[2:]) == got.shape[1:3])
    assert_close(got, nhwc(want))


@SETTINGS
@given(pool_cases(), st.integers(0, 1))
@example(CEIL_OVERHANG, 0)
@example(CEIL_OVERHANG, 1)
@example(dict(CEIL_OVERHANG, pads=(0, 1, 1, 0)), 1)
def test_avg_pool2d_matches_torch(c, count_include_pad):
    rng = np.random.default_rng(c["seed"])
    (kh, kw), (pt, pl, pb, pr) = c["kernel"], c["pads"]
    assume(c["h"] + pt + pb >= kh and c["w"] + pl + pr >= kw)
    x = rand(rng, c["n"], c["h"], c["w"], c["c"])
    got = one("avg_pool2d", [x], kernel=c["kernel"], strides=c["strides"], pads=c["pads"],
              ceil_mode=c["ceil_mode"], count_include_pad=count_include_pad)
    sym, cm = symmetric_pads(c), bool(c["ceil_mode"])
    if sym:
        want = F.avg_pool2d(nchw(x), c["kernel"], c["strides"], sym, cm, bool(count_include_pad))
    else:
        def pool_padded(t):
            return F.avg_pool2d(F.pad(t, (pl, pr, pt, pb)), c["kernel"], c["strides"], 0, cm, True)
        want = pool_padded(nchw(x))
        if not count_include_pad:
            # torch divides both by the same count: sum over the window / positions in the input.
            want = want / pool_padded(torch.ones((1, 1, c["h"], c["w"])))
        assume(tuple(want.shape[2:]) == got.shape[1:3])
    assert_close(got, nhwc(want))


@pytest.mark.parametrize("axes,keepdims", [((1, 2), 1), ((1, 2), 0), ((-1,), 0), ((0, 3), 1)])
def test_mean_matches_torch(axes, keepdims):
    x = rand(np.random.default_rng(3), 2, 5, 4, 3)
    want = torch.mean(torch.from_numpy(x), dim=axes, keepdim=bool(keepdims))
    assert_close(one("mean", [x], axes=axes, keepdims=keepdims), want)


# -- normalization --------------------------------------------------------------------------------

@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data())
def test_softmax_matches_torch(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rand(np.random.default_rng(len(shape)), *shape) * 30  # large logits: the max matters
    assert_close(one("softmax", [x], axis=axis), torch.softmax(torch.from_numpy(x), dim=axis))


@SETTINGS
@given(st.integers(1, 7), st.integers(1, 9), st.floats(1e-4, 1.0), st.floats(0.5, 1.0),
       st.floats(0.5, 2.0), st.integers(0, 99))
def test_lrn_matches_torch(size, channels, alpha, beta, bias, seed):
    x = rand(np.random.default_rng(seed), 2, 3, 4, channels)
    got = one("lrn", [x], size=size, alpha=alpha, beta=beta, bias=bias)
    # For an even size ONNX's window reaches one channel further up (c - 1 .. c + 2 for size 4)
    # and torch's one further down (c - 2 .. c + 1): the same window on the reversed channels.
    # (onnxruntime refuses even sizes, and onnx.reference's LRN loops over the batch axis.)
    flipped = torch.flip(nchw(x), dims=[1])
    want = torch.flip(F.local_response_norm(flipped, size, alpha, beta, bias), dims=[1])
    assert_close(got, nhwc(want))


# -- data movement --------------------------------------------------------------------------------

def test_reshape_transpose_concat_match_torch_and_keep_integer_dtypes():
    x = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    t = torch.from_numpy(x)
    np.testing.assert_array_equal(one("reshape", [x], shape=(4, 6)), t.reshape(4, 6).numpy())
    np.testing.assert_array_equal(one("transpose", [x], perm=(2, 0, 1)), t.permute(2, 0, 1).numpy())
    got = one("concat", [x, x[:, :1], x[:, :2]], axis=1)
    np.testing.assert_array_equal(got, torch.cat([t, t[:, :1], t[:, :2]], dim=1).numpy())
    assert got.dtype == np.int64


@pytest.mark.parametrize("mode,torch_mode", [(0, "constant"), (1, "reflect"), (2, "replicate")])
def test_pad_modes_match_torch(mode, torch_mode):
    x = rand(np.random.default_rng(4), 2, 5, 6, 3)
    pads = (0, 1, 3, 0, 0, 2, 0, 0)  # NHWC begins, then ends
    got = one("pad", [x], pads=pads, mode=mode, value=0.25)
    kw = dict(value=0.25) if torch_mode == "constant" else {}
    assert_close(got, nhwc(F.pad(nchw(x), (3, 0, 1, 2), mode=torch_mode, **kw)))


def test_negative_pads_crop_like_torch():
    x = rand(np.random.default_rng(5), 1, 4, 5, 2)
    got = one("pad", [x], pads=(0, -1, 2, 0, 0, 1, -2, 0), value=-3.0)
    assert_close(got, nhwc(F.pad(nchw(x), (2, -2, -1, 1), value=-3.0)))


@pytest.mark.parametrize("starts,ends,steps", [
    ((0, 1, 0), (2, 4, 5), (1, 2, 3)),
    ((1, 3, 4), (-1, 0, -1), (-1, -2, -3)),  # end -1 with a negative step: down to index 0
    ((1, 2, 2), (2, 3, 3), (1, 1, 1)),
])
def test_slice_matches_torch_index_select(starts, ends, steps):
    x = rand(np.random.default_rng(6), 2, 4, 5)
    want = torch.from_numpy(x)
    for axis, (s, e, k) in enumerate(zip(starts, ends, steps)):
        want = want.index_select(axis, torch.arange(s, e, k))
    assert_close(one("slice", [x], starts=starts, ends=ends, steps=steps), want)


# -- resize: hand-computed cases ------------------------------------------------------------------

def resize(x, size, scales, mode, coord, nearest="round_prefer_floor"):
    from tinyedge.ir.ops import RESIZE_COORDS, RESIZE_MODES, RESIZE_NEAREST
    return one("resize", [x], size=size, scales=scales, mode=RESIZE_MODES.index(mode),
               coord_mode=RESIZE_COORDS.index(coord), nearest_mode=RESIZE_NEAREST.index(nearest))


def test_resize_nearest_2x_asymmetric_repeats_pixels():
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 2, 2, 1)
    want = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], np.float32)
    got = resize(x, (4, 4), (2.0, 2.0), "nearest", "asymmetric")
    np.testing.assert_array_equal(got[0, :, :, 0], want)


@pytest.mark.parametrize("nearest,want", [("round_prefer_floor", [0, 2]),
                                          ("round_prefer_ceil", [1, 3]),
                                          ("floor", [0, 2]), ("ceil", [1, 3])])
def test_resize_nearest_half_pixel_ties_follow_nearest_mode(nearest, want):
    # Downscale 4 -> 2: the source coordinates are exactly 0.5 and 2.5.
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
    got = resize(x, (1, 2), (1.0, 0.5), "nearest", "half_pixel", nearest)
    np.testing.assert_array_equal(got[0, 0, :, 0], np.array(want, np.float32))


def test_resize_nearest_tf_half_pixel_for_nn_has_no_half_shift():
    # (y + 0.5) / 2 = 0.25, 0.75, 1.25, 1.75 -> 0, 1, 1, 2 (clamped to 1)
    x = np.array([10, 20], np.float32).reshape(1, 1, 2, 1)
    got = resize(x, (1, 4), (1.0, 2.0), "nearest", "tf_half_pixel_for_nn")
    np.testing.assert_array_equal(got[0, 0, :, 0], np.array([10, 20, 20, 20], np.float32))


def test_resize_nearest_float32_near_ties_still_tie():
    # 7 -> 4 asymmetric: source x = y * 7/4 = 0, 1.75, 3.5, 5.25, but float32 gives 3.4999998.
    x = np.arange(7, dtype=np.float32).reshape(1, 1, 7, 1)
    ceil = resize(x, (1, 4), (1.0, 4 / 7), "nearest", "asymmetric", "round_prefer_ceil")
    floor = resize(x, (1, 4), (1.0, 4 / 7), "nearest", "asymmetric", "round_prefer_floor")
    assert ceil.ravel().tolist() == [0, 2, 4, 5]
    assert floor.ravel().tolist() == [0, 2, 3, 5]


def test_resize_leaves_an_axis_of_scale_1_alone():
    # tf_half_pixel_for_nn would read x + 0.5 and round it up: not on an axis that keeps its size.
    x = np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1)
    got = resize(x, (3, 2), (1.0, 2.0), "nearest", "tf_half_pixel_for_nn", "round_prefer_ceil")
    assert got[0, :, 0, 0].tolist() == [0, 1, 2]


@pytest.mark.parametrize("scale,edge", [(1e-30, -1), (1e30, 0)])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_extreme_scales_read_the_edge_pixel(scale, edge, mode):
    # half_pixel: (y + 0.5) / scale - 0.5 is inf for a tiny scale and about -0.5 for a huge one.
    x = rand(np.random.default_rng(11), 1, 3, 4, 2)
    got = resize(x, (5, 6), (scale, scale), mode, "half_pixel")
    np.testing.assert_array_equal(got, np.broadcast_to(x[:, edge:, edge:][:, :1, :1], got.shape))


RAMP_COORDS = {  # source coordinate of output index y, written out from the ONNX spec
    "align_corners": lambda y, n_in, n_out, s: y * (n_in - 1) / (n_out - 1),
    "asymmetric": lambda y, n_in, n_out, s: y / s,
    "half_pixel": lambda y, n_in, n_out, s: (y + 0.5) / s - 0.5,
    "pytorch_half_pixel": lambda y, n_in, n_out, s: (y + 0.5) / s - 0.5,
}


@pytest.mark.parametrize("coord", sorted(RAMP_COORDS))
@pytest.mark.parametrize("size", [(5, 7), (2, 3), (7, 11)])
def test_resize_linear_is_exact_on_a_ramp(coord, size):
    # Bilinear interpolation reproduces a linear function wherever the coordinate is inside the
    # input; outside, the coordinate clamps to the edge.
    h, w = 3, 4
    x = (10 * np.arange(h)[:, None] + np.arange(w)[None, :]).astype(np.float32)[None, :, :, None]
    scales = (size[0] / h, size[1] / w)
    got = resize(x, size, scales, "linear", coord)
    coords = RAMP_COORDS[coord]
    src_h = np.clip([coords(y, h, size[0], scales[0]) for y in range(size[0])], 0, h - 1)
    src_w = np.clip([coords(y, w, size[1], scales[1]) for y in range(size[1])], 0, w - 1)
    assert_close(got[0, :, :, 0], 10 * src_h[:, None] + src_w[None, :])


def test_resize_pytorch_half_pixel_single_output_reads_index_0():
    x = np.arange(4, dtype=np.float32).reshape(1, 4, 1, 1)
    got = resize(x, (1, 1), (0.25, 1.0), "linear", "pytorch_half_pixel")
    assert got.ravel().tolist() == [0.0]


@pytest.mark.parametrize("torch_mode,align,mode,coord,nearest", [
    ("nearest", None, "nearest", "asymmetric", "floor"),
    ("nearest-exact", None, "nearest", "half_pixel", "round_prefer_ceil"),
    ("bilinear", False, "linear", "pytorch_half_pixel", "round_prefer_floor"),
    ("bilinear", True, "linear", "align_corners", "round_prefer_floor"),
])
def test_resize_matches_torch_interpolate(torch_mode, align, mode, coord, nearest):
    x = rand(np.random.default_rng(7), 1, 5, 6, 2)
    for size in [(10, 12), (3, 4), (7, 13)]:
        scales = (size[0] / 5, size[1] / 6)
        want = F.interpolate(nchw(x), size=size, mode=torch_mode, align_corners=align)
        assert_close(resize(x, size, scales, mode, coord, nearest), nhwc(want))


# -- errors ---------------------------------------------------------------------------------------

def test_evaluate_explains_bad_calls():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="no IR op 'gelu'"):
        evaluate("gelu", [x], {})
    with pytest.raises(ValueError, match="input 'weight' is required"):
        evaluate("conv2d", [x, None], {})
    with pytest.raises(ValueError, match="float32"):
        evaluate("add", [x.astype(np.int8), x.astype(np.int8)], {})
    with pytest.raises(ValueError, match="kernel"):
        evaluate("max_pool2d", [x], {})  # the required attribute is missing
    with pytest.raises(ValueError, match="mode 7 unknown"):
        evaluate("pad", [x], {"pads": (0,) * 8, "mode": 7})


def test_evaluate_outputs_never_alias_inputs():
    x = np.zeros((2, 3), np.float32)
    (y,) = evaluate("reshape", [x], {"shape": (3, 2)})
    y[0, 0] = 1.0
    assert x[0, 0] == 0.0


def test_a_full_reduction_stays_0_d():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = evaluate("mean", [x], {"axes": (0, 1), "keepdims": 0})
    assert y.shape == () and y == np.float32(torch.mean(torch.from_numpy(x)).item())


# -- whole graphs ---------------------------------------------------------------------------------

def small_net(rng) -> tuple[Graph, dict]:
    """conv (relu6) -> max pool -> mean over H, W -> fully connected -> softmax, NHWC."""
    g = Graph()
    x = g.add_input("x", (2, 8, 8, 3))
    w = {"conv": rand(rng, 4, 3, 3, 3), "conv_b": rand(rng, 4), "fc": rand(rng, 5, 4),
         "fc_b": rand(rng, 5)}
    (h,) = g.add_node("conv2d", [x, g.add_const("w", w["conv"]), g.add_const("b", w["conv_b"])],
                      {"pads": (1, 1, 1, 1), "strides": (2, 2), "act_min": 0.0, "act_max": 6.0})
    (h,) = g.add_node("max_pool2d", [h], {"kernel": (2, 2), "strides": (2, 2)})
    (h,) = g.add_node("mean", [h], {"axes": (1, 2), "keepdims": 0})
    (h,) = g.add_node("fully_connected",
                      [h, g.add_const("fw", w["fc"]), g.add_const("fb", w["fc_b"])])
    (y,) = g.add_node("softmax", [h], {"axis": -1})
    g.outputs = [y]
    return g, w


def small_net_torch(x: np.ndarray, w: dict) -> torch.Tensor:
    t = F.conv2d(nchw(x), torch.from_numpy(w["conv"].transpose(0, 3, 1, 2).copy()),
                 torch.from_numpy(w["conv_b"]), stride=2, padding=1).clamp(0, 6)
    t = F.max_pool2d(t, 2, 2).mean(dim=(2, 3))
    return torch.softmax(F.linear(t, torch.from_numpy(w["fc"]), torch.from_numpy(w["fc_b"])), -1)


def test_run_matches_torch_on_a_small_net():
    rng = np.random.default_rng(8)
    g, w = small_net(rng)
    x = rand(rng, 2, 8, 8, 3)
    want = small_net_torch(x, w)
    (by_list,) = run(g, [x])
    (by_name,) = run(g, {"x": x})
    assert_close(by_list, want)
    assert_close(by_name, want)


def test_run_checks_inputs_against_the_graph():
    g, _ = small_net(np.random.default_rng(9))
    good = np.zeros((2, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=r"wants float32\[2, 8, 8, 3\]"):
        run(g, [good[:1]])
    with pytest.raises(ValueError, match="wants float32"):
        run(g, [good.astype(np.float64)])
    with pytest.raises(ValueError, match="takes 1 input"):
        run(g, [good, good])
    with pytest.raises(ValueError, match="missing"):
        run(g, {"y": good})


def test_run_names_the_node_that_fails():
    g, _ = small_net(np.random.default_rng(10))
    g.nodes[1].attrs["kernel"] = (9, 9)  # larger than its padded input
    with pytest.raises(ValueError, match="node 'max_pool2d_1' \\(max_pool2d\\)"):
        run(g, [np.zeros((2, 8, 8, 3), np.float32)])

