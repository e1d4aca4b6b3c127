"""What a deploy hands back: the summary (a JSON-able dict and its rendering for people) and the trace
in Chrome's Trace Event Format (JSON object form; opens in Perfetto and chrome://tracing).

Times: the runner measures each op in nanoseconds. The trace lays the ops of a run end to end and the
runs one after another, so the timeline shows where the time goes, not the wall-clock gaps between
ops (the profiler's own cost and the copies of inputs are not in it). Per-op figures in the summary
are medians over the timed runs; an op's share is its median over the sum of the op medians.
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Union

from .profile import RunnerOutput

TOP_N = 10
LATENCY_KEYS = ("min", "median", "p90", "p99", "max", "mean")
PID, TID = 1, 1  # one process (the runner on the board), one timeline (ops run one at a time)


def _op_table(out: RunnerOutput) -> list[dict]:
    """Per op, in op order: what it is and its median time over the timed runs."""
    by_op: dict[int, list] = {}
    for rec in out.records:
        by_op.setdefault(rec.op, []).append(rec)
    ops = []
    for index in sorted(by_op):
        recs = by_op[index]
        first = recs[0]
        median_ns = float(statistics.median(r.ns for r in recs))
        # MACs per nanosecond are GMAC/s; an op too quick to measure has no rate.
        rate = (first.macs / median_ns if median_ns > 0 else None) if first.macs else 0.0
        ops.append({
            "op": index, "name": first.name, "ir_op": first.ir_op, "kernel": first.kernel,
            "out_shape": first.out_shape, "out_dtype": first.out_dtype, "macs": first.macs,
            "bytes": first.bytes, "median_ns": median_ns, "gmacs_per_s": rate,
        })
    total = sum(o["median_ns"] for o in ops)
    for o in ops:
        o["share"] = o["median_ns"] / total if total > 0 else 0.0
    return ops


def build_summary(out: RunnerOutput, facts: dict, meta: dict) -> dict:
    """The JSON-able summary of one run: meta, device facts, latency, throughput, memory and the
    per-op table (`ops` in op order, `top_ops` the ten slowest by median, slowest first)."""
    s = out.summary
    ops = _op_table(out)
    top = sorted(ops, key=lambda o: (-o["median_ns"], o["op"]))[:TOP_N]
    rss = s.get("peak_rss_kb")
    return {
        "meta": dict(meta),
        "device": dict(facts),
        "latency_ms": {k: s.get(f"{k}_ms") for k in LATENCY_KEYS},
        "throughput_per_s": s.get("per_second"),
        "arena_bytes": s.get("arena_bytes"),
        "peak_rss_kb": rss if rss is not None and rss >= 0 else None,  # -1: the board did not say
        "load_ms": s.get("load_ms"),
        "iters": s.get("runs"),
        "warmup": s.get("warmup"),
        "threads": s.get("threads"),
        "ops": ops,
        "top_ops": [dict(o) for o in top],
    }


def _flat(value):
    """otherData values as viewers show them: scalars, lists joined."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def chrome_trace(out: RunnerOutput, facts: dict, meta: dict) -> dict:
    """The run as a Trace Event Format object: one complete ("X") event per op per timed run (ts and
    dur in microseconds, ops end to end, runs one after another), "M" events naming the process and
    the thread, and the device facts and meta in otherData."""
    board, host = meta.get("board", "board"), meta.get("host", "local")
    threads = out.summary.get("threads", meta.get("threads"))
    events = [
        {"name": "process_name", "ph": "M", "pid": PID, "tid": TID,
         "args": {"name": f"tinyedge-run on {board} ({host})"}},
        {"name": "thread_name", "ph": "M", "pid": PID, "tid": TID,
         "args": {"name": f"ops (threads={threads})" if threads is not None else "ops"}},
    ]
    clock_ns = 0  # integer nanoseconds, so that consecutive events meet exactly
    for rec in out.records:
        events.append({
            "name": rec.name, "cat": rec.ir_op, "ph": "X", "ts": clock_ns / 1000.0,
            "dur": rec.ns / 1000.0, "pid": PID, "tid": TID,
            "args": {"kernel": rec.kernel, "out_shape": rec.out_shape, "out_dtype": rec.out_dtype,
                     "macs": rec.macs, "bytes": rec.bytes, "iter": rec.iter, "op": rec.op},
        })
        clock_ns += rec.ns
    other = {k: _flat(v) for k, v in meta.items()}
    other.update({f"device_{k}": _flat(v) for k, v in facts.items()})
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": other}


def write_json(path: Union[str, Path], obj) -> None:
    """Write obj as JSON (strict: no NaN) to path atomically: a temp file in the same folder, renamed
    over the target once complete, so a reader never sees half a file. Parent folders are created."""
    path = Path(path)
    text = json.dumps(obj, indent=1, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _time(ms) -> str:
    """A latency in the unit that reads best."""
    if ms is None:
        return "?"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 1:
        return f"{ms:.2f} ms"
    if ms >= 0.001:
        return f"{ms * 1000:.1f} us"
    return f"{ms * 1e6:.0f} ns"


def _device_line(d: dict) -> str:
    parts = [d.get("board_model"), d.get("cpu_model")]
    if "cores" in d:
        parts.append(f"{d['cores']} cores")
    if "cpu_max_mhz" in d:
        parts.append(f"max {d['cpu_max_mhz']:.0f} MHz")
    if "governor" in d:
        parts.append(f"governor {d['governor']}")
    if "temp_c" in d:
        parts.append(f"{d['temp_c']:.1f} °C")
    if "mem_total_kb" in d:
        parts.append(f"{d['mem_total_kb'] / 1048576:.1f} GiB RAM")
    if "throttled" in d:
        flags = ", ".join(d.get("throttled_flags") or []) or "none"
        parts.append(f"throttled={d['throttled']} ({flags})")
    parts += [d.get("os"), f"kernel {d['kernel']}" if "kernel" in d else None]
    return "; ".join(p for p in parts if p)


def render_summary(console, summary: dict) -> None:
    """Print the summary for people: latency, throughput, the ten slowest ops, memory, device."""
    from rich.markup import escape
    from rich.table import Table

    from ..cli.fmt import human_bytes

    lat = summary["latency_ms"]
    meta = summary.get("meta", {})
    where = " on ".join(str(x) for x in (meta.get("board"), meta.get("host")) if x)
    console.print(f"[bold]{escape(where or 'run')}[/]: {summary.get('iters')} timed runs after "
                  f"{summary.get('warmup')} warm-up, threads={summary.get('threads')}")
    console.print("latency: " + ", ".join(f"{k} {_time(lat.get(k))}" for k in LATENCY_KEYS[:5])
                  + f"; mean {_time(lat.get('mean'))}", soft_wrap=True)
    if summary.get("throughput_per_s") is not None:
        console.print(f"throughput: {summary['throughput_per_s']:.1f} runs/s")
    if summary["top_ops"]:
        table = Table(title=f"top {len(summary['top_ops'])} ops by median time", title_justify="left")
        # The kernel name says which code ran (and its op kind): it is never cut; long op names fold.
        kernel_width = max(len(o["kernel"]) for o in summary["top_ops"])
        table.add_column("op", overflow="fold")
        table.add_column("kernel", no_wrap=True, min_width=kernel_width)
        for col in ("median", "share %", "GMAC/s"):
            table.add_column(col, justify="right", no_wrap=True)
        for o in summary["top_ops"]:
            rate = o["gmacs_per_s"]
            table.add_row(escape(o["name"]), escape(o["kernel"]),
                          _time(o["median_ns"] / 1e6), f"{100 * o['share']:.1f}",
                          "-" if not rate else f"{rate:.2f}")
        console.print(table)
    mem = []
    if summary.get("arena_bytes") is not None:
        mem.append(f"arena {human_bytes(summary['arena_bytes'])}")
    if summary.get("peak_rss_kb") is not None:
        mem.append(f"peak RSS {human_bytes(summary['peak_rss_kb'] * 1024)}")
    if summary.get("load_ms") is not None:
        mem.append(f"loaded in {_time(summary['load_ms'])}")
    if mem:
        console.print("memory: " + ", ".join(mem))
    device = _device_line(summary.get("device", {}))
    if device:
        console.print(f"device: {escape(device)}", soft_wrap=True)


__all__ = ["build_summary", "chrome_trace", "write_json", "render_summary"]
