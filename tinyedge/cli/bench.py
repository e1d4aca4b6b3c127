"""`tinyedge bench`: time a .tem file on this machine (latency statistics after warm-up)."""
from __future__ import annotations

import time

import numpy as np
from rich.progress import Progress
from rich.table import Table

from .inputs import read_inputs


def latency_stats(times_s) -> dict:
    """min/median/p90/p99 in milliseconds and runs per second, from per-run seconds."""
    ms = np.asarray(times_s) * 1e3
    return {"min": float(ms.min()), "median": float(np.median(ms)),
            "p90": float(np.percentile(ms, 90)), "p99": float(np.percentile(ms, 99)),
            "per_second": float(1e3 / np.median(ms))}


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="time a .tem file on this machine",
                       description="Run a .tem file repeatedly and print latency statistics.")
    p.add_argument("model", help="the .tem file")
    p.add_argument("-i", "--input", action="append", metavar="[NAME=]FILE",
                   help="input arrays as for `tinyedge run` (default: random)")
    p.add_argument("--iters", type=int, default=50, help="timed runs (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    p.set_defaults(func=run)


def run(args, console) -> int:
    from ..runtime import load

    model = load(args.model)
    feeds = read_inputs(args.input, model.inputs)
    times = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmark", total=args.warmup + args.iters)
        for i in range(args.warmup + args.iters):
            t0 = time.perf_counter()
            model.run(feeds)
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
            progress.advance(task)
    s = latency_stats(times)
    t = Table("min ms", "median ms", "p90 ms", "p99 ms", "runs/s", title=f"{args.model}, {args.iters} runs")
    t.add_row(*(f"{s[k]:.3f}" for k in ("min", "median", "p90", "p99")), f"{s['per_second']:.1f}")
    console.print(t)
    return 0
