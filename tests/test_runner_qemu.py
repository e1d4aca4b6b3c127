"""tinyedge-run cross-built for ARM boards gives byte-identical outputs to the host runtime.

The runners for pi4 (Cortex-A72, no dot product), pi5 (Cortex-A76, dot product) and armv7-linux
(ARMv7-A NEON, hard float) are built with zig and run under qemu-user on those CPU models. Models:
the example CNN (examples/digits) in float32 and INT8, and a MobileNetV2-style INT8 network
(tests/nets.py), all built here by tinyedge.build. Each runner reads the same .npy inputs the host
gets; every output it writes must equal `tinyedge.load(...).run` on the host byte for byte (the
float kernels are compiled without FMA contraction and sum in a fixed order, so the ISA and the
compiler do not change a bit).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import tinyedge
from cross_helpers import cross_cache, run_emulated, runner
from nets import export, mobilenet_v2, randomize_bn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "digits"))
import train as digits  # noqa: E402  (the example model's definition and data)

BOARDS = {"pi4": "cortex-a72", "pi5": "cortex-a76", "armv7-linux": "cortex-a15"}
MODELS = ("cnn_float", "cnn_int8", "mobilenet_v2_int8")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """The .tem files under test, built once for the module."""
    out = tmp_path_factory.mktemp("qemu_models")
    cnn = out / "cnn.onnx"
    digits.export_onnx(randomize_bn(digits.make_model(), seed=1), cnn)
    calib = {"image": digits.digits_split()[0][:64]}
    # The paper's full widths (up to 320 and 1280 channels) at a small resolution.
    mnv2 = export(randomize_bn(mobilenet_v2(num_classes=10), seed=2), (1, 3, 64, 64), out / "mnv2.onnx")
    mnv2_calib = {"input": np.random.default_rng(3).uniform(-1, 1, (8, 3, 64, 64)).astype(np.float32)}
    return {
        "cnn_float": tinyedge.build(cnn, out / "cnn.tem").path,
        "cnn_int8": tinyedge.build(cnn, out / "cnn_int8.tem", quantize="int8", calib=calib).path,
        "mobilenet_v2_int8": tinyedge.build(mnv2, out / "mnv2_int8.tem", quantize="int8",
                                            calib=mnv2_calib).path,
    }


@pytest.fixture(scope="module")
def runners(request) -> dict:
    """Board name -> (board, runner path); the module's builds share the suite's cache."""
    cache = cross_cache(request.config)
    return {name: runner(name, "zig", cache) for name in BOARDS}


def random_input(info, rng) -> np.ndarray:
    """An input of the model's declared shape and dtype (float in [-1, 1), int8 over its full range)."""
    if np.dtype(info.dtype).kind == "f":
        return rng.uniform(-1, 1, info.shape).astype(info.dtype)
    lo, hi = np.iinfo(info.dtype).min, np.iinfo(info.dtype).max
    return rng.integers(lo, hi, info.shape, endpoint=True).astype(info.dtype)


def mismatch(got: np.ndarray, want: np.ndarray) -> str:
    """Where and how much two arrays of one shape and dtype differ."""
    bad = np.flatnonzero(got.ravel() != want.ravel())
    if bad.size == 0:
        return "equal values in different bytes (signed zeros or NaN payloads)"
    worst = np.abs(got.astype(np.float64) - want.astype(np.float64)).max()
    return f"{bad.size} of {got.size} values differ, first at flat index {bad[0]}, worst by {worst:.3g}"


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("board_name", BOARDS)
def test_runner_under_qemu_matches_host(board_name, model_name, models, runners, tmp_path):
    board, exe = runners[board_name]
    path = models[model_name]
    host = tinyedge.load(path)
    rng = np.random.default_rng(7)
    feeds = [random_input(info, rng) for info in host.inputs]
    args = []
    for info, x in zip(host.inputs, feeds):
        np.save(tmp_path / f"in_{info.name}.npy", x)
        args += ["--input", f"{info.name}={tmp_path / f'in_{info.name}.npy'}"]
    out_dir = tmp_path / "out"

    done = run_emulated(board, exe, path, *args, "--output-dir", out_dir, "--iters", "1",
                        "--warmup", "0", cpu=BOARDS[board_name])
    assert done.returncode == 0, f"{board_name} under qemu -cpu {BOARDS[board_name]}: {done.stderr}"

    for info, want in zip(host.outputs, host.run(feeds)):
        got = np.load(out_dir / f"{info.name}.npy")
        assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape)
        assert got.tobytes() == want.tobytes(), f"{board_name}, output {info.name}: {mismatch(got, want)}"
