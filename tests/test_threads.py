"""The runtime's thread pool (runtime_c/src/pool.c): outputs do not depend on the thread count.

Each heavy kernel splits its output into tasks that the pool's threads take in whatever order they
come; every output element is computed as in a one-thread run. So `tinyedge.load(path, threads=N)`
must give byte-identical outputs for N = 1, 2, 3 and 4 on the host, equal to the numpy reference
executor's (INT8: exactly; float: within rounding, since a task boundary that drops or repeats a row
would give the same wrong bytes for every thread count), on MobileNetV2-style float and
INT8 models (tests/nets.py), on a small network of odd shapes (batch 2, sizes that do not divide into
tasks evenly, a fully connected layer of 37 outputs) and on every graph of the zoo; and the aarch64
runner for the Pi 4 under qemu (-cpu cortex-a72, its NEON kernels) must write the same bytes with
--threads 1 and 4 as the host.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import tinyedge
from cross_helpers import cross_cache, run_emulated, runner
from graph_zoo import zoo
from nets import export, mobilenet_v2, randomize_bn
from tinyedge import reference
from tinyedge.format import write_tem
from tinyedge.plan import plan_memory

torch = pytest.importorskip("torch")
nn = torch.nn

THREADS = (2, 3, 4)


def odd_shapes_net() -> nn.Module:
    """A 3x3 conv, a strided depthwise 3x3, a 1x1 conv and a fully connected layer of 37 outputs,
    on shapes whose rows and channels split into tasks unevenly."""
    return nn.Sequential(
        nn.Conv2d(3, 24, 3, 1, 1), nn.BatchNorm2d(24), nn.ReLU6(),
        nn.Conv2d(24, 24, 3, 2, 1, groups=24), nn.BatchNorm2d(24), nn.ReLU6(),
        nn.Conv2d(24, 40, 1), nn.BatchNorm2d(40), nn.ReLU6(),
        nn.Flatten(), nn.Linear(40 * 15 * 15, 37))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tinyedge.compiler.BuildResult]:
    """MobileNetV2-style (full widths, 1000 classes, 96x96) and the odd-shapes net, float and INT8:
    name -> BuildResult (the .tem file and its IR graph)."""
    out = tmp_path_factory.mktemp("thread_models")
    rng = np.random.default_rng(5)
    with warnings.catch_warnings():  # torch's notes on its legacy ONNX exporter
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.manual_seed(0)
        mnv2 = export(randomize_bn(mobilenet_v2(), seed=3), (1, 3, 96, 96), out / "mnv2.onnx")
        odd = export(randomize_bn(odd_shapes_net(), seed=4), (2, 3, 30, 30), out / "odd.onnx")
    built = {}
    # Calibration samples: (N, 3, 96, 96) for a batch-1 model, (N, 2, 3, 30, 30) for batch 2.
    for name, src, shape in (("mnv2", mnv2, (4, 3, 96, 96)), ("odd", odd, (3, 2, 3, 30, 30))):
        calib = {"input": rng.uniform(-1, 1, shape).astype(np.float32)}
        built[f"{name}_float"] = tinyedge.build(src, out / f"{name}.tem")
        built[f"{name}_int8"] = tinyedge.build(src, out / f"{name}_int8.tem", quantize="int8",
                                               calib=calib)
    return built


def random_input(info, rng) -> np.ndarray:
    """An input of the declared shape and dtype (float in [-1, 1), integers over their range)."""
    if np.dtype(info.dtype).kind == "f":
        return rng.uniform(-1, 1, info.shape).astype(info.dtype)
    lo, hi = np.iinfo(info.dtype).min, np.iinfo(info.dtype).max
    return rng.integers(lo, hi, info.shape, endpoint=True).astype(info.dtype)


def outputs_bytes(path: Path, threads: int, feeds: list[np.ndarray]) -> list[bytes]:
    return [y.tobytes() for y in tinyedge.load(path, threads=threads).run(feeds)]


@pytest.mark.parametrize("name", ["mnv2_float", "mnv2_int8", "odd_float", "odd_int8"])
def test_models_are_byte_identical_for_any_thread_count(name, models):
    path = Path(models[name].path)
    rng = np.random.default_rng(11)
    feeds = [random_input(info, rng) for info in tinyedge.load(path).inputs]
    want = outputs_bytes(path, 1, feeds)
    model_out = tinyedge.load(path, threads=4).run(feeds)
    for got, ref in zip(model_out, reference.run(models[name].graph, feeds)):
        if name.endswith("int8"):
            assert got.tobytes() == ref.tobytes(), f"{name}: differs from the numpy reference"
        else:
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4, err_msg=name)
    for threads in THREADS:
        assert outputs_bytes(path, threads, feeds) == want, f"{name}, {threads} threads"
    # Twice on one model: the pool is reused from run to run.
    model = tinyedge.load(path, threads=4)
    for _ in range(2):
        assert [y.tobytes() for y in model.run(feeds)] == want


def test_zoo_graphs_are_byte_identical_for_any_thread_count(tmp_path):
    rng = np.random.default_rng(12)
    for name, graph in zoo().items():
        path = tmp_path / f"{name}.tem"
        write_tem(graph, plan_memory(graph), path, {"name": name})
        feeds = [random_input(info, rng) for info in tinyedge.load(path).inputs]
        want = outputs_bytes(path, 1, feeds)
        for threads in THREADS:
            assert outputs_bytes(path, threads, feeds) == want, f"{name}, {threads} threads"


@pytest.mark.parametrize("name", ["mnv2_int8", "odd_float", "odd_int8"])
def test_pi4_runner_under_qemu_is_byte_identical_for_1_and_4_threads(name, models, request,
                                                                     tmp_path):
    """The NEON kernels split their work too: the Pi 4 runner's outputs with --threads 1 and 4 equal
    the host's byte for byte."""
    board, exe = runner("pi4", "zig", cross_cache(request.config))
    path = Path(models[name].path)
    host = tinyedge.load(path)
    rng = np.random.default_rng(13)
    feeds = [random_input(info, rng) for info in host.inputs]
    args = []
    for info, x in zip(host.inputs, feeds):
        np.save(tmp_path / f"in_{info.name}.npy", x)
        args += ["--input", f"{info.name}={tmp_path / f'in_{info.name}.npy'}"]
    want = [y.tobytes() for y in host.run(feeds)]
    for threads in (1, 4):
        out_dir = tmp_path / f"out{threads}"
        done = run_emulated(board, exe, path, *args, "--output-dir", out_dir, "--iters", "1",
                            "--warmup", "0", "--threads", threads, cpu="cortex-a72")
        assert done.returncode == 0, f"pi4 --threads {threads}: {done.stderr}"
        got = [np.load(out_dir / f"{info.name}.npy").tobytes() for info in host.outputs]
        assert got == want, f"{name}: pi4 runner with --threads {threads} differs from the host"
