"""Parsing what tinyedge-run prints (tinyedge.device.profile) and the reports made from it
(tinyedge.device.report): the host runner is run for real on a small model whose node names need
escaping; the summary is checked against figures computed here from the records; the Chrome trace
against a strict checker of the Trace Event Format (tests/chrome_trace_check.py).
"""
from __future__ import annotations

import io
import json
import math
import subprocess

import numpy as np
import pytest
from rich.console import Console

from chrome_trace_check import assert_valid_trace, check_trace, load_trace
from cross_helpers import cross_cache, runner
from graph_zoo import zoo
from tinyedge.device.errors import DeployError
from tinyedge.device.profile import Progress, RunnerOutput
from tinyedge.device.report import build_summary, chrome_trace, render_summary, write_json
from tinyedge.format import serialize
from tinyedge.plan import plan_memory

ITERS, WARMUP = 3, 1
# Node names a runner must escape (tab, newline, backslash) and one it passes through (UTF-8).
NAMES = ["conv\t1", "dw\\x41", "pool\nnext", "gap\x7f", "flatten", "fc é", "prob"]
META = {"board": "host", "host": "local", "model": "tiny.tem", "iters": ITERS, "warmup": WARMUP,
        "threads": 1, "started_at": "2026-01-01T00:00:00Z"}
FACTS = {"uname_m": "x86_64", "cores": 2, "throttled": "0x50005",
         "throttled_flags": ["under-voltage", "throttled"], "temp_c": 41.5}


@pytest.fixture(scope="module")
def graph():
    g = zoo()["tiny_cnn"]
    assert len(g.nodes) == len(NAMES)
    for node, name in zip(g.nodes, NAMES):
        node.name = name
    return g


@pytest.fixture(scope="module")
def run_lines(request, graph, tmp_path_factory) -> tuple[list, list]:
    """stdout and stderr lines of the host runner on the model, with the trace on stdout."""
    _, exe = runner("host", None, cross_cache(request.config))
    model = tmp_path_factory.mktemp("report") / "tiny.tem"
    model.write_bytes(serialize(graph, plan_memory(graph), {"name": "tiny"}))
    done = subprocess.run([str(exe), str(model), "--trace", "-", "--iters", str(ITERS),
                           "--warmup", str(WARMUP)], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return (done.stdout.decode("utf-8").split("\n")[:-1], done.stderr.decode("utf-8").split("\n")[:-1])


@pytest.fixture(scope="module")
def parsed(run_lines) -> RunnerOutput:
    out = RunnerOutput()
    for line in run_lines[0]:
        out.feed_stdout(line)
    for line in run_lines[1]:
        out.feed_stderr(line)
    out.check_complete()
    return out


def test_real_runner_output_is_parsed(run_lines, graph):
    out = RunnerOutput()
    finished = []
    for i, line in enumerate(run_lines[0]):
        got = out.feed_stdout(line)
        if got is not None:
            finished.append((i, got))
    n_ops = len(graph.nodes)
    # a run's records come back at its last op line, one list per timed run
    assert [len(recs) for _, recs in finished] == [n_ops] * ITERS
    for i, recs in finished:
        assert run_lines[0][i].startswith(f"{recs[0].iter}\t{n_ops - 1}\t")
        assert [r.op for r in recs] == list(range(n_ops))
    assert [r.name for r in out.records] == NAMES * ITERS, "escapes undone"
    assert [r.ir_op for r in out.records[:n_ops]] == [n.op for n in graph.nodes]
    assert all(r.kernel.startswith("te_") and r.ns >= 0 for r in out.records)
    assert out.summary["runs"] == ITERS and out.summary["warmup"] == WARMUP
    assert out.summary["ops"] == n_ops == out.model["ops"]
    assert isinstance(out.summary["arena_bytes"], int) and isinstance(out.summary["median_ms"], float)
    assert out.summary["min_ms"] <= out.summary["median_ms"] <= out.summary["max_ms"]
    assert out.model_line.startswith("model ")
    progress = [p for p in map(out.feed_stderr, run_lines[1]) if p is not None]
    assert progress[-1] == Progress("iter", ITERS, ITERS)
    assert Progress("warmup", WARMUP, WARMUP) in progress
    assert any("not given: random" in n for n in out.notes) and out.errors == []


LINE = object()  # stands for "the message quotes the whole line"
GOOD = [
    "model m.tem: 2 ops, 1 inputs, 1 outputs, arena 64 bytes, loaded in 0.1 ms",
    "#tinyedge-trace v1\titer\top\tname\tir_op\tkernel\tout_shape\tout_dtype\tmacs\tbytes\tns",
    "0\t0\ta\tconv2d\tte_conv2d_f32__ref\t1x2\tfloat32\t10\t20\t30",
    "0\t1\tb\\x09c\\x5c\tsoftmax\tte_softmax_f32__ref\t1x2\tfloat32\t0\t8\t5",
    "tinyedge-summary v1 runs=1 warmup=0 threads=1 ops=2 min_ms=0.1 median_ms=0.1 p90_ms=0.1 "
    "p99_ms=0.1 max_ms=0.1 mean_ms=0.1 per_second=10000.0 load_ms=0.1 arena_bytes=64 "
    "peak_rss_kb=-1 extra_key=abc",
]


def feed(lines) -> RunnerOutput:
    out = RunnerOutput()
    for line in lines:
        out.feed_stdout(line)
    return out


def test_escapes_and_appended_summary_keys():
    out = feed(GOOD)
    assert out.records[1].name == "b\tc\\"
    assert out.summary["extra_key"] == "abc" and out.summary["peak_rss_kb"] == -1
    out.check_complete()


@pytest.mark.parametrize("index, line, words", [
    (2, "0\t0\ta\tconv2d\tte_conv2d_f32__ref\t1x2\tfloat32\t10\t20", ["9 fields where 10", LINE]),
    (2, "0\t0\ta\tconv2d\tte_conv2d_f32__ref\t1x2\tfloat32\t10\t20\t3.5", ["ns is '3.5'", LINE]),
    (2, "0\t0\ta\\q\tconv2d\tte_conv2d_f32__ref\t1x2\tfloat32\t10\t20\t30", ["backslash", LINE]),
    (2, "0\t1\ta\tconv2d\tte_conv2d_f32__ref\t1x2\tfloat32\t10\t20\t30", ["expected run 0 op 0", LINE]),
    (3, "1\t0\tb\tsoftmax\tte_softmax_f32__ref\t1x2\tfloat32\t0\t8\t5", ["expected run 0 op 1", LINE]),
    (1, "#tinyedge-trace v2\titer\top\tname\tir_op\tkernel\tout_shape\tout_dtype\tmacs\tbytes\tns",
     ["v2", "rebuild the runner"]),
    (1, "#tinyedge-trace v1\titer\top\tname", ["header columns"]),
    (1, "# a comment", ["before the '#tinyedge-trace v1' header"]),
    (0, "model m.tem: 2 ops", ["malformed model line", LINE]),
    (4, GOOD[4].replace("v1", "v2"), ["summary version 'v2'"]),
    (4, GOOD[4].replace("median_ms=0.1", "median_ms=fast"), ["median_ms is 'fast'", LINE]),
    (4, GOOD[4].replace(" arena_bytes=64", ""), ["no arena_bytes="]),
    (4, GOOD[4].replace("threads=1", "threads"), ["'threads' is not key=value"]),
    (4, GOOD[4].replace("min_ms=0.1", "min_ms=nan"), ["NaN"]),
])
def test_malformed_output_raises_naming_the_line(index, line, words):
    lines = list(GOOD)
    lines[index] = line
    with pytest.raises(DeployError) as e:
        feed(lines).check_complete()
    for w in words:
        assert (repr(line) if w is LINE else w) in str(e.value), str(e.value)


def test_a_run_cut_short_is_reported():
    with pytest.raises(DeployError, match="ended after 1 of 2 ops"):
        feed(GOOD[:3] + GOOD[4:])
    with pytest.raises(DeployError, match="no tinyedge-summary"):
        feed(GOOD[:4]).check_complete()
    with pytest.raises(DeployError, match="before the 'model ...' line"):
        feed(GOOD[1:])


# --- the summary -----------------------------------------------------------------------------------

def test_summary_matches_the_records(parsed, graph):
    s = build_summary(parsed, FACTS, META)
    json.dumps(s, allow_nan=False)
    n_ops = len(graph.nodes)
    ns = np.array([r.ns for r in parsed.records]).reshape(ITERS, n_ops)
    medians = np.median(ns, axis=0)
    assert [o["name"] for o in s["ops"]] == NAMES
    assert [o["median_ns"] for o in s["ops"]] == pytest.approx(medians.tolist())
    assert sum(o["share"] for o in s["ops"]) == pytest.approx(1.0)
    for o, m in zip(s["ops"], medians):
        assert o["share"] == pytest.approx(m / medians.sum())
        assert o["gmacs_per_s"] == (pytest.approx(o["macs"] / m) if o["macs"] else 0.0)
    top = [o["median_ns"] for o in s["top_ops"]]
    assert top == sorted(top, reverse=True) and len(top) == n_ops
    assert s["latency_ms"]["median"] == parsed.summary["median_ms"]
    assert s["throughput_per_s"] == parsed.summary["per_second"]
    assert (s["iters"], s["warmup"], s["device"], s["meta"]) == (ITERS, WARMUP, FACTS, META)


def synthetic(n_ops: int, iters: int, seed: int = 0) -> RunnerOutput:
    """Runner output with known timings: op k of run i takes ns[i, k]."""
    rng = np.random.default_rng(seed)
    ns = rng.integers(0, 5000, size=(iters, n_ops))
    lines = [f"model m.tem: {n_ops} ops, 1 inputs, 1 outputs, arena 64 bytes, loaded in 0.1 ms", GOOD[1]]
    lines += [f"{i}\t{k}\top{k}\tconv2d\tte_conv2d_f32__ref\t1x4\tfloat32\t{1000 * k}\t64\t{ns[i, k]}"
              for i in range(iters) for k in range(n_ops)]
    lines.append(GOOD[4].replace("runs=1", f"runs={iters}").replace("ops=2", f"ops={n_ops}"))
    out = feed(lines)
    out.check_complete()
    return out


def test_top_ops_are_the_ten_slowest_slowest_first():
    out = synthetic(n_ops=25, iters=5)
    s = build_summary(out, {}, META)
    medians = {o["op"]: o["median_ns"] for o in s["ops"]}
    want = sorted(medians, key=lambda k: (-medians[k], k))[:10]
    assert [o["op"] for o in s["top_ops"]] == want
    assert s["peak_rss_kb"] is None, "-1 from the runner means unknown"
    assert s["ops"][0]["gmacs_per_s"] == 0.0  # op0 does no MACs


# --- the trace ------------------------------------------------------------------------------------

def x_events(trace) -> list:
    return [e for e in trace["traceEvents"] if e["ph"] == "X"]


@pytest.mark.parametrize("source", ["runner", "synthetic"])
def test_trace_is_valid_and_has_one_event_per_op_per_run(source, parsed, tmp_path):
    out = parsed if source == "runner" else synthetic(n_ops=12, iters=7, seed=1)
    trace = chrome_trace(out, FACTS, META)
    path = tmp_path / "trace.json"
    write_json(path, trace)
    again = load_trace(path)
    assert_valid_trace(again)
    events = x_events(again)
    runs, n_ops = out.summary["runs"], out.summary["ops"]
    assert len(events) == runs * n_ops
    assert sorted((e["args"]["iter"], e["args"]["op"]) for e in events) == \
        [(i, k) for i in range(runs) for k in range(n_ops)]
    for e, rec in zip(events, out.records):
        assert (e["name"], e["cat"], e["args"]["kernel"], e["args"]["macs"], e["args"]["bytes"]) == \
            (rec.name, rec.ir_op, rec.kernel, rec.macs, rec.bytes)
        assert round(e["dur"] * 1000) == rec.ns
    # ops of a run end to end, runs one after another: in integer nanoseconds, nothing overlaps
    spans = [(round(e["ts"] * 1000), round((e["ts"] + e["dur"]) * 1000)) for e in events]
    for (s0, e0), (s1, _) in zip(spans, spans[1:]):
        assert e0 <= s1
    names = {e["name"]: e["args"]["name"] for e in again["traceEvents"] if e["ph"] == "M"}
    assert "host" in names["process_name"] and "thread_name" in names
    assert again["otherData"]["device_throttled_flags"] == "under-voltage, throttled"
    assert again["otherData"]["board"] == "host" and again["displayTimeUnit"] == "ms"


def test_checker_refuses_what_viewers_refuse():
    good = chrome_trace(synthetic(2, 1), FACTS, META)
    assert check_trace(good) == []
    x = next(i for i, e in enumerate(good["traceEvents"]) if e["ph"] == "X")
    breakages = {
        "no dur": lambda t: t["traceEvents"][x].pop("dur"),
        "negative ts": lambda t: t["traceEvents"][x].update(ts=-1),
        "NaN ts": lambda t: t["traceEvents"][x].update(ts=math.nan),
        "string pid": lambda t: t["traceEvents"][x].update(pid="1"),
        "bool tid": lambda t: t["traceEvents"][x].update(tid=True),
        "unknown phase": lambda t: t["traceEvents"][x].update(ph="Z"),
        "metadata without a name": lambda t: t["traceEvents"][0].update(args={}),
        "unknown metadata": lambda t: t["traceEvents"][0].update(name="process_color"),
        "events not a list": lambda t: t.update(traceEvents={}),
        "bad time unit": lambda t: t.update(displayTimeUnit="s"),
        "unclosed B": lambda t: t["traceEvents"].append({"name": "b", "ph": "B", "ts": 0,
                                                          "pid": 1, "tid": 1}),
    }
    for case, brake in breakages.items():
        t = json.loads(json.dumps(good))
        brake(t)
        assert check_trace(t), case


def test_write_json_replaces_atomically(tmp_path):
    path = tmp_path / "new" / "summary.json"
    write_json(path, {"a": 1})
    write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    with pytest.raises(ValueError):
        write_json(path, {"a": math.nan})
    assert json.loads(path.read_text()) == {"a": 2}, "a failed write leaves the old file"
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.json"], "no temp file left"


def test_render_summary_prints_the_table(parsed):
    s = build_summary(parsed, {**FACTS, "cpu_model": "Cortex-A72"}, META)
    buf = io.StringIO()
    render_summary(Console(file=buf, width=160, highlight=False), s)
    text = buf.getvalue()
    for words in ("latency: min", "median", "p90", "p99", "runs/s", "share %", "GMAC/s",
                  "te_conv2d", "arena", "peak RSS", "Cortex-A72", "throttled=0x50005"):
        assert words in text, words
    assert "flatten" in text and "fc é" in text
