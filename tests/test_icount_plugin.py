"""The qemu instruction-counting plugin (benchmarks/qemu_icount/icount.c) counts exactly.

The plugin is built as benchmarks/arm_kernels.py builds it (gcc -O2 -shared -fPIC) and runs a static
aarch64 program written in assembly, without a C library, so the number of instructions it executes
is known by hand: `_start` calls `work` twice (a 100-iteration loop of two instructions, plus its
first and last instruction: 202 per call) and then exits (3 instructions); `_start` itself executes
5. The counts must be those, and the same on a second run.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "benchmarks" / "qemu_icount" / "icount.c"

PROGRAM = """
    .text
    .global _start
_start:
    bl work
    bl work
    mov x8, #93          // exit(0)
    mov x0, #0
    svc #0
    .global work
    .type work, %function
work:
    mov x0, #100
1:  subs x0, x0, #1
    b.ne 1b
    ret
    .size work, .-work
"""
WORK_CALL = 1 + 2 * 100 + 1   # mov, 100 x (subs, b.ne), ret
START = 2 + 3                 # two bl, then the exit's three instructions


def need(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed ({why})")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, dict]:
    """The plugin, the static program and its symbol addresses."""
    gcc = need("gcc", "it builds the plugin: apt-get install gcc")
    asm = need("aarch64-linux-gnu-gcc", "it assembles the test program: apt-get install gcc-aarch64-linux-gnu")
    need("qemu-aarch64", "apt-get install qemu-user")
    out = tmp_path_factory.mktemp("icount")
    so = out / "libicount.so"
    subprocess.run([gcc, "-O2", "-shared", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-Werror",
                    "-o", str(so), str(PLUGIN)], check=True)
    (out / "prog.S").write_text(PROGRAM)
    prog = out / "prog"
    subprocess.run([asm, "-nostdlib", "-static", "-o", str(prog), str(out / "prog.S")], check=True)
    nm = subprocess.run(["nm", str(prog)], capture_output=True, text=True, check=True).stdout
    syms = {line.split()[2]: int(line.split()[0], 16) for line in nm.splitlines() if len(line.split()) == 3}
    return so, prog, syms


def count(so: Path, prog: Path, out: Path, *args: str) -> list[str]:
    plugin = ",".join([f"file={so}", f"out={out}", *args])
    run = subprocess.run(["qemu-aarch64", "-cpu", "cortex-a72", "-plugin", plugin, str(prog)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return out.read_text().splitlines()


def test_total_is_exact_and_repeatable(built, tmp_path):
    so, prog, _ = built
    first = count(so, prog, tmp_path / "a.txt")
    assert first[:2] == ["icount v1", f"total {START + 2 * WORK_CALL}"]
    assert count(so, prog, tmp_path / "b.txt") == first


def test_calls_are_counted_one_by_one(built, tmp_path):
    so, prog, syms = built
    home = f"home={syms['_start']:#x}-{syms['work']:#x}"
    lines = count(so, prog, tmp_path / "c.txt", home, f"entry={syms['work']:#x}")
    assert lines == ["icount v1", f"total {START + 2 * WORK_CALL}", f"home {START}", "calls 2",
                     f"call 0 {syms['work']:#x} {WORK_CALL}", f"call 1 {syms['work']:#x} {WORK_CALL}"]


def test_bad_arguments_refuse_to_load(built):
    so, prog, _ = built
    for args in ("bogus=1", "entry=0x400000", "home=0x20-0x10"):
        run = subprocess.run(["qemu-aarch64", "-cpu", "cortex-a72", "-plugin", f"file={so},{args}",
                              str(prog)], capture_output=True, text=True, timeout=60)
        assert run.returncode != 0
        assert "icount:" in run.stderr, run.stderr
