"""Host speed-up of the runtime's thread pool: 2 threads over 1 on a MobileNetV2-style model.

The model is tests/nets.py's mobilenet_v2 (full widths, 1000 classes) at 224x224 with random
BatchNorm statistics (randomize_bn), exported to ONNX and built by tinyedge.build twice: float32,
and INT8 calibrated on random images. Each is loaded with threads=1 and threads=2; after warm-up the
two are timed interleaved (each round runs both, in alternating order, so that drift of the machine
touches both alike) and the medians and their ratio are printed. The outputs of the two are checked
to be byte-identical first. Needs torch (the project's .venv has it); nothing is downloaded.

    .venv/bin/python benchmarks/threads.py [--rounds 30] [--warmup 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import tinyedge  # noqa: E402

INPUT_SHAPE = (1, 3, 224, 224)
CALIB_IMAGES = 8


def build_models(out: Path) -> dict[str, Path]:
    """The float and INT8 MobileNetV2-style .tem files."""
    import torch
    from nets import export, mobilenet_v2, randomize_bn

    torch.manual_seed(0)
    with warnings.catch_warnings():  # torch's notes on its legacy ONNX exporter
        warnings.simplefilter("ignore", DeprecationWarning)
        onnx_path = export(randomize_bn(mobilenet_v2(), seed=0), INPUT_SHAPE, out / "mnv2.onnx")
    calib = np.random.default_rng(1).uniform(-1, 1, (CALIB_IMAGES, *INPUT_SHAPE[1:]))
    return {
        "float32": Path(tinyedge.build(onnx_path, out / "mnv2.tem").path),
        "int8": Path(tinyedge.build(onnx_path, out / "mnv2_int8.tem", quantize="int8",
                                    calib={"input": calib.astype(np.float32)}).path),
    }


def time_pair(path: Path, threads: int, rounds: int, warmup: int) -> tuple[float, float]:
    """Median milliseconds per run with 1 thread and with `threads`, timed interleaved."""
    models = {1: tinyedge.load(path, threads=1), threads: tinyedge.load(path, threads=threads)}
    info = models[1].inputs[0]
    rng = np.random.default_rng(2)
    x = (rng.uniform(-1, 1, info.shape) if np.dtype(info.dtype).kind == "f"
         else rng.integers(-128, 128, info.shape)).astype(info.dtype)
    outputs = {n: [y.tobytes() for y in m.run([x])] for n, m in models.items()}
    if outputs[1] != outputs[threads]:
        raise SystemExit(f"{path.name}: outputs with {threads} threads differ from 1 thread")
    for _ in range(warmup):
        for m in models.values():
            m.run([x])
    times: dict[int, list[float]] = {n: [] for n in models}
    order = list(models)
    for r in range(rounds):
        for n in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            models[n].run([x])
            times[n].append((time.perf_counter() - start) * 1e3)
    return statistics.median(times[1]), statistics.median(times[threads])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads compared with 1 (default 2)")
    args = parser.parse_args()
    print(f"host: {os.cpu_count()} CPUs; MobileNetV2-style, {INPUT_SHAPE[2]}x{INPUT_SHAPE[3]}, "
          f"{args.rounds} rounds after {args.warmup} warm-up, medians")
    with tempfile.TemporaryDirectory() as tmp:
        models = build_models(Path(tmp))
        print(f"{'model':<8} {'1 thread ms':>12} {f'{args.threads} threads ms':>14} {'speed-up':>9}")
        for name, path in models.items():
            one, many = time_pair(path, args.threads, args.rounds, args.warmup)
            print(f"{name:<8} {one:>12.2f} {many:>14.2f} {one / many:>8.2f}x")


if __name__ == "__main__":
    main()
