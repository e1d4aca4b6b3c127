"""What the benchmark scripts share: single-threaded engines, interleaved timing, the latency table.

An Engine wraps one runtime with one model and one prepared input. `measure` warms every engine up,
then times rounds in which each engine runs once, in an order that rotates from round to round, so
that drift of the machine (other processes, frequency) touches all of them alike. Engines marked
slow (tinyedge's portable reference kernels) run in only as many rounds as fit their time budget,
spread evenly over all rounds. Each timed call copies the input in, runs and copies the output out.

Single-threaded means: onnxruntime with intra_op_num_threads=1, inter_op_num_threads=1, sequential
execution; the LiteRT Interpreter with num_threads=1 and its default XNNPACK delegate; tinyedge with
threads=1.
"""
from __future__ import annotations

import platform
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

MIN_SLOW_ITERS = 5


@dataclass
class Engine:
    """One runtime under test. `infer(x)` runs one input in the engine's own layout and returns the
    first output; `run()` runs the prepared input `x` (the timed call). Slow engines are timed in
    fewer rounds (see `measure`)."""

    name: str
    version: str
    model_path: Path
    infer: Callable[[np.ndarray], np.ndarray]
    x: np.ndarray
    slow: bool = False
    times_ms: list = field(default_factory=list)

    def run(self) -> np.ndarray:
        return self.infer(self.x)


def ort_session(path: Path):
    """onnxruntime CPU session restricted to one thread, all graph optimizations on."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def make_ort(name: str, path: Path, x: np.ndarray) -> Engine:
    """onnxruntime engine (one thread) for the ONNX model at path, fed x."""
    import onnxruntime as ort

    session = ort_session(path)
    input_name = session.get_inputs()[0].name
    return Engine(name, ort.__version__, path,
                  lambda image: session.run(None, {input_name: image})[0], x)


def make_litert(name: str, path: Path, x: np.ndarray) -> Engine:
    """LiteRT Interpreter with one thread and its default delegate (XNNPACK on this CPU), fed x."""
    from importlib.metadata import version

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def infer(image: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(input_index, image)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)

    return Engine(name, version("ai-edge-litert"), path, infer, x)


def load_tinyedge(name: str, tem_path: Path, x: np.ndarray, console):
    """Load a .tem file with the C runtime (one thread); returns (slow Engine, loaded model)."""
    import tinyedge

    model = tinyedge.load(tem_path, threads=1)
    kernels = Counter(op.kernel for op in model.ops)
    console.print(f"{name}: {len(model.ops)} ops; kernels: "
                  + ", ".join(f"{kernel} x{n}" for kernel, n in kernels.most_common()))
    input_name = model.inputs[0].name
    engine = Engine(name, tinyedge.__version__, tem_path,
                    lambda image: model.run({input_name: image})[0], x, slow=True)
    return engine, model


def run_child(cmd: list[str], what: str) -> None:
    """Run a model builder in a child process (TensorFlow never enters the timed process)."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        # TensorFlow logs a lot; the cause of a failure is at the end.
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise SystemExit(f"{what} failed ({' '.join(cmd)}):\n{tail}")


def add_timing_args(p, peers: str) -> None:
    """The timing flags every benchmark takes; `peers` names the engines timed in every round."""
    p.add_argument("--iters", type=int, default=300,
                   help=f"interleaved rounds; {peers} run once in each (default 300)")
    p.add_argument("--warmup", type=int, default=20, help="untimed peer runs first (default 20)")
    p.add_argument("--tinyedge-iters", type=int,
                   help="timed tinyedge runs, spread over the rounds (default: as many as fit in "
                        "--time-budget, at least 5, at most --iters)")
    p.add_argument("--tinyedge-warmup", type=int, default=2,
                   help="untimed tinyedge runs first (default 2)")
    p.add_argument("--time-budget", type=float, default=60.0,
                   help="seconds of tinyedge runs when --tinyedge-iters is not given (default 60)")


def check_timing_args(p, args) -> None:
    """Refuse timing flags that cannot make a measurement."""
    if args.iters < 1 or args.warmup < 0 or args.tinyedge_warmup < 1:
        p.error("--iters and --tinyedge-warmup must be at least 1, --warmup at least 0")
    if args.tinyedge_iters is not None and not 1 <= args.tinyedge_iters <= args.iters:
        p.error("--tinyedge-iters must be between 1 and --iters")


def timed(engine: Engine) -> None:
    """Run engine once and record the wall time in milliseconds."""
    t0 = time.perf_counter_ns()
    engine.run()
    engine.times_ms.append((time.perf_counter_ns() - t0) / 1e6)


def spread_rounds(iters: int, runs: int) -> set[int]:
    """The rounds (of iters) in which a slow engine runs: `runs` of them, evenly spread."""
    return {(k * iters) // runs for k in range(runs)}


def slow_runs(engine: Engine, args, console) -> int:
    """Warm a slow engine up and decide how many timed runs it gets."""
    warm = []
    for _ in range(args.tinyedge_warmup):
        t0 = time.perf_counter()
        engine.run()
        warm.append(time.perf_counter() - t0)
    runs = args.tinyedge_iters
    if runs is None:
        # Fit the engine's share of the run into the time budget (reference kernels may be far
        # slower than the peers), but never fewer runs than make a median.
        runs = int(args.time_budget / max(float(np.median(warm)), 1e-9))
        runs = max(MIN_SLOW_ITERS, min(args.iters, runs))
    console.print(f"{engine.name} warm-up: {1e3 * float(np.median(warm)):.1f} ms per run; "
                  f"timing it {runs} times")
    return runs


def measure(engines: list[Engine], args, console) -> None:
    """Warm up, then time interleaved rotating rounds; fills each engine's times_ms."""
    for e in engines:
        if not e.slow:
            for _ in range(args.warmup):
                e.run()
    rounds = {e.name: spread_rounds(args.iters, slow_runs(e, args, console))
              for e in engines if e.slow}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("interleaved rounds", total=args.iters)
        for i in range(args.iters):
            order = engines[i % len(engines):] + engines[:i % len(engines)]
            for e in order:
                if not e.slow or i in rounds[e.name]:
                    timed(e)
            progress.advance(task)


def ratio_key(baseline: str) -> str:
    """The JSON key of the ratio to a baseline engine: 'LiteRT INT8' -> 'vs_litert_int8'."""
    return "vs_" + baseline.lower().replace(" ", "_")


def summarize(engines: list[Engine], baselines: list[str], macs: Optional[int] = None) -> list[dict]:
    """Latency statistics (ms), ratios of medians to each baseline engine and, when the model's
    multiply-accumulates are known, the achieved GMAC/s."""
    med = {e.name: float(np.median(e.times_ms)) for e in engines}
    rows = []
    for e in engines:
        t = np.asarray(e.times_ms)
        row = {"engine": e.name, "version": e.version, "runs": int(t.size),
               "median_ms": med[e.name], "p10_ms": float(np.percentile(t, 10)),
               "p90_ms": float(np.percentile(t, 90))}
        if macs:
            row["gmac_per_s"] = macs / (med[e.name] * 1e6)
        row.update({ratio_key(b): med[e.name] / med[b] for b in baselines})
        row.update({"file": str(e.model_path), "file_bytes": e.model_path.stat().st_size})
        rows.append(row)
    return rows


def print_table(rows: list[dict], baselines: list[str], title: str, console,
                with_files: bool = True) -> None:
    """The latency table of `summarize`'s rows: a GMAC/s column when they have one, the model file
    names unless with_files is False (narrow tables; the sizes are always shown)."""
    with_macs = "gmac_per_s" in rows[0]
    headers = ["engine", "runs", "median ms", "p10 ms", "p90 ms"] + (["GMAC/s"] if with_macs else [])
    headers += [f"vs {b}" for b in baselines] + (["file"] if with_files else []) + ["MB"]
    table = Table(*headers, title=title,
                  caption="ratios are median / peer median: above 1 is slower than the peer")
    for r in rows:
        cells = [r["engine"], str(r["runs"]), f"{r['median_ms']:.2f}", f"{r['p10_ms']:.2f}",
                 f"{r['p90_ms']:.2f}"] + ([f"{r['gmac_per_s']:.1f}"] if with_macs else [])
        cells += [f"{r[ratio_key(b)]:.2f}x" for b in baselines]
        cells += ([Path(r["file"]).name] if with_files else []) + [f"{r['file_bytes'] / 1e6:.2f}"]
        table.add_row(*cells)
    console.print(table)
    console.print("versions: " + ", ".join(f"{r['engine']} {r['version']}" for r in rows))


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """'CPU: <model name>; Python <version>', printed before the measurements."""
    return f"CPU: {cpu_name()}; Python {platform.python_version()}"


def make_console() -> Console:
    """A rich console; wide enough for the tables when writing to a log or a pipe."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # logs and pipes: rich's 80 columns would cut the table
    return console
