"""tinyedge-run (runtime_c/tools/tinyedge_run.c) built for the host with gcc and run as a program.

Outputs it writes (.npy) are compared byte for byte with `tinyedge.load(...).run` on the same inputs;
the trace is parsed back by the rules of docs/trace.md and checked against the IR graph (shapes,
bytes, MACs from tinyedge.ir.cost) and the loaded model's kernels; random inputs are regenerated in
Python from the documented splitmix64 recipe. Every error case (command line, model file, input
files, hostile .npy files) runs under AddressSanitizer and UndefinedBehaviorSanitizer and must give
one `tinyedge-run: ...` line and the documented exit status.
"""
from __future__ import annotations

import io
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from graph_zoo import zoo
import tinyedge
from tinyedge.cross.targets import HOST_ISA_FLAGS, ISAS
from tinyedge.errors import RuntimeLoadError
from tinyedge.format import write_tem
from tinyedge.ir import Graph, QuantParams
from tinyedge.ir.cost import macs as ir_macs
from tinyedge.plan import plan_memory

ROOT = Path(__file__).resolve().parent.parent
RUNNER_SOURCES = [ROOT / "runtime_c" / "tools" / "tinyedge_run.c",
                  *sorted((ROOT / "runtime_c" / "tools" / "run").glob("*.c"))]
BASE_FLAGS = ["-std=c99", "-ffp-contract=off", "-Wall", "-Wextra",
              "-I", str(ROOT / "runtime_c" / "include"), "-I", str(ROOT / "runtime_c" / "src")]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
TRACE_HEADER = ("#tinyedge-trace v1\titer\top\tname\tir_op\tkernel\tout_shape\tout_dtype\tmacs"
                "\tbytes\tns")
SUMMARY_KEYS = ["runs", "warmup", "threads", "ops", "min_ms", "median_ms", "p90_ms", "p99_ms",
                "max_ms", "mean_ms", "per_second", "load_ms", "arena_bytes", "peak_rss_kb"]
STDERR_LINE = re.compile(r"^((warmup|iter) \d+/\d+|note: .*)$")


# ---- building and running ---------------------------------------------------------------------

def _compile(gcc: str, flags: list[str], exe: Path) -> str:
    sources = sorted(str(p) for p in (ROOT / "runtime_c" / "src").rglob("*.c"))
    done = subprocess.run([gcc, *flags, *BASE_FLAGS, *sources, *map(str, RUNNER_SOURCES), "-lm",
                           "-pthread", "-o", str(exe)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.fixture(scope="session")
def runner_build(tmp_path_factory) -> tuple[Path, str]:
    """The runner built as the brief says (gcc -std=c99 -O2 -ffp-contract=off), and gcc's stderr."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path_factory.mktemp("runner") / "tinyedge-run"
    return exe, _compile(gcc, ["-O2"], exe)


@pytest.fixture(scope="session")
def runner(runner_build) -> Path:
    return runner_build[0]


@pytest.fixture(scope="session")
def runner_asan(tmp_path_factory) -> Path:
    """The runner built with ASan + UBSan (any finding aborts), or a skip without their runtimes."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("runner_asan")
    probe = out / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    if subprocess.run([gcc, *SANITIZE, str(probe), "-o", str(out / "probe")],
                      capture_output=True).returncode != 0:
        pytest.skip("gcc cannot link with -fsanitize=address,undefined (no ASan/UBSan runtime)")
    exe = out / "tinyedge-run"
    _compile(gcc, SANITIZE, exe)
    return exe


def run(exe: Path, *args) -> subprocess.CompletedProcess:
    """Run exe with args; no sanitizer report is allowed, whatever the exit status."""
    done = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert "Sanitizer" not in done.stderr and "runtime error" not in done.stderr, done.stderr
    return done


def run_ok(exe: Path, *args) -> subprocess.CompletedProcess:
    """Run exe expecting success, and stderr made only of the documented progress and notes."""
    done = run(exe, *args)
    assert done.returncode == 0, done.stderr
    bad = [line for line in done.stderr.splitlines() if not STDERR_LINE.match(line)]
    assert not bad, f"stderr lines outside the documented forms: {bad}"
    return done


# ---- models -----------------------------------------------------------------------------------

def write(graph: Graph, path: Path) -> Path:
    write_tem(graph, plan_memory(graph), path, {"name": path.stem})
    return path


def odd_names_graph() -> Graph:
    """Two inputs (float32 a, int8 b) and three outputs whose names need sanitizing and collide
    once sanitized; a node name with a tab and a backslash for the trace's escapes."""
    g = Graph()
    a = g.add_input("a", (2, 3, 4))
    b = g.add_input("b", (1, 4), dtype="int8")
    g.tensors[b].quant = QuantParams(scale=np.array([0.25], np.float32), zero_point=np.array([-3]))
    (bf,) = g.add_node("dequantize", [b], name="b\tfloat\\", dtype="float32")
    (d,) = g.add_node("sub", [a, bf], name="diff")
    (y,) = g.add_node("tanh", [d], name="y", outputs=["out/put:0"])
    two = g.add_const("two", np.full((1,), 2.0, np.float32))
    (z,) = g.add_node("mul", [a, two], name="z", outputs=["out:put/0"])
    (w,) = g.add_node("clip", [d], {"min": -0.5, "max": 0.5}, name="w", outputs=[".hidden"])
    g.outputs = [y, z, w]
    g.validate()
    return g


ODD_FILES = ["out_put_0", "out_put_0_1", "_hidden"]  # odd_names_graph's output files, by hand


@pytest.fixture(scope="module")
def zoo_files(tmp_path_factory) -> dict[str, tuple[Graph, Path]]:
    out = tmp_path_factory.mktemp("zoo")
    return {name: (g, write(g, out / f"{name}.tem")) for name, g in zoo().items()}


@pytest.fixture(scope="module")
def example_files(tmp_path_factory) -> dict[str, Path]:
    """The example CNN of examples/digits (untrained weights: the runner's job is to compute what
    the runtime computes), built float and INT8 with tinyedge.build."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "examples" / "digits"))
    import train as digits

    out = tmp_path_factory.mktemp("example")
    torch.manual_seed(0)
    with warnings.catch_warnings():  # torch's notes on its legacy ONNX exporter
        warnings.simplefilter("ignore", DeprecationWarning)
        digits.export_onnx(digits.make_model().eval(), out / "model.onnx")
    x_train = digits.digits_split()[0]
    f32 = tinyedge.build(out / "model.onnx", out / "float.tem")
    i8 = tinyedge.build(out / "model.onnx", out / "int8.tem", quantize="int8",
                        calib={"image": x_train[:32]})
    return {"float": Path(f32.path), "int8": Path(i8.path)}


def random_inputs(model, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, t.shape).astype(t.dtype) if t.dtype == np.float32
            else rng.integers(np.iinfo(t.dtype).min, np.iinfo(t.dtype).max, t.shape,
                              endpoint=True).astype(t.dtype)
            for t in model.inputs]


def save_inputs(model, xs, folder: Path) -> list[str]:
    specs = []
    for info, x in zip(model.inputs, xs):
        path = folder / f"in_{len(specs)}.npy"
        np.save(path, x)
        specs += ["--input", f"{info.name}={path}"]
    return specs


def assert_same_outputs(model, expected: list[np.ndarray], out_dir: Path, files: list[str]) -> None:
    for info, want, name in zip(model.outputs, expected, files):
        got = np.load(out_dir / f"{name}.npy")
        assert got.dtype == want.dtype and got.shape == want.shape, (info.name, got.dtype, got.shape)
        assert got.tobytes() == want.tobytes(), f"output '{info.name}' differs from tinyedge.load().run"


def file_names(model) -> list[str]:
    """The .npy file names (without .npy) of the model's outputs, by the rule of docs/trace.md."""
    names: list[str] = []
    for i, info in enumerate(model.outputs):
        name = re.sub(rb"[^A-Za-z0-9._-]", b"_", info.name.encode())[:100].decode()
        name = "_" + name[1:] if name.startswith(".") else name or f"output{i}"
        names.append(f"{name}_{i}" if name in names else name)
    return names


# ---- parsing what the runner prints -----------------------------------------------------------

def parse_trace(text: str) -> list[dict]:
    """Trace records from text by docs/trace.md: the header line, then lines starting with a digit."""
    lines = text.splitlines()
    header = [line for line in lines if line.startswith("#tinyedge-trace")]
    assert header == [TRACE_HEADER]
    columns = TRACE_HEADER.split("\t")[1:]
    records = []
    for line in lines:
        if line[:1].isdigit():
            fields = line.split("\t")
            assert len(fields) == len(columns), line
            rec = dict(zip(columns, fields))
            for key in ("iter", "op", "macs", "bytes", "ns"):
                rec[key] = int(rec[key])
            for key in ("name", "ir_op", "kernel"):
                rec[key] = re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), rec[key])
            records.append(rec)
    return records


def parse_summary(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("tinyedge-summary ")]
    assert len(lines) == 1, stdout
    words = lines[0].split(" ")
    assert words[:2] == ["tinyedge-summary", "v1"]
    pairs = [w.split("=", 1) for w in words[2:]]
    assert [k for k, _ in pairs] == SUMMARY_KEYS
    return {k: float(v) for k, v in pairs}


# ---- building ---------------------------------------------------------------------------------

def test_runner_sources_compile_without_warnings(runner_build):
    _, stderr = runner_build
    ours = [line for line in stderr.splitlines() if "runtime_c/tools/" in line]
    assert not ours, "\n".join(ours)


def test_help_and_version(runner):
    done = run_ok(runner, "--help")
    assert done.stdout.startswith("usage: tinyedge-run MODEL.tem")
    for option in ("--input", "--output-dir", "--iters", "--warmup", "--threads", "--trace", "--seed"):
        assert option in done.stdout
    assert run_ok(runner, "--version").stdout == \
        f"tinyedge-run {tinyedge.__version__} (trace v1, summary v1)\n"


# ---- outputs equal the Python runtime's -------------------------------------------------------

def test_every_zoo_graph_gives_the_python_runtime_s_bytes(runner, zoo_files, tmp_path):
    for name, (_, path) in zoo_files.items():
        model = tinyedge.load(path)
        xs = random_inputs(model, seed=len(name))
        folder = tmp_path / name
        folder.mkdir()
        specs = save_inputs(model, xs, folder)
        if len(xs) == 1 and len(name) % 2:  # the bare form for half of the one-input graphs
            specs = ["--input", specs[1].split("=", 1)[1]]
        run_ok(runner, path, *specs, "--iters", 2, "--warmup", 1, "--output-dir", folder / "out")
        assert_same_outputs(model, model.run(xs), folder / "out", file_names(model))


@pytest.mark.parametrize("kind", ["float", "int8"])
def test_example_model_gives_the_python_runtime_s_bytes_and_a_full_trace(runner, example_files,
                                                                         kind, tmp_path):
    model = load_as_runner(example_files[kind])
    xs = random_inputs(model)
    iters = 3
    done = run_ok(runner, example_files[kind], *save_inputs(model, xs, tmp_path), "--iters", iters,
                  "--warmup", 2, "--trace", tmp_path / "trace.tsv", "--output-dir", tmp_path / "o")
    assert_same_outputs(model, model.run(xs), tmp_path / "o", ["logits"])
    records = parse_trace((tmp_path / "trace.tsv").read_text())
    assert [(r["iter"], r["op"]) for r in records] == \
        [(i, k) for i in range(iters) for k in range(len(model.ops))]
    assert [(r["name"], r["ir_op"], r["kernel"], r["macs"]) for r in records[:len(model.ops)]] == \
        [(op.name, op.op, op.kernel, op.macs) for op in model.ops]
    summary = parse_summary(done.stdout)
    assert summary["ops"] == len(model.ops) and summary["arena_bytes"] == model.arena_size


# ---- the trace --------------------------------------------------------------------------------

def load_as_runner(path: Path) -> tinyedge.runtime.Model:
    """path loaded with the kernels this runner has. It is built with one flag set, so the ISA
    folders that need their own flags (HOST_ISA_FLAGS: AVX2 on x86-64) are empty in it, while the
    Python extension has them (te_options.isa_mask leaves them out; ISAS is in te_isa order)."""
    from tinyedge._runtime import ffi, lib
    own = HOST_ISA_FLAGS.get(platform.machine(), {})
    options = ffi.new("te_options *")
    options.isa_mask = sum(1 << i for i, isa in enumerate(ISAS) if isa not in own)
    out, err = ffi.new("te_model **"), ffi.new("char[]", 512)
    status = lib.te_model_load_file(os.fsencode(str(path)), options, out, err, 512)
    assert status == lib.TE_OK, ffi.string(err).decode()
    return tinyedge.runtime.Model(out[0], str(path))


def expected_records(graph: Graph, model) -> list[dict]:
    """What the trace must say about each op, from the IR graph (independent of the C runtime)
    and the kernels the loaded model reports."""
    out = []
    for node, op in zip(graph.nodes, model.ops):
        ins = [graph.tensors[n] for n in node.inputs if n]
        outs = [graph.tensors[n] for n in node.outputs]
        shape = "x".join(map(str, outs[0].shape)) or "scalar"
        out.append({"name": node.name, "ir_op": node.op, "kernel": op.kernel, "out_shape": shape,
                    "out_dtype": outs[0].dtype,
                    "macs": ir_macs(node.op, [t.shape for t in ins], [t.shape for t in outs],
                                    node.attrs),
                    "bytes": sum(t.nbytes for t in ins + outs)})
    return out


@pytest.mark.parametrize("name", ["tiny_cnn", "int8_tiny_cnn", "conv_transpose2d_grouped",
                                  "fully_connected_rank3_nobias", "int8_conv2d_depthwise", "matmul"])
def test_trace_records_describe_every_op_of_every_timed_run(runner, zoo_files, name, tmp_path):
    graph, path = zoo_files[name]
    model = load_as_runner(path)
    iters = 4
    run_ok(runner, path, "--iters", iters, "--warmup", 3, "--trace", tmp_path / "t.tsv")
    records = parse_trace((tmp_path / "t.tsv").read_text())
    want = expected_records(graph, model)
    assert len(records) == iters * len(want)
    for i, rec in enumerate(records):
        assert rec["iter"] == i // len(want) and rec["op"] == i % len(want)
        assert rec["ns"] >= 0
        got = {k: rec[k] for k in want[0]}
        assert got == want[i % len(want)], (i, got, want[i % len(want)])


def test_trace_on_stdout_escapes_names_and_sits_with_the_summary(runner, tmp_path):
    graph = odd_names_graph()
    path = write(graph, tmp_path / "odd.tem")
    model = tinyedge.load(path)
    done = run_ok(runner, path, "--trace", "-", "--iters", 2, "--warmup", 0)
    assert "b\\x09float\\x5c\tdequantize" in done.stdout  # the raw line, tab and backslash escaped
    records = parse_trace(done.stdout)
    assert [r["name"] for r in records] == [n.name for n in graph.nodes] * 2
    assert records == sorted(records, key=lambda r: (r["iter"], r["op"]))
    parse_summary(done.stdout)
    assert [r["kernel"] for r in records[:len(model.ops)]] == [op.kernel for op in model.ops]


# ---- summary, progress, live output -----------------------------------------------------------

def test_summary_line_statistics_and_progress_lines(runner, zoo_files):
    _, path = zoo_files["int8_tiny_cnn"]
    done = run_ok(runner, path, "--iters", 250, "--warmup", 7, "--seed", 3)
    s = parse_summary(done.stdout)
    assert (s["runs"], s["warmup"], s["threads"], s["ops"]) == (250, 7, 1, len(tinyedge.load(path).ops))
    assert 0 < s["min_ms"] <= s["median_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["max_ms"]
    assert s["min_ms"] <= s["mean_ms"] <= s["max_ms"]
    assert s["per_second"] == pytest.approx(1e3 / s["median_ms"], rel=1e-3)
    assert s["arena_bytes"] == tinyedge.load(path).arena_size
    assert s["load_ms"] >= 0 and s["peak_rss_kb"] > 0
    human = [line for line in done.stdout.splitlines() if line.startswith("latency over 250 runs")]
    assert len(human) == 1 and "runs/s" in human[0]
    iters = [line for line in done.stderr.splitlines() if line.startswith("iter ")]
    warmups = [line for line in done.stderr.splitlines() if line.startswith("warmup ")]
    assert iters[-1] == "iter 250/250" and len(iters) <= 101
    assert [int(line.split()[1].split("/")[0]) for line in iters] == \
        sorted({*range(3, 251, 3), 250})  # every ceil(250 / 100) = 3 runs, and the last
    assert warmups == [f"warmup {k}/7" for k in range(1, 8)]


STATS_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "stats.h"
int main(int argc, char **argv)
{
    uint64_t ns[64];
    run_stats s;
    int i;
    for (i = 1; i < argc; i++)
        ns[i - 1] = strtoull(argv[i], NULL, 10);
    run_stats_compute(ns, (size_t)(argc - 1), &s);
    printf("%.9f %.9f %.9f %.9f %.9f %.9f %.9f\n", s.min_ms, s.median_ms, s.p90_ms, s.p99_ms,
           s.max_ms, s.mean_ms, s.per_second);
    return 0;
}
"""


def test_latency_statistics_match_numpy(tmp_path):
    """run/stats.c against numpy.percentile (the rule docs/trace.md names) on odd and even counts,
    ties and unsorted input."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "driver.c").write_text(STATS_DRIVER)
    run_dir = ROOT / "runtime_c" / "tools" / "run"
    subprocess.run([gcc, "-std=c99", "-O2", "-Wall", "-Wextra", "-I", str(run_dir),
                    str(tmp_path / "driver.c"), str(run_dir / "stats.c"), "-o",
                    str(tmp_path / "driver")], check=True, timeout=60)
    rng = np.random.default_rng(4)
    for ns in ([1500], [7, 3], [5, 5, 5, 1], list(rng.integers(10**5, 10**8, 37)),
               list(rng.integers(10**3, 10**4, 64))):
        got = [float(v) for v in subprocess.run([str(tmp_path / "driver"), *map(str, ns)],
                                                capture_output=True, text=True,
                                                check=True).stdout.split()]
        ms = np.asarray(ns, dtype=np.float64) / 1e6
        median = np.percentile(ms, 50)
        want = [ms.min(), median, np.percentile(ms, 90), np.percentile(ms, 99), ms.max(), ms.mean(),
                1e3 / median]
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), ns


@pytest.mark.parametrize("trace", [None, "-"])
def test_progress_and_trace_reach_a_pipe_while_the_runner_is_still_running(runner, tmp_path, trace):
    """Line-buffered output: a host reading a pipe (as over SSH) sees each line when it is written.
    One conv of 340M MACs (~70 ms a run here), 25 runs: their lines fill less than a stdio buffer,
    so without line buffering nothing would arrive before the process ends. The second check, a
    moment later, tells "still running" from "exited but not reaped yet"."""
    g = Graph()
    x = g.add_input("x", (1, 96, 96, 64))
    w = g.add_const("w", np.random.default_rng(0).uniform(-1, 1, (64, 3, 3, 64)).astype(np.float32))
    g.outputs = g.add_node("conv2d", [x, w], {"pads": (1, 1, 1, 1)}, name="conv")
    args = [str(runner), str(write(g, tmp_path / "slow.tem")), "--iters", "25", "--warmup", "0"]
    if trace:
        args += ["--trace", trace]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stream, prefix = (proc.stdout, "0\t0\tconv\t") if trace else (proc.stderr, "iter 1/25")
        for line in stream:
            if line.startswith(prefix):
                break
        time.sleep(0.3)
        assert proc.poll() is None, "the first line arrived only when the runner ended"
    finally:
        proc.kill()
        proc.communicate()


# ---- random inputs ----------------------------------------------------------------------------

def splitmix64(state: int, n: int) -> np.ndarray:
    """n outputs of splitmix64 from state, as docs/trace.md defines the random inputs."""
    with np.errstate(over="ignore"):
        z = np.uint64(state) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def documented_random_input(info, index: int, seed: int) -> np.ndarray:
    state = (seed ^ (index * 0xD1B54A32D192ED03)) & (2**64 - 1)
    x = splitmix64(state, int(np.prod(info.shape, dtype=np.int64)))
    if info.dtype == np.float32:
        v = (x >> np.uint64(40)).astype(np.float64) * 2.0**-23 - 1.0
    elif info.dtype == np.int8:
        v = (x >> np.uint64(56)).astype(np.int64) - 128
    else:
        raise AssertionError(f"no recipe in this test for {info.dtype}")
    return v.astype(info.dtype).reshape(info.shape)


@pytest.mark.parametrize("seed", [0, 12345, 2**64 - 1])
def test_random_inputs_follow_the_documented_generator(runner, tmp_path, seed):
    path = write(odd_names_graph(), tmp_path / "odd.tem")
    model = tinyedge.load(path)
    done = run_ok(runner, path, "--seed", seed, "--iters", 1, "--warmup", 0, "--output-dir",
                  tmp_path / "o")
    xs = [documented_random_input(info, i, seed) for i, info in enumerate(model.inputs)]
    assert_same_outputs(model, model.run(xs), tmp_path / "o", ODD_FILES)
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: input 'a' (2, 3, 4) float32 not given: random, uniform in [-1, 1), seed {seed}",
        f"note: input 'b' (1, 4) int8 not given: random, uniform over [-128, 127], seed {seed}"]


def test_a_given_input_keeps_the_other_one_s_random_stream(runner, tmp_path):
    path = write(odd_names_graph(), tmp_path / "odd.tem")
    model = tinyedge.load(path)
    a = np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)
    np.save(tmp_path / "a.npy", a)
    run_ok(runner, path, "--input", f"a={tmp_path / 'a.npy'}", "--seed", 9, "--iters", 1,
           "--output-dir", tmp_path / "o")
    xs = [a, documented_random_input(model.inputs[1], 1, 9)]
    assert_same_outputs(model, model.run(xs), tmp_path / "o", ODD_FILES)


# ---- .npy reading and writing -----------------------------------------------------------------

def npy_bytes(arr: np.ndarray, version=None) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def handmade_npy(header: str, data: bytes, major: int = 1) -> bytes:
    head = header.encode("latin1")
    size = struct.pack("<H", len(head)) if major == 1 else struct.pack("<I", len(head))
    return b"\x93NUMPY" + bytes([major, 0]) + size + head + data


def test_written_outputs_are_the_bytes_np_save_writes(runner, zoo_files, tmp_path):
    for name in ("tiny_cnn", "int8_tiny_cnn", "int8_quantize_dequantize", "matmul", "mean"):
        _, path = zoo_files[name]
        model = tinyedge.load(path)
        run_ok(runner, path, "--iters", 1, "--output-dir", tmp_path / name)
        for file in file_names(model):
            got = (tmp_path / name / f"{file}.npy").read_bytes()
            assert got == npy_bytes(np.load(io.BytesIO(got))), name
            assert not list((tmp_path / name).glob("*.part"))


def test_input_files_in_every_header_spelling_numpy_reads(runner, zoo_files, tmp_path):
    _, path = zoo_files["tiny_cnn"]
    model = tinyedge.load(path)
    (x,) = random_inputs(model, seed=5)
    (want,) = model.run([x])
    shape = ", ".join(f"{d}L" for d in x.shape)
    variants = {
        "v1": npy_bytes(x, (1, 0)),
        "v2": npy_bytes(x, (2, 0)),
        "double_quotes_reordered": handmade_npy(
            '{"shape": %s, "fortran_order": False, "descr": "<f4"}\n' % (x.shape,), x.tobytes()),
        "python2_longs_no_padding": handmade_npy(
            "{'descr':'<f4','fortran_order':False,'shape':(%s)}" % shape, x.tobytes()),
        "v2_handmade": handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }   \n"
                                    % (x.shape,), x.tobytes(), major=2),
    }
    for name, data in variants.items():
        with warnings.catch_warnings():  # numpy notes the Python 2 'L' suffixes
            warnings.simplefilter("ignore", UserWarning)
            assert np.array_equal(np.load(io.BytesIO(data)), x), name  # numpy reads the same array
        (tmp_path / f"{name}.npy").write_bytes(data)
        out = tmp_path / f"out_{name}"
        run_ok(runner, path, "--input", tmp_path / f"{name}.npy", "--iters", 1, "--output-dir", out)
        assert np.load(out / "prob.npy").tobytes() == want.tobytes(), name


def test_output_names_are_made_safe_for_file_systems(runner, tmp_path):
    path = write(odd_names_graph(), tmp_path / "odd.tem")
    done = run_ok(runner, path, "--iters", 1, "--output-dir", tmp_path / "a" / "b")
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == \
        sorted(f"{name}.npy" for name in ODD_FILES)
    assert f"wrote {tmp_path / 'a' / 'b'}/out_put_0_1.npy (output 'out:put/0')" in done.stdout


def test_threads_is_passed_to_the_runtime(runner, zoo_files):
    """--threads N is te_options.threads: the runner succeeds where tinyedge.load(path, threads=N)
    does, and otherwise fails with the runtime's own message."""
    _, path = zoo_files["tiny_cnn"]
    for threads in (0, 1, 2, 4, 64, 65):
        try:
            tinyedge.load(path, threads=threads)
        except RuntimeLoadError as e:
            done = run(runner, path, "--threads", threads, "--iters", 1)
            assert done.returncode == 1
            why = str(e).removeprefix(f"{path}: ")
            assert done.stderr.splitlines()[-1] == f"tinyedge-run: {path}: {e.status}: {why}"
            continue
        summary = parse_summary(run_ok(runner, path, "--threads", threads, "--iters", 1).stdout)
        assert summary["threads"] == threads


# ---- errors, under ASan and UBSan -------------------------------------------------------------

def expect_error(exe: Path, status: int, message: str, *args) -> str:
    """Run exe, expect the exit status and one error line holding message; returns that line."""
    done = run(exe, *args)
    assert done.returncode == status, (args, done.returncode, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("tinyedge-run: ")]
    assert len(errors) == 1, done.stderr
    assert message in errors[0], (message, errors[0])
    others = [line for line in done.stderr.splitlines()
              if not line.startswith("tinyedge-run: ") and not STDERR_LINE.match(line)]
    assert not others, done.stderr
    assert "tinyedge-summary" not in done.stdout
    return errors[0]


USAGE_ERRORS = [
    ([], "no model given"),
    (["--bogus"], "unknown option '--bogus'"),
    (["{m}", "--iters"], "--iters needs a value"),
    (["{m}", "--iters", "0"], "--iters: '0' is not a whole number from 1 to 1000000"),
    (["{m}", "--iters", "1e3"], "--iters: '1e3' is not a whole number"),
    (["{m}", "--iters", "1000001"], "--iters: '1000001' is not a whole number"),
    (["{m}", "--warmup=-1"], "--warmup: '-1' is not a whole number from 0"),
    (["{m}", "--threads", "many"], "--threads: 'many' is not a whole number"),
    (["{m}", "--seed", "18446744073709551616"], "--seed: '18446744073709551616' is not a whole"),
    (["{m}", "{m}"], "one model only"),
    (["{m}", "--output-dir="], "--output-dir: empty path"),
    (["{m}", "--trace="], "--trace: empty path"),
    (["{m}", "--inputx", "a.npy"], "unknown option '--inputx'"),
]


@pytest.mark.parametrize("args,message", USAGE_ERRORS, ids=[" ".join(a) or "none" for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line(runner_asan, zoo_files, args, message):
    _, path = zoo_files["tiny_cnn"]
    expect_error(runner_asan, 2, message, *[a.format(m=path) for a in args])


def test_bad_model_files_exit_1_with_one_line(runner_asan, zoo_files, tmp_path):
    _, path = zoo_files["tiny_cnn"]
    good = path.read_bytes()
    (tmp_path / "garbage.tem").write_bytes(b"not a model at all" * 10)
    (tmp_path / "truncated.tem").write_bytes(good[:len(good) // 2])
    (tmp_path / "empty.tem").write_bytes(b"")
    (tmp_path / "dir.tem").mkdir()
    expect_error(runner_asan, 1, f"{tmp_path / 'missing.tem'}: io error: cannot open",
                 tmp_path / "missing.tem")
    expect_error(runner_asan, 1, f"{tmp_path / 'dir.tem'}: io error", tmp_path / "dir.tem")
    for name in ("garbage", "truncated", "empty"):
        expect_error(runner_asan, 1, f"{tmp_path / name}.tem: format error", tmp_path / f"{name}.tem")


def test_mismatched_inputs_exit_1_with_one_line(runner_asan, tmp_path):
    path = write(odd_names_graph(), tmp_path / "odd.tem")
    np.save(tmp_path / "a.npy", np.zeros((2, 3, 4), np.float32))
    np.save(tmp_path / "a64.npy", np.zeros((2, 3, 4), np.float64))
    np.save(tmp_path / "a_int8.npy", np.zeros((2, 3, 4), np.int8))
    np.save(tmp_path / "a_shape.npy", np.zeros((3, 2, 4), np.float32))
    np.save(tmp_path / "a_rank.npy", np.zeros((24,), np.float32))
    a = f"a={tmp_path / 'a.npy'}"
    cases = [
        (["--input", f"c={tmp_path / 'a.npy'}"], "the model has no input 'c'; its inputs are 'a', 'b'"),
        (["--input", str(tmp_path / "a.npy")], "the model has 2 inputs ('a', 'b'): name each one"),
        (["--input", a, "--input", a], f"input 'a' is already given by --input {a}"),
        (["--input", f"a={tmp_path / 'none.npy'}"], f"input 'a': {tmp_path / 'none.npy'}: cannot open"),
        (["--input", f"a={tmp_path / 'a64.npy'}"], "dtype '<f8' is not read"),
        (["--input", f"a={tmp_path / 'a_int8.npy'}"],
         "holds (2, 3, 4) int8, the model expects (2, 3, 4) float32 (nothing is cast"),
        (["--input", f"a={tmp_path / 'a_shape.npy'}"],
         "holds (3, 2, 4) float32, the model expects (2, 3, 4) float32"),
        (["--input", f"a={tmp_path / 'a_rank.npy'}"], "holds (24,) float32"),
        (["--input", f"a={tmp_path}"], "not a regular file"),
        (["--output-dir", str(tmp_path / "a.npy")], "a.npy: not a directory"),
        (["--output-dir", str(tmp_path / "a.npy" / "sub")], "cannot create"),
        (["--trace", str(tmp_path / "no" / "such" / "dir" / "t.tsv")], "--trace"),
    ]
    for args, message in cases:
        expect_error(runner_asan, 1, message, path, *args, "--iters", 1)


def hostile_npy_files(x: np.ndarray) -> dict[str, tuple[bytes, str]]:
    """One hostile .npy file per failure class of the reader, and the message it must give."""
    good = npy_bytes(x)
    data = x.tobytes()
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (x.shape,)
    return {
        "empty": (b"", "not a .npy file (0 bytes"),
        "short": (good[:9], "not a .npy file (9 bytes"),
        "bad_magic": (b"\x93NUMPZ" + good[6:], "not a .npy file (no \\x93NUMPY magic"),
        "version_3": (handmade_npy(head, data, major=3), "format version 3.0 is not read"),
        "header_len_past_end": (good[:8] + struct.pack("<H", 0xFFFF) + good[10:],
                                "truncated: the header is 65535 bytes"),
        "v2_header_len_huge": (handmade_npy(head, data, major=2)[:8] + struct.pack("<I", 0xFFFFFFF0)
                               + handmade_npy(head, data, major=2)[12:], "bad header: 4294967280"),
        "truncated_header": (good[:40], "truncated: the header is"),
        "truncated_data": (good[:-3], f"truncated: the header describes {x.nbytes} bytes of data"),
        "no_data": (good[:len(good) - x.nbytes], "the file holds 0"),
        "trailing_bytes": (good + b"\0" * 4, "4 bytes after the data"),
        "huge_shape": (handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                    "(4611686018427387904, 4611686018427387904), }", data),
                       "more bytes than memory can hold"),
        "dim_overflow": (handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                      "(99999999999999999999999,), }", data),
                         "a dimension of 'shape' is too large"),
        "huge_vs_file": (handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                      "(1000000000, 1000), }", data),
                         "truncated: the header describes 4000000000000 bytes"),
        "fortran": (handmade_npy(head.replace("False", "True"), data), "Fortran order"),
        "big_endian": (handmade_npy(head.replace("<f4", ">f4"), data), "is big-endian"),
        "float64": (handmade_npy(head.replace("<f4", "<f8"), data), "dtype '<f8' is not read"),
        "bool": (handmade_npy(head.replace("<f4", "|b1"), data), "dtype '|b1' is not read"),
        "structured": (handmade_npy(head.replace("'<f4'", "[('a', '<f4')]"), data),
                       "expected a quoted 'descr'"),
        "garbage_header": (handmade_npy("\x01\x02 garbage " * 5, data), "bad header: expected '{'"),
        "unterminated_string": (handmade_npy("{'descr': '<f4", data), "unterminated 'descr'"),
        "unknown_key": (handmade_npy(head.replace("}", "'extra': 1, }"), data),
                        "unexpected or repeated key 'extra'"),
        "repeated_key": (handmade_npy(head.replace("}", "'descr': '<f4', }"), data),
                         "unexpected or repeated key 'descr'"),
        "missing_shape": (handmade_npy("{'descr': '<f4', 'fortran_order': False}", data),
                          "missing key 'shape'"),
        "shape_not_tuple": (handmade_npy(head.replace(str(x.shape), "[1, 2]"), data),
                            "expected '(' to open 'shape'"),
        "shape_int_in_parens": (handmade_npy(head.replace(str(x.shape), "(216)"), data),
                                "'shape' (n) is not a tuple"),
        "negative_dim": (handmade_npy(head.replace(str(x.shape), "(-1, 3)"), data),
                         "non-negative integers"),
        "too_many_dims": (handmade_npy(head.replace(str(x.shape), "(" + "1, " * 33 + ")"), data),
                          "more than 32 dimensions"),
        "no_closing_brace": (handmade_npy(head[:-3], data), "expected ',' or '}'"),
        "no_key_after_comma": (handmade_npy(head[:-1], data), "expected a quoted key"),
        "bytes_after_dict": (handmade_npy(head + " junk", data), "unexpected bytes after the dict"),
        "fortran_not_bool": (handmade_npy(head.replace("False", "0"), data), "not True or False"),
        "nul_in_header": (handmade_npy(head.replace("<f4", "<f\x004"), data),
                          "unexpected character in the 'descr'"),
    }


TINY_CNN_INPUT = np.linspace(-1, 1, 9 * 9 * 3, dtype=np.float32).reshape(1, 9, 9, 3)


@pytest.mark.parametrize("name", list(hostile_npy_files(TINY_CNN_INPUT)))
def test_hostile_npy_files_exit_1_with_one_line(runner_asan, zoo_files, tmp_path, name):
    _, path = zoo_files["tiny_cnn"]
    assert tinyedge.load(path).inputs[0].shape == TINY_CNN_INPUT.shape
    data, message = hostile_npy_files(TINY_CNN_INPUT)[name]
    file = tmp_path / f"{name}.npy"
    file.write_bytes(data)
    line = expect_error(runner_asan, 1, message, path, "--input", file)
    assert line.startswith(f"tinyedge-run: input 'image': {file}: "), line


def test_sanitized_runner_runs_clean_on_success_paths(runner_asan, zoo_files, example_files,
                                                      tmp_path):
    """The whole success path (inputs, trace, outputs, summary) under ASan/UBSan and LeakSanitizer."""
    odd = write(odd_names_graph(), tmp_path / "odd.tem")
    for path in (odd, zoo_files["int8_tiny_cnn"][1], example_files["int8"]):
        model = tinyedge.load(path)
        xs = random_inputs(model)
        folder = tmp_path / path.stem
        folder.mkdir()
        run_ok(runner_asan, path, *save_inputs(model, xs, folder), "--iters", 2, "--warmup", 1,
               "--trace", folder / "t.tsv", "--output-dir", folder / "o")
        assert_same_outputs(model, model.run(xs), folder / "o", file_names(model))
