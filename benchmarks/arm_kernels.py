"""Guest instructions per call of tinyedge's main kernels under qemu: portable, NEON, dot product.

A repeatable proxy for work on the board (perf counters are not available in these VMs, and qemu's
wall time says nothing about a Cortex-A72): the instructions each kernel executes, counted by a
small TCG plugin (qemu_icount/icount.c) in qemu-user.

Steps:
1. The plugin is compiled with the host's gcc (-O2 -shared -fPIC).
2. tinyedge-run is cross-built with zig for pi4 (Cortex-A72, no dot product) and pi5 (Cortex-A76,
   dot product), static and NOT stripped (build_runner(strip=False)), so that `nm -S` gives the
   address of te_model_invoke and of every kernel's eval function (kernels.def names them).
3. One-op INT8 models with MobileNetV2 shapes (built by tinyedge.build from small torch modules,
   calibrated on random inputs), one-op float32 models of its depthwise shapes, and a
   MobileNetV2-style INT8 network (tests/nets.py). Each INT8 .tem has the op under test between a
   quantize and a dequantize (float input and output).
4. Each model runs once (--iters 1 --warmup 0 --trace FILE) under `env -i qemu-aarch64 -cpu ...`
   with the plugin counting, call by call, the instructions from each eval's entry until control is
   back in te_model_invoke (helpers and libc calls included). The i-th call is the i-th op of the
   trace, whose record names the kernel that ran; a call whose entry is not that kernel's eval
   stops the script (the attribution would be wrong).
5. Tables: per kernel call (kernel, CPU, shape, MACs, instructions, instructions per MAC, ratio to
   the portable kernel), then per whole inference (every op's call summed, the kernels that carry
   it, and the whole program: load, input generation and one run).

Which kernels run: pi4 runs once portable-only (`--isa ref`) and once with NEON (`--isa ref,neon`),
pi5 with NEON and the dot product (`--isa ref,neon,neon_dot`); a node that no NEON kernel accepts
runs its portable kernel, and the table shows the kernel the trace names. A runner without `--isa`
runs what its runtime picks for the CPU, once per board.

    .venv/bin/python benchmarks/arm_kernels.py [--out-dir DIR] [--size 224] [--skip-model]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from rich.table import Table

import peers

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_SOURCE = Path(__file__).resolve().parent / "qemu_icount" / "icount.c"
KERNELS_DEF = ROOT / "runtime_c" / "src" / "kernels.def"
HOME_SYMBOL = "te_model_invoke"  # the function that calls every node's eval
QEMU_TIMEOUT = 1800  # seconds: a 224x224 MobileNetV2 with portable kernels runs ~1e9 instructions
CPUS = {"pi4": "cortex-a72", "pi5": "cortex-a76"}
# (board, tinyedge-run --isa list): portable and NEON on the Pi 4, NEON with the dot product on the
# Pi 5. The runtime picks, per node, the best allowed kernel whose prepare accepts the node.
ISA_RUNS = (("pi4", "ref"), ("pi4", "ref,neon"), ("pi5", "ref,neon,neon_dot"))
ISA_LABELS = {"ref": "portable", "ref,neon": "NEON", "ref,neon,neon_dot": "NEON+dot", None: "default"}


@dataclass(frozen=True)
class OpCase:
    """One op with MobileNetV2 shapes: a torch module, its input shapes (NCHW) and the IR op."""

    label: str
    shape: str          # how the table names the shape (NHWC, as tinyedge runs it)
    ir_op: str          # the trace's ir_op of the op under test
    inputs: tuple       # input shapes, torch layout
    quantize: Optional[str] = "int8"  # tinyedge.build's quantize; None: a float32 model

    def module(self):
        """A fresh torch module computing the op (BatchNorm folded away by the compiler)."""
        import torch
        from torch import nn
        from nets import conv_bn

        label = self.label.removesuffix(" f32")  # a float row runs the module of its INT8 row
        if label == "dwconv 3x3 s1 112":
            return conv_bn(32, 32, 3, 1, groups=32)
        if label == "conv 1x1 expand":
            return conv_bn(24, 144, 1)
        if label == "dwconv 3x3 s1":
            return conv_bn(144, 144, 3, 1, groups=144)
        if label == "dwconv 3x3 s2":
            return conv_bn(144, 144, 3, 2, groups=144)
        if label == "dwconv 5x5 s2":
            return conv_bn(72, 72, 5, 2, groups=72)
        if label == "dwconv 5x5 s1":
            return conv_bn(672, 672, 5, 1, groups=672)
        if label == "conv 1x1 project":
            return conv_bn(960, 160, 1, act=None)
        if label == "conv 3x3 stem":
            return conv_bn(3, 32, 3, 2)
        if label == "conv 3x3":
            return conv_bn(64, 64, 3, 1)
        if label == "fc":
            return nn.Linear(1280, 1000)
        if label == "add":
            class Add(nn.Module):
                def forward(self, a, b):
                    return torch.add(a, b)
            return Add()
        raise ValueError(f"no module for op case '{self.label}'")


OP_CASES = (
    OpCase("conv 1x1 expand", "56x56x24 -> 144, ReLU6", "conv2d", ((1, 24, 56, 56),)),
    OpCase("dwconv 3x3 s1", "56x56x144, stride 1, ReLU6", "conv2d", ((1, 144, 56, 56),)),
    OpCase("dwconv 3x3 s2", "56x56x144 -> 28x28, ReLU6", "conv2d", ((1, 144, 56, 56),)),
    OpCase("dwconv 5x5 s2", "56x56x72 -> 28x28, ReLU6", "conv2d", ((1, 72, 56, 56),)),
    OpCase("dwconv 5x5 s1", "14x14x672, stride 1, ReLU6", "conv2d", ((1, 672, 14, 14),)),
    OpCase("conv 1x1 project", "7x7x960 -> 160", "conv2d", ((1, 960, 7, 7),)),
    OpCase("conv 3x3 stem", "224x224x3 -> 112x112x32, stride 2, ReLU6", "conv2d", ((1, 3, 224, 224),)),
    OpCase("conv 3x3", "28x28x64 -> 64, ReLU6", "conv2d", ((1, 64, 28, 28),)),
    OpCase("fc", "1280 -> 1000", "fully_connected", ((1, 1280),)),
    OpCase("add", "28x28x32 + 28x28x32", "add", ((1, 32, 28, 28), (1, 32, 28, 28))),
    OpCase("dwconv 3x3 s1 112 f32", "112x112x32, stride 1, ReLU6, float32", "conv2d",
           ((1, 32, 112, 112),), quantize=None),
    OpCase("dwconv 3x3 s1 f32", "56x56x144, stride 1, ReLU6, float32", "conv2d",
           ((1, 144, 56, 56),), quantize=None),
    OpCase("dwconv 3x3 s2 f32", "56x56x144 -> 28x28, ReLU6, float32", "conv2d",
           ((1, 144, 56, 56),), quantize=None),
    OpCase("dwconv 5x5 s1 f32", "14x14x672, stride 1, ReLU6, float32", "conv2d",
           ((1, 672, 14, 14),), quantize=None),
)


@dataclass
class Call:
    """One op of one run: what the trace says about it and what the plugin counted."""

    op: int
    name: str
    ir_op: str
    kernel: str
    out_shape: str
    macs: int
    insns: int

    @property
    def elements(self) -> int:
        """Elements of the output (the unit of work of ops without MACs)."""
        return int(np.prod([int(d) for d in self.out_shape.split("x")])) if self.out_shape != "scalar" else 1


@dataclass
class Run:
    """One counted run of a model on one board."""

    board: str
    isa: Optional[str]
    calls: list
    program_insns: int      # the whole process: start-up, load (weight packing), inputs, one run
    dispatch_insns: int     # te_model_invoke's own instructions


# ---- tools ----

def build_plugin(out_dir: Path) -> Path:
    """Compile the icount plugin with the host's gcc; return the .so."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        sys.exit("no host C compiler (gcc or cc) to build the qemu plugin: apt-get install gcc")
    so = out_dir / "libicount.so"
    subprocess.run([gcc, "-O2", "-shared", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-o", str(so),
                    str(PLUGIN_SOURCE)], check=True)
    return so


def nm_tool() -> str:
    """An nm that reads aarch64 ELF files (GNU nm reads any ELF symbol table)."""
    for name in ("aarch64-linux-gnu-nm", "llvm-nm", "nm"):
        if shutil.which(name):
            return name
    sys.exit("no nm found: apt-get install binutils")


def symbols(exe: Path) -> dict[str, tuple[int, int]]:
    """Function symbols of an unstripped static binary: name -> (address, size), from `nm -S`."""
    out = subprocess.run([nm_tool(), "-S", "--defined-only", str(exe)], capture_output=True, text=True,
                         check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "Tt":
            table.setdefault(parts[3], (int(parts[0], 16), int(parts[1], 16)))
    return table


def eval_functions() -> dict[str, str]:
    """Kernel name -> its eval function, from kernels.def (every kernel, of every ISA)."""
    pattern = re.compile(r"^TE_KERNEL\(\s*(\w+)\s*,[^,]+,[^,]+,[^,]+,[^,]+,\s*(\w+)\s*\)", re.M)
    return dict(pattern.findall(KERNELS_DEF.read_text()))


def runner_has_isa_option(qemu: list, exe: Path) -> bool:
    """Whether this tinyedge-run can restrict the kernels to one ISA (--isa)."""
    out = subprocess.run([*qemu, str(exe), "--help"], capture_output=True, text=True, timeout=60)
    return "--isa" in out.stdout + out.stderr


# ---- models ----

def export_case(case: OpCase, path: Path) -> Path:
    """Export one op case to ONNX (inputs named in0, in1, ...)."""
    import torch
    from nets import randomize_bn

    module = randomize_bn(case.module(), seed=1)
    args = tuple(torch.zeros(*s) for s in case.inputs)
    names = [f"in{i}" for i in range(len(args))]
    with warnings.catch_warnings():  # the TorchScript exporter (as tests/nets.py) warns it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, args, str(path), input_names=names, output_names=["out"],
                          opset_version=13, dynamo=False)
    return path


def calibration(shapes: dict, samples: int, seed: int) -> dict:
    """Random calibration inputs, uniform in [-1, 1) (the runner's random inputs have that range)."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1, 1, (samples, *shape[1:])).astype(np.float32)
            for name, shape in shapes.items()}


def build_models(out_dir: Path, size: int, with_model: bool, console) -> dict[str, Path]:
    """The .tem files: one per op case (INT8 or float32), and the MobileNetV2-style INT8 network
    unless skipped."""
    import tinyedge
    from nets import export, mobilenet_v2, randomize_bn

    models = {}
    for case in OP_CASES:
        onnx_path = export_case(case, out_dir / f"{case.label.replace(' ', '_')}.onnx")
        options = {}
        if case.quantize:
            options = dict(quantize=case.quantize, calib=calibration(
                {f"in{i}": s for i, s in enumerate(case.inputs)}, 4, seed=2))
        models[case.label] = tinyedge.build(onnx_path, onnx_path.with_suffix(".tem"),
                                            **options).path
    if with_model:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            onnx_path = export(randomize_bn(mobilenet_v2(), seed=2), (1, 3, size, size),
                               out_dir / "mnv2.onnx")
        calib = calibration({"input": (1, 3, size, size)}, 2, seed=3)
        models["mobilenet_v2"] = tinyedge.build(onnx_path, out_dir / "mnv2_int8.tem", quantize="int8",
                                                calib=calib).path
        console.print(f"MobileNetV2 {size}x{size} INT8 built in {time.perf_counter() - t0:.0f} s")
    return models


# ---- counting ----

def read_trace(path: Path) -> list[dict]:
    """The records of a tinyedge-trace v1 file (docs/trace.md)."""
    keys = ("iter", "op", "name", "ir_op", "kernel", "out_shape", "out_dtype", "macs", "bytes", "ns")
    return [dict(zip(keys, line.rstrip("\n").split("\t")))
            for line in path.read_text().splitlines() if line[:1].isdigit()]


def read_counts(path: Path) -> tuple[int, int, list[tuple[int, int]]]:
    """The plugin's output: total, home instructions, and (entry, instructions) per call."""
    total = home = None
    calls = []
    for line in path.read_text().splitlines():
        word, *rest = line.split()
        if word == "total":
            total = int(rest[0])
        elif word == "home":
            home = int(rest[0])
        elif word == "call":
            calls.append((int(rest[1], 16), int(rest[2])))
    if total is None or home is None:
        raise RuntimeError(f"{path}: not an icount v1 file")
    return total, home, calls


def count_run(qemu: str, cpu: str, plugin: Path, exe: Path, syms: dict, model: Path,
              isa: Optional[str], work: Path) -> tuple[list[Call], int, int]:
    """Run a model once under the plugin; return its calls, the program's and dispatch's counts."""
    evals = eval_functions()
    entries = sorted({syms[f][0] for f in evals.values() if f in syms})
    lo, size = syms[HOME_SYMBOL]
    counts, trace = work / "icount.txt", work / "trace.tsv"
    if "," in f"{plugin}{counts}":
        raise RuntimeError(f"{work}: qemu reads -plugin arguments up to a comma; use an --out-dir "
                           f"without commas")
    plugin_args = ",".join([f"file={plugin}", f"out={counts}", f"home={lo:#x}-{lo + size:#x}"]
                           + [f"entry={a:#x}" for a in entries])
    argv = ["env", "-i", qemu, "-cpu", cpu, "-plugin", plugin_args, str(exe), str(model),
            "--iters", "1", "--warmup", "0", "--trace", str(trace)] + (["--isa", isa] if isa else [])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=QEMU_TIMEOUT)
    if out.returncode != 0:
        raise RuntimeError(f"{exe.name} on {model.name} (-cpu {cpu}) failed with status "
                           f"{out.returncode}: {out.stderr.strip()[-500:]}")
    total, home, entry_counts = read_counts(counts)
    records = read_trace(trace)
    if len(entry_counts) != len(records):
        raise RuntimeError(f"{model.name}: the plugin counted {len(entry_counts)} kernel calls but the "
                           f"trace has {len(records)} ops; does {HOME_SYMBOL} still call each eval?")
    by_address = {addr: name for name, (addr, _) in syms.items()}
    calls = []
    for rec, (entry, insns) in zip(records, entry_counts):
        want = evals.get(rec["kernel"])
        if by_address.get(entry) != want:
            raise RuntimeError(f"{model.name} op {rec['op']} ({rec['name']}): the trace says kernel "
                               f"{rec['kernel']} (eval {want}) but the counted call entered "
                               f"{by_address.get(entry, hex(entry))}")
        calls.append(Call(int(rec["op"]), rec["name"], rec["ir_op"], rec["kernel"], rec["out_shape"],
                          int(rec["macs"]), insns))
    return calls, total, home


def op_under_test(case: OpCase, calls: list[Call]) -> Call:
    """The one call of the case's op (the others are the model's quantize and dequantize)."""
    found = [c for c in calls if c.ir_op == case.ir_op]
    if len(found) != 1:
        raise RuntimeError(f"{case.label}: expected one {case.ir_op} op in the model, found "
                           f"{[c.ir_op for c in calls]}")
    return found[0]


# ---- tables ----

def per_unit(call: Call) -> tuple[int, str]:
    """The work of a call: its MACs, or its output elements for ops without MACs."""
    return (call.macs, "MAC") if call.macs else (call.elements, "elem")


def board_label(run: Run) -> str:
    """'pi4 a72 NEON': the board, the CPU model qemu ran, the kernels allowed (ISA_LABELS)."""
    return f"{run.board} {CPUS[run.board].replace('cortex-', '')} {ISA_LABELS.get(run.isa, run.isa)}"


def kernel_table(case_runs: dict[str, list[Run]], console) -> None:
    """Instructions per call of each kernel on each op case, and the ratio to the portable kernel."""
    table = Table("op, shape (NHWC)", "board, kernels allowed", "kernel", "MACs / elems",
                  "instructions", "per unit", "portable / this",
                  title="Kernels (INT8 unless the shape says float32): guest instructions per call "
                        "(qemu-user)")
    table.columns[2].no_wrap = True
    for case in OP_CASES:
        runs = case_runs.get(case.label, [])
        calls = [(r, op_under_test(case, r.calls)) for r in runs]
        portable = next((c.insns for _, c in calls if c.kernel.endswith("__ref")), None)
        for i, (run, call) in enumerate(calls):
            work, unit = per_unit(call)
            ratio = f"{portable / call.insns:.2f}x" if portable else "-"
            table.add_row(f"{case.label}\n{case.shape}" if i == 0 else "", board_label(run),
                          call.kernel, f"{work:,} {unit}", f"{call.insns:,}",
                          f"{call.insns / work:.3f} / {unit}", ratio)
        table.add_section()
    console.print(table)


def model_table(runs: list[Run], console) -> None:
    """Whole inferences: every op's call summed, and the kernels that carry it."""
    table = Table("board, kernels allowed", "ops", "MACs", "instructions (ops)", "per MAC", "portable / this",
                  "dispatch", "whole program", title="MobileNetV2-style INT8: one inference")
    portable = next((sum(c.insns for c in r.calls) for r in runs
                     if all(c.kernel.endswith("__ref") for c in r.calls)), None)
    for r in runs:
        insns = sum(c.insns for c in r.calls)
        macs = sum(c.macs for c in r.calls)
        table.add_row(board_label(r), str(len(r.calls)), f"{macs:,}",
                      f"{insns:,}", f"{insns / macs:.3f}", f"{portable / insns:.2f}x" if portable else "-",
                      f"{r.dispatch_insns:,}", f"{r.program_insns:,}")
    console.print(table)
    for r in runs:
        share = Table("kernel", "calls", "MACs", "instructions", "per MAC", "share",
                      title=f"{board_label(r)}: one inference by kernel")
        total = sum(c.insns for c in r.calls)
        for kernel in sorted({c.kernel for c in r.calls}, key=lambda k: -sum(
                c.insns for c in r.calls if c.kernel == k)):
            mine = [c for c in r.calls if c.kernel == kernel]
            insns, macs = sum(c.insns for c in mine), sum(c.macs for c in mine)
            share.add_row(kernel, str(len(mine)), f"{macs:,}", f"{insns:,}",
                          f"{insns / macs:.3f}" if macs else "-", f"{100 * insns / total:.1f}%")
        console.print(share)


# ---- main ----

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out-dir", type=Path, help="keep the plugin, models, traces and counts here")
    p.add_argument("--size", type=int, default=224, help="MobileNetV2 input resolution (default 224)")
    p.add_argument("--skip-model", action="store_true", help="count the one-op models only")
    p.add_argument("--toolchain", default="zig", choices=("zig", "gcc"), help="cross compiler (zig)")
    args = p.parse_args(argv)
    console = peers.make_console()
    if not console.is_terminal:
        console.width = 150  # the kernel names are long; logs and pipes need the whole table
    sys.path.insert(0, str(ROOT / "tests"))  # nets.py: the MobileNetV2 the tests build

    from tinyedge.boards import load_board
    from tinyedge.cross import build_runner

    qemu = shutil.which("qemu-aarch64")
    if qemu is None:
        sys.exit("qemu-aarch64 is not installed: apt-get install qemu-user (its qemu-aarch64 takes -plugin)")
    with tempfile.TemporaryDirectory(prefix="arm_kernels-") as tmp:
        out_dir = args.out_dir or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        plugin = build_plugin(out_dir)
        runners = {}
        for board in CPUS:
            t0 = time.perf_counter()
            build = build_runner(load_board(board), args.toolchain, strip=False)
            runners[board] = (build.path, symbols(build.path))
            console.print(f"{board}: {build.path} ({'cached' if build.cached else 'built'}, "
                          f"{time.perf_counter() - t0:.1f} s)")
        with_isa = runner_has_isa_option([qemu, "-cpu", CPUS["pi4"]], runners["pi4"][0])
        plan = ISA_RUNS if with_isa else tuple((b, None) for b in CPUS)
        if not with_isa:
            console.print("[yellow]tinyedge-run has no --isa option: each board runs the kernels its "
                          "runtime picks for its CPU; the kernel column shows which ran[/yellow]")
        models = build_models(out_dir, args.size, not args.skip_model, console)

        results: dict[str, list[Run]] = {}
        for label, model in models.items():
            for board, isa in plan:
                exe, syms = runners[board]
                # qemu splits -plugin arguments at commas: none in the paths it gets.
                work = out_dir / "runs" / f"{model.stem}-{board}-{(isa or 'default').replace(',', '+')}"
                work.mkdir(parents=True, exist_ok=True)
                t0 = time.perf_counter()
                calls, total, home = count_run(qemu, CPUS[board], plugin, exe, syms, model, isa, work)
                results.setdefault(label, []).append(Run(board, isa, calls, total, home))
                console.print(f"counted {label} on {board} ({isa or 'default'}): {total:,} instructions "
                              f"in {time.perf_counter() - t0:.1f} s")
        kernel_table(results, console)
        if "mobilenet_v2" in results:
            console.print(f"MobileNetV2 (tests/nets.py, 1000 classes), {args.size}x{args.size}x3 input, "
                          f"float in and out")
            model_table(results["mobilenet_v2"], console)
        console.print("kernels allowed: " + "; ".join(f"{v}: --isa {k}" for k, v in ISA_LABELS.items() if k)
                      + ". instructions (ops): every eval call of one run, callees included; dispatch: "
                      f"{HOME_SYMBOL}'s own; whole program: the process under env -i (start-up, load "
                      "and weight packing, random inputs, one run, trace)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
