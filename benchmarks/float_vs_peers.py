"""Float MobileNetV2: tinyedge vs onnxruntime vs LiteRT, single-threaded, interleaved, same weights.

Steps:
1. model.tflite and model.onnx come from one Keras MobileNetV2 (make_mobilenetv2.py), built in a
   child process so that TensorFlow, its thread pools and its own copy of TFLite never live in the
   timed process. Files already in --out-dir from the same seed are reused.
2. model.tem is compiled from model.onnx with tinyedge.build (always, so it reflects today's compiler).
3. All three run once on the same image; outputs are compared with LiteRT's.
4. Timing: every engine is warmed up, then rounds run each engine once, in an order that rotates
   from round to round, so that drift of the machine (other processes, frequency) touches all of
   them alike. tinyedge may take part in fewer rounds (--tinyedge-iters), spread evenly over all.
   Each timed call copies the input in, runs the model and copies the output out.
5. A table: median, p10, p90 latency, ratios of medians (>1 means slower than the peer), file sizes.

Single-threaded means: onnxruntime with intra_op_num_threads=1, inter_op_num_threads=1, sequential
execution; the LiteRT Interpreter with num_threads=1 and its default XNNPACK delegate; tinyedge with
threads=1.

    python benchmarks/float_vs_peers.py --out-dir /tmp/mnv2
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import make_mobilenetv2 as mnv2

ORT, LITERT, TINYEDGE = "onnxruntime", "LiteRT", "tinyedge"
# Largest allowed |output - LiteRT output|, relative to max |LiteRT output|. Float32 kernels that
# add in another order move MobileNetV2's outputs by about 1e-6 relative (onnxruntime vs LiteRT);
# a wrong kernel moves them by far more than 1e-4.
AGREEMENT_RTOL = 1e-4
MIN_TINYEDGE_ITERS = 5


@dataclass
class Engine:
    """One runtime under test: `run()` copies the prepared input in, runs, returns the output."""

    name: str
    version: str
    model_path: Path
    run: Callable[[], np.ndarray]
    times_ms: list = field(default_factory=list)


def make_ort(path: Path, image_nchw: np.ndarray) -> Engine:
    """onnxruntime CPU session restricted to one thread."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: image_nchw}
    return Engine(ORT, ort.__version__, path, lambda: session.run(None, feeds)[0])


def make_litert(path: Path, image_nhwc: np.ndarray) -> Engine:
    """LiteRT Interpreter with one thread and its default delegate (XNNPACK on this CPU)."""
    from importlib.metadata import version

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def run() -> np.ndarray:
        interpreter.set_tensor(input_index, image_nhwc)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)

    return Engine(LITERT, version("ai-edge-litert"), path, run)


def make_tinyedge(onnx_path: Path, tem_path: Path, image_nchw: np.ndarray, console) -> Engine:
    """Compile model.onnx to model.tem and load it with the C runtime, one thread."""
    import tinyedge

    t0 = time.perf_counter()
    tinyedge.build(onnx_path, tem_path)
    console.print(f"built {tem_path} in {time.perf_counter() - t0:.1f} s")
    model = tinyedge.load(tem_path, threads=1)
    kernels = Counter(op.kernel for op in model.ops)
    console.print(f"tinyedge: {len(model.ops)} ops; kernels: "
                  + ", ".join(f"{name} x{n}" for name, n in kernels.most_common()))
    # The .tem keeps the ONNX model's boundary layout, so it takes the same NCHW image as onnxruntime.
    feeds = {model.inputs[0].name: image_nchw}
    return Engine(TINYEDGE, tinyedge.__version__, tem_path, lambda: model.run(feeds)[0])


def ensure_peer_models(out_dir: Path, seed: int, rebuild: bool, console) -> tuple[Path, Path]:
    """Reuse or build model.tflite / model.onnx in out_dir (building runs in a child process)."""
    paths = out_dir / mnv2.TFLITE_NAME, out_dir / mnv2.ONNX_NAME
    if not rebuild and mnv2.models_are_current(out_dir, seed):
        console.print(f"reusing {paths[0]} and {paths[1]} (seed {seed})")
        return paths
    console.print(f"building MobileNetV2 in Keras (seed {seed}) -> TFLite and ONNX in {out_dir} ...")
    cmd = [sys.executable, str(Path(mnv2.__file__)), "--out-dir", str(out_dir), "--seed", str(seed)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        # TensorFlow logs a lot; the cause of a failure is at the end.
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise SystemExit(f"building the peer models failed ({' '.join(cmd)}):\n{tail}")
    return paths


def check_agreement(engines: list[Engine], console) -> bool:
    """Run each engine once and compare its output with LiteRT's; True when all agree."""
    outputs = {e.name: np.asarray(e.run(), dtype=np.float32).reshape(-1) for e in engines}
    ref = outputs[LITERT]
    scale = float(np.abs(ref).max())
    table = Table("engine", "max |diff| vs LiteRT", "relative", "top-1", "agrees",
                  title=f"one input, {ref.size} outputs, max |LiteRT output| = {scale:.4g}")
    ok = True
    for name, out in outputs.items():
        if name == LITERT:
            continue
        diff = float(np.abs(out - ref).max())
        agrees = out.shape == ref.shape and diff <= AGREEMENT_RTOL * scale
        ok &= agrees
        top1 = f"{int(out.argmax())} vs {int(ref.argmax())}"
        table.add_row(name, f"{diff:.3g}", f"{diff / scale:.2g}", top1,
                      "yes" if agrees else f"[red]NO (limit {AGREEMENT_RTOL:g})[/]")
    console.print(table)
    return ok


def timed(engine: Engine) -> None:
    """Run engine once and record the wall time in milliseconds."""
    t0 = time.perf_counter_ns()
    engine.run()
    engine.times_ms.append((time.perf_counter_ns() - t0) / 1e6)


def tinyedge_rounds(iters: int, runs: int) -> set[int]:
    """The rounds (of iters) in which tinyedge runs: `runs` of them, evenly spread."""
    return {(k * iters) // runs for k in range(runs)}


def measure(engines: list[Engine], args, console) -> None:
    """Warm up, then time interleaved rotating rounds; fills each engine's times_ms."""
    peers = [e for e in engines if e.name != TINYEDGE]
    slow = [e for e in engines if e.name == TINYEDGE]
    for e in peers:
        for _ in range(args.warmup):
            e.run()
    te_runs = 0
    if slow:
        warm = []
        for _ in range(args.tinyedge_warmup):
            t0 = time.perf_counter()
            slow[0].run()
            warm.append(time.perf_counter() - t0)
        te_runs = args.tinyedge_iters
        if te_runs is None:
            # Fit tinyedge's share of the run into the time budget (its reference kernels may be
            # far slower than the peers), but never fewer runs than make a median.
            te_runs = int(args.time_budget / max(float(np.median(warm)), 1e-9))
            te_runs = max(MIN_TINYEDGE_ITERS, min(args.iters, te_runs))
        console.print(f"tinyedge warm-up: {1e3 * float(np.median(warm)):.1f} ms per run; "
                      f"timing it {te_runs} times")
    te_rounds = tinyedge_rounds(args.iters, te_runs) if slow else set()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("interleaved rounds", total=args.iters)
        for i in range(args.iters):
            order = engines[i % len(engines):] + engines[:i % len(engines)]
            for e in order:
                if e.name != TINYEDGE or i in te_rounds:
                    timed(e)
            progress.advance(task)


def summarize(engines: list[Engine]) -> list[dict]:
    """Latency statistics (ms) and ratios of medians for each engine."""
    med = {e.name: float(np.median(e.times_ms)) for e in engines}
    rows = []
    for e in engines:
        t = np.asarray(e.times_ms)
        rows.append({"engine": e.name, "version": e.version, "runs": int(t.size),
                     "median_ms": med[e.name], "p10_ms": float(np.percentile(t, 10)),
                     "p90_ms": float(np.percentile(t, 90)),
                     "vs_onnxruntime": med[e.name] / med[ORT], "vs_litert": med[e.name] / med[LITERT],
                     "file": str(e.model_path), "file_bytes": e.model_path.stat().st_size})
    return rows


def print_table(rows: list[dict], console) -> None:
    table = Table("engine", "runs", "median ms", "p10 ms", "p90 ms", "vs onnxruntime", "vs LiteRT",
                  "file", "MB",
                  title="MobileNetV2 fp32, 1x224x224x3, single-threaded, interleaved",
                  caption="ratios are median / peer median: above 1 is slower than the peer")
    for r in rows:
        table.add_row(r["engine"], str(r["runs"]), f"{r['median_ms']:.2f}",
                      f"{r['p10_ms']:.2f}", f"{r['p90_ms']:.2f}", f"{r['vs_onnxruntime']:.2f}x",
                      f"{r['vs_litert']:.2f}x", Path(r["file"]).name, f"{r['file_bytes'] / 1e6:.2f}")
    console.print(table)
    console.print("versions: " + ", ".join(f"{r['engine']} {r['version']}" for r in rows))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", help="folder for model.tflite, model.onnx, model.tem; reused when "
                                     "it already holds peer models of the same seed (default: a "
                                     "temporary folder, removed at the end)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the input (default 0)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the peer models even if present")
    p.add_argument("--iters", type=int, default=300,
                   help="interleaved rounds; onnxruntime and LiteRT run once in each (default 300)")
    p.add_argument("--warmup", type=int, default=20, help="untimed peer runs first (default 20)")
    p.add_argument("--tinyedge-iters", type=int,
                   help="timed tinyedge runs, spread over the rounds (default: as many as fit in "
                        "--time-budget, at least 5, at most --iters)")
    p.add_argument("--tinyedge-warmup", type=int, default=2,
                   help="untimed tinyedge runs first (default 2)")
    p.add_argument("--time-budget", type=float, default=60.0,
                   help="seconds of tinyedge runs when --tinyedge-iters is not given (default 60)")
    p.add_argument("--no-tinyedge", action="store_true",
                   help="time only onnxruntime and LiteRT (e.g. while the runtime is not built)")
    p.add_argument("--json", metavar="PATH", help="also write the results here as JSON")
    args = p.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.tinyedge_warmup < 1:
        p.error("--iters and --tinyedge-warmup must be at least 1, --warmup at least 0")
    if args.tinyedge_iters is not None and not 1 <= args.tinyedge_iters <= args.iters:
        p.error("--tinyedge-iters must be between 1 and --iters")
    return args


def run_benchmark(args, out_dir: Path, console) -> int:
    """Prepare the three models in out_dir, check them, time them, print; the exit status."""
    tflite_path, onnx_path = ensure_peer_models(out_dir, args.seed, args.rebuild, console)
    image_nhwc = np.random.default_rng(args.seed).uniform(
        -1.0, 1.0, (1, mnv2.INPUT_HW, mnv2.INPUT_HW, 3)).astype(np.float32)
    image_nchw = np.ascontiguousarray(image_nhwc.transpose(0, 3, 1, 2))
    engines = [make_ort(onnx_path, image_nchw), make_litert(tflite_path, image_nhwc)]
    if not args.no_tinyedge:
        from tinyedge.errors import TinyEdgeError

        try:
            engines.append(make_tinyedge(onnx_path, out_dir / "model.tem", image_nchw, console))
        except TinyEdgeError as e:
            raise SystemExit(f"tinyedge could not build or load {onnx_path}: {e}\n"
                             "(--no-tinyedge times only onnxruntime and LiteRT)") from None
    console.print(f"CPU: {cpu_name()}; Python {platform.python_version()}")
    agree = check_agreement(engines, console)
    measure(engines, args, console)
    rows = summarize(engines)
    print_table(rows, console)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_name(), "agree": agree, "results": rows},
                                              indent=2) + "\n")
        console.print(f"wrote {args.json}")
    if not agree:
        console.print("[red]outputs disagree with LiteRT: the latencies above are of a wrong model[/]")
    return 0 if agree else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # logs and pipes: rich's 80 columns would cut the table
    if args.out_dir:
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return run_benchmark(args, out_dir, console)
    with tempfile.TemporaryDirectory(prefix="tinyedge_bench_") as tmp:
        return run_benchmark(args, Path(tmp), console)


if __name__ == "__main__":
    sys.exit(main())
