"""Calibration: loading samples (tinyedge.quantize.calib_data) and collecting ranges
(tinyedge.quantize.calibration).

Oracles: numpy on the same values (np.min/max, np.percentile, elementwise ops), a brute-force search
of the true quantization error over a grid of ranges for mse, hand-derived parameters for
qparams_from_range, and arrays sliced and normalized by hand for images written with Pillow.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tinyedge.errors import CalibrationError, TinyEdgeError
from tinyedge.ir import Graph
from tinyedge.quantize.calib_data import ImagePreprocess, load_calibration
from tinyedge.quantize.calibration import (MIN_RANGE_WIDTH, PERCENTILE_BINS, collect_ranges,
                                           qparams_from_range, weight_scales)
from tinyedge.quantize.fixed_point import dequantize_value, quantize_value

WIDTH = 4096  # values per sample of the distribution tests
SAMPLES = 8


def relu_graph(width: int = WIDTH) -> Graph:
    """x -> relu (clip at 0): ranges of a signed tensor and of a one-sided one."""
    g = Graph()
    x = g.add_input("x", (1, width))
    g.outputs = g.add_node("clip", [x], {"min": 0.0}, name="relu")
    return g


def uniform(seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 2.0, (SAMPLES, 1, WIDTH)).astype(np.float32)


def gaussian_with_outliers(seed=0) -> np.ndarray:
    """N(0, 1) with 3 values at 40 and 3 at -30 among 32768: rare, but far out."""
    a = np.random.default_rng(seed).standard_normal((SAMPLES, 1, WIDTH)).astype(np.float32)
    a[0, 0, :3], a[1, 0, :3] = 40.0, -30.0
    return a


def quantization_sse(v: np.ndarray, lo: float, hi: float) -> float:
    """Sum of squared errors of v quantized with the parameters of [lo, hi] (the true cost)."""
    s, z = qparams_from_range(lo, hi)
    error = dequantize_value(quantize_value(v, s, z), s, z).astype(np.float64) - v
    return float(np.sum(error**2))


# -- the methods on known distributions ------------------------------------------------------------

@pytest.mark.parametrize("data", [uniform(), gaussian_with_outliers()], ids=["uniform", "outliers"])
def test_minmax_is_the_exact_extremes(data):
    r = collect_ranges(relu_graph(), {"x": data}, "minmax")
    relu = np.maximum(data, 0)
    assert r == {"x": (data.min(), data.max()), "relu": (relu.min(), relu.max())}


def value_of_rank(v: np.ndarray, q: float) -> float:
    """The value at which the count of values reaches q% of them (sorting is the oracle)."""
    v = np.sort(v.reshape(-1))
    return float(v[int(np.ceil(q / 100 * v.size)) - 1])


@pytest.mark.parametrize("data", [uniform(), gaussian_with_outliers()], ids=["uniform", "outliers"])
def test_percentile_is_the_value_of_that_rank(data):
    r = collect_ranges(relu_graph(), {"x": data}, "percentile")
    # The histogram spreads a bin's values evenly: the result lies in the bin of the value whose
    # rank reaches the percentile (bins are (max - min) / 8192 wide on both sides of 0).
    bin_width = 1.01 * (data.max() - min(data.min(), 0)) / PERCENTILE_BINS
    relu = np.maximum(data, 0)
    for got, values, q in ((r["x"][0], data, 0.01), (r["x"][1], data, 99.99),
                           (r["relu"][1], relu, 99.99)):
        assert abs(got - value_of_rank(values, q)) <= bin_width, q
    assert r["relu"][0] == 0.0  # the 0.01th percentile falls among the zeros: exactly 0


def test_methods_keep_a_uniform_range():
    data = uniform()
    lo, hi = data.min(), data.max()
    for method in ("mse", "entropy"):
        r = collect_ranges(relu_graph(), {"x": data}, method)
        assert lo <= r["x"][0] <= 0.98 * lo and 0.98 * hi <= r["x"][1] <= hi, method
        assert r["relu"][0] == 0.0 and 0.98 * hi <= r["relu"][1] <= hi, method


def test_histogram_methods_clip_outliers_minmax_does_not():
    data = gaussian_with_outliers()
    ranges = {m: collect_ranges(relu_graph(), {"x": data}, m)
              for m in ("minmax", "percentile", "mse", "entropy")}
    assert ranges["minmax"]["x"] == (-30.0, 40.0)
    for m in ("percentile", "mse", "entropy"):
        (lo, hi), (_, relu_hi) = ranges[m]["x"], ranges[m]["relu"]
        assert -30 < lo < -3 and 3 < hi < 40 and 3 < relu_hi < 40, (m, ranges[m])
    for m in ("percentile", "entropy"):  # these two cut down to the bulk of N(0, 1)
        assert max(-ranges[m]["x"][0], ranges[m]["x"][1]) < 6, (m, ranges[m])


def test_mse_finds_the_least_quantization_error():
    data = gaussian_with_outliers(seed=3)
    v = data.reshape(-1)
    lo, hi = collect_ranges(relu_graph(), {"x": data}, "mse")["x"]
    grid = [(a, b) for a in np.linspace(-30, -2, 15) for b in np.linspace(2, 40, 20)]
    best = min(quantization_sse(v, a, b) for a, b in grid)
    # The histogram models the error, the grid is coarse: the search lands within 2% of the
    # grid's best.
    assert quantization_sse(v, lo, hi) <= 1.02 * best
    assert quantization_sse(v, lo, hi) < quantization_sse(v, v.min(), v.max())


def test_ranges_of_every_activation_of_a_two_input_graph():
    g = Graph()
    a, b = g.add_input("a", (1, 3, 5)), g.add_input("b", (1, 5))
    (s,) = g.add_node("add", [a, b], name="sum")
    (r,) = g.add_node("clip", [s], {"min": 0.0, "max": 1.5}, name="clip")
    c = g.add_const("c", np.float32([[[-2.0], [0.5], [3.0]]]))
    g.outputs = g.add_node("mul", [r, c], name="scaled")
    rng = np.random.default_rng(1)
    xa = rng.normal(size=(6, 1, 3, 5)).astype(np.float32)
    xb = rng.normal(size=(6, 5)).astype(np.float32)  # without the batch dimension
    calls = []
    ranges = collect_ranges(g, {"a": xa, "b": xb}, progress=lambda d, t: calls.append((d, t)))
    s_ref = xa + xb[:, None, None, :]
    want = {"a": xa, "b": xb, "sum": s_ref, "clip": np.clip(s_ref, 0, 1.5),
            "scaled": np.clip(s_ref, 0, 1.5) * np.float32([[[-2.0], [0.5], [3.0]]])}
    assert ranges == {k: (v.min(), v.max()) for k, v in want.items()}
    assert calls == [(k, 6) for k in range(1, 7)]


def test_histogram_methods_report_both_passes():
    calls = []
    collect_ranges(relu_graph(64), {"x": uniform()[..., :64]}, "entropy",
                   progress=lambda d, t: calls.append((d, t)))
    assert calls == [(k, 2 * SAMPLES) for k in range(1, 2 * SAMPLES + 1)]


def test_constant_tensors_calibrate():
    data = np.zeros((3, 1, 16), np.float32)
    for method in ("minmax", "mse"):
        r = collect_ranges(relu_graph(16), {"x": data}, method)
        assert r == {"x": (0.0, 0.0), "relu": (0.0, 0.0)}
        s, z = qparams_from_range(*r["x"])
        assert s > 0 and z == -128


def test_unknown_method_lists_the_methods():
    with pytest.raises(CalibrationError, match="unknown calibration method 'kl'; supported: "
                                               "minmax, percentile, mse, entropy"):
        collect_ranges(relu_graph(), {"x": uniform()}, "kl")


def test_an_activation_that_overflows_is_named():
    g = Graph()
    x = g.add_input("x", (1, 4))
    g.outputs = g.add_node("div", [x, g.add_const("zero", np.zeros(4, np.float32))], name="ratio")
    with pytest.raises(CalibrationError, match=r"activation 'ratio' \(node 'ratio' \(div\)\) has "
                                               r"0 NaN and 4 Inf values on calibration sample 0"):
        with np.errstate(divide="ignore"):
            collect_ranges(g, {"x": np.ones((2, 1, 4), np.float32)})


# -- parameters ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lo, hi, scale, zero_point", [
    (2.0, 10.0, 10.0 / 255, -128),  # all positive: widened down to 0
    (-10.0, -2.0, 10.0 / 255, 127),  # all negative: widened up to 0
    (-1.0, 1.0, 2.0 / 255, -1),  # float32 s is a hair above 2/255: -1 / s = -127.49999 -> -127
    (-1.0, 3.0, 4.0 / 255, -64),  # -128 + 63.75 -> -64
    (0.0, 0.0, MIN_RANGE_WIDTH / 255, -128),  # zero width: the minimum width, upward
    (5.0, 5.0, 5.0 / 255, -128),  # a constant is a range once 0 is included
    (-1e-9, -1e-9, MIN_RANGE_WIDTH / 255, 127),  # too narrow: widened away from 0
    (-3e38, 3e38, 6e38 / 255, 0),  # the width overflows float32, not the scale
])
def test_qparams_from_range(lo, hi, scale, zero_point):
    s, z = qparams_from_range(lo, hi)
    assert s.dtype == np.float32 and s == np.float32(scale) and z == zero_point


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e6, 1e6, width=32), st.floats(0, 1e6, width=32))
def test_qparams_represent_zero_exactly_and_cover_the_range(lo, width):
    hi = lo + width
    s, z = qparams_from_range(lo, hi)
    assert np.isfinite(s) and s > 0 and -128 <= z <= 127
    assert dequantize_value(quantize_value(0.0, s, z), s, z) == 0  # 0 (and zero padding) exact
    grid_lo, grid_hi = s * (-128 - z), s * (127 - z)
    tol = max(float(s), 1e-6 * max(abs(lo), abs(hi)))  # z rounds by half a step at most
    assert grid_lo <= min(lo, 0) + tol and grid_hi >= max(hi, 0) - tol


@pytest.mark.parametrize("lo, hi", [(float("nan"), 1.0), (0.0, float("inf")), (2.0, 1.0)])
def test_qparams_refuse_a_bad_range(lo, hi):
    with pytest.raises(ValueError, match="is not a finite interval"):
        qparams_from_range(lo, hi)


def test_weight_scales_per_channel_and_per_tensor():
    w = np.random.default_rng(0).normal(size=(5, 3, 3, 2)).astype(np.float32)
    s = weight_scales(w, per_channel=True)
    assert s.dtype == np.float32 and s.shape == (5,)
    q = np.rint(w / s[:, None, None, None])
    assert np.abs(q).max(axis=(1, 2, 3)).tolist() == [127.0] * 5  # each channel spans [-127, 127]
    t = weight_scales(w, per_channel=False)
    assert t.shape == (1,) and t[0] == s.max()


def test_weight_scales_of_zero_channels():
    w = np.zeros((3, 4), np.float32)
    w[1] = [0.5, -2.54, 1.0, 0.0]
    w[2, 0] = 1e-44  # a subnormal channel is as good as zero
    assert weight_scales(w, True).tolist() == [np.float32(0.02)] * 3  # the tensor's largest scale
    assert weight_scales(np.zeros((2, 3)), True).tolist() == [np.float32(1 / 127)] * 2
    assert weight_scales(np.zeros((2, 3)), False).tolist() == [np.float32(1 / 127)]
    with pytest.raises(ValueError, match="NaN or Inf"):
        weight_scales(np.float32([[1.0, np.nan]]), True)


# -- .npz data -------------------------------------------------------------------------------------

X = ("x", (1, 3, 4, 4), "float32")


def test_arrays_with_and_without_the_batch_dimension(tmp_path):
    data = np.random.default_rng(0).normal(size=(5, 3, 4, 4))  # float64 on purpose
    np.savez(tmp_path / "a.npz", x=data)
    np.savez(tmp_path / "b.npz", anything=data[:, None])
    np.save(tmp_path / "c.npy", data)
    for name in ("a.npz", "b.npz", "c.npy"):  # a single-input model takes one array, any key
        got = load_calibration(tmp_path / name, [X])
        assert got["x"].dtype == np.float32 and got["x"].shape == (5, 1, 3, 4, 4)
        np.testing.assert_array_equal(got["x"], data[:, None].astype(np.float32))
    assert load_calibration(tmp_path / "a.npz", [X], limit=2)["x"].shape == (2, 1, 3, 4, 4)


def test_npz_with_two_inputs(tmp_path):
    np.savez(tmp_path / "c.npz", a=np.ones((3, 2), np.float32), b=np.zeros((3, 1, 4), np.float32))
    got = load_calibration(tmp_path / "c.npz", [("a", (1, 2), "float32"), ("b", (1, 4), "float32")])
    assert got["a"].shape == (3, 1, 2) and got["b"].shape == (3, 1, 4)
    assert not got["b"].any()  # a constant input is not an error


def bad(message: str):
    return pytest.raises(CalibrationError, match=message)


def test_bad_arrays_are_refused_with_a_clear_line(tmp_path):
    x4 = np.zeros((4, 3, 4, 4), np.float32)
    with bad(r"calibration data '.*nowhere.npz' does not exist"):
        load_calibration(tmp_path / "nowhere.npz", [X])
    np.savez(tmp_path / "two.npz", y=x4, z=x4)
    with bad(r"calibration arrays \['y', 'z'\] \(from '.*two.npz'\) do not match the model's "
             r"inputs \['x'\]: missing \['x'\], unknown \['y', 'z'\]"):
        load_calibration(tmp_path / "two.npz", [X])
    with bad(r"calibration arrays \['a'\] \(from a dict\) do not match the model's inputs "
             r"\['a', 'b'\]: missing \['b'\], unknown \[\]"):
        load_calibration({"a": x4}, [("a", (1, 3, 4, 4), "float32"), ("b", (1, 2), "float32")])
    with bad(r"input 'x': calibration data has shape \(4, 3, 4\), expected "
             r"\(N, 1, 3, 4, 4\) or \(N, 3, 4, 4\)"):
        load_calibration({"x": x4[..., 0]}, [X])
    with bad(r"input 'x': the calibration set is empty \(0 samples\)"):
        load_calibration({"x": x4[:0]}, [X])
    with bad(r"input 'x': calibration data is uint8, not float"):
        load_calibration({"x": x4.astype(np.uint8)}, [X])
    spoiled = x4.copy()
    spoiled[1, 0, 0, :2] = np.nan
    spoiled[3, 2, 1, 1] = -np.inf
    with bad(r"input 'x': calibration data holds 2 NaN and 1 Inf values "
             r"\(in float32; samples 1, 3\)"):
        load_calibration({"x": spoiled}, [X])
    huge = np.zeros((1, 3, 4, 4))
    huge[0, 1, 2, 3] = 1e300
    with bad(r"holds 0 NaN and 1 Inf values"):  # float64 beyond float32
        load_calibration({"x": huge}, [X])
    with bad(r"different sample counts: \{'a': 2, 'b': 3\}"):  # even when a limit hides it
        load_calibration({"a": np.ones((2, 1)), "b": np.ones((3, 1))},
                         [("a", (1,), "float32"), ("b", (1,), "float32")], limit=1)
    with bad("sample limit must be at least 1, got 0"):
        load_calibration({"x": x4}, [X], limit=0)
    with bad("input 'ids' is int64; calibration feeds float32 inputs only"):
        load_calibration({"ids": x4}, [("ids", (1, 3, 4, 4), "int64")])
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with bad(r"cannot read '.*junk.npz' as .npz or .npy"):
        load_calibration(tmp_path / "junk.npz", [X])


def test_calibration_errors_are_tinyedge_errors():
    assert issubclass(CalibrationError, TinyEdgeError)


# -- image folders ---------------------------------------------------------------------------------

def write_image(path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels.astype(np.uint8)).save(path)


def random_pixels(h, w, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_images_are_normalized_in_channel_order_and_layout(tmp_path):
    pixels = [random_pixels(5, 4, seed) for seed in range(3)]
    for k, p in enumerate(pixels):
        write_image(tmp_path / f"img{k}.{'png' if k < 2 else 'bmp'}", p)
    (tmp_path / "notes.txt").write_text("not an image")
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    rgb = ImagePreprocess(size=None, mean=mean, std=std, channels="rgb", layout="nchw")
    got = load_calibration(tmp_path, [("x", (1, 3, 5, 4), "float32")], rgb)["x"]
    want = np.stack([((p / 255.0 - mean) / std).transpose(2, 0, 1)[None] for p in pixels])
    np.testing.assert_allclose(got, want, atol=1e-6)
    bgr = ImagePreprocess(size=None, mean=(0.0,), std=(1.0,), channels="bgr", layout="nhwc",
                          scale=1.0)
    got = load_calibration(tmp_path, [("x", (1, 5, 4, 3), "float32")], bgr, limit=2)["x"]
    np.testing.assert_array_equal(got, np.stack([p[None, ..., ::-1] for p in pixels[:2]]))


def test_images_are_resized_then_center_cropped(tmp_path):
    write_image(tmp_path / "solid.png", np.broadcast_to(np.uint8([200, 100, 50]), (17, 23, 3)))
    got = load_calibration(tmp_path, [("x", (1, 3, 8, 8), "float32")])["x"]  # layout read: nchw
    want = np.broadcast_to(np.float32([200, 100, 50])[:, None, None] / 255, (3, 8, 8))
    np.testing.assert_allclose(got[0, 0], want, atol=1e-6)
    pixels = random_pixels(10, 12)
    write_image(tmp_path / "solid.png", pixels)
    crop = ImagePreprocess(size=(10, 12), mean=(0.0,), std=(1.0,), channels="rgb",
                           layout="nhwc", scale=1.0)
    got = load_calibration(tmp_path, [("x", (6, 8, 3), "float32")], crop)["x"]
    np.testing.assert_array_equal(got[0], pixels[2:8, 2:10])


def test_grayscale_and_jpeg_images(tmp_path):
    gray = np.random.default_rng(2).integers(0, 256, (6, 7)).astype(np.uint8)
    write_image(tmp_path / "a.png", np.repeat(gray[..., None], 3, axis=2))  # R = G = B: L is exact
    write_image(tmp_path / "b.jpg", np.full((6, 7, 3), 90))
    got = load_calibration(tmp_path, [("x", (1, 1, 6, 7), "float32")])["x"]
    np.testing.assert_allclose(got[0, 0, 0], gray / 255.0, atol=1e-6)
    np.testing.assert_allclose(got[1], 90 / 255, atol=3 / 255)  # JPEG is lossy


def test_bad_image_folders_are_refused_with_a_clear_line(tmp_path):
    rgb_input = [("x", (1, 3, 4, 4), "float32")]
    with bad(r"calibration folder '.*' holds no images \(.jpg, .jpeg, .png, .bmp\)"):
        load_calibration(tmp_path, rgb_input)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with bad(r"cannot read image '.*broken.png'"):
        load_calibration(tmp_path, rgb_input)
    with bad(r"an image folder calibrates single-input models; this model has inputs \['a', 'b'\]"):
        load_calibration(tmp_path, [("a", (1, 3, 4, 4), "float32"), ("b", (1, 3, 4, 4), "float32")])
    with bad(r"input 'x' has shape \(1, 3, 4, 3\): cannot tell its channel axis"):
        load_calibration(tmp_path, [("x", (1, 3, 4, 3), "float32")])
    with bad(r"input 'x' has 5 channels in layout nchw"):
        load_calibration(tmp_path, [("x", (1, 5, 4, 4), "float32")], ImagePreprocess())
    with bad(r"image mean \(0.1, 0.2\) has 2 values; give 1 or 3"):
        load_calibration(tmp_path, rgb_input, ImagePreprocess(mean=(0.1, 0.2)))
    with bad(r"image size \(2, 8\) is smaller than the input's \(height, width\) \(4, 4\)"):
        load_calibration(tmp_path, rgb_input, ImagePreprocess(size=(2, 8)))
    with bad("image channel order 'rgba' is not supported; use 'rgb' or 'bgr'"):
        load_calibration(tmp_path, rgb_input, ImagePreprocess(channels="rgba"))
