"""Compiler flags for a board: what every file gets, what one ISA's kernels add, and how to link.

Three rules keep cross builds correct and cheap:
- Every source is compiled with the board's CPU (`-mcpu`), so the portable code is tuned for it
  and never uses an instruction the board lacks.
- Kernels for one ISA live in `runtime_c/src/kernels/<isa>/`, the directory named after the te_isa
  value in lower case (`neon`, `neon_dot`, `avx2`). Only those files get the ISA's extra flags (for
  `neon_dot`, the CPU plus `+dotprod`): the runtime picks them at load from what the CPU reports, so a
  Pi 4 binary may carry dot-product kernels it never calls, and nothing else in it needs the
  extension. An ISA that the architecture cannot have (AVX2 on ARM) adds nothing: its files guard
  themselves with the compiler's feature macros.
- Linking uses one fixed flag set per target triple. Zig builds musl for every distinct (target,
  -mcpu, -O, -s) it links with (half a minute to a minute each), so the link never carries the
  board's CPU: the C library is built once per triple for the triple's baseline CPU.
"""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

from ..boards import Board

# Every compile: what the Python extension uses (tinyedge/_runtime_build.py). -O3 because gcc's -O2
# leaves the portable kernels' channel loops scalar (zig maps -O2 and -O3 to the same mode); no
# contraction of a*b+c into FMA and no fast-math, so float results match the host bit for bit.
BASE_CFLAGS = ("-std=c99", "-O3", "-ffp-contract=off", "-Wall", "-Wextra")
LIBS = ("-lm", "-pthread")  # -pthread: the thread pool (runtime_c/src/pool.c)

# te_isa names (runtime_c/include/tinyedge.h) whose kernels live in runtime_c/src/kernels/<isa>/.
ISAS = ("ref", "neon", "neon_dot", "avx2")

# CPU features an ISA's kernels add to (or remove from) the board's -mcpu/-march, per architecture
# and toolchain: zig removes a feature with "-name", gcc with "+noname". Plain-NEON kernels drop the
# dot product that a Pi 5 -mcpu implies (the vectorizer emits SDOT for int8 sums), since the runtime
# picks them on CPUs without it. On armv7 the board's flags already include NEON (armhf boards with
# NEON are the ones tinyedge targets), and there is no dot product before ARMv8.2.
# The dot-product files also want ARMv8.2-A (their guard checks QRDMX, which every ARMv8.2-A CPU
# has and an ARMv8.0 -mcpu plus +dotprod does not say).
CPU_FEATURES = {
    "aarch64": {"neon_dot": {"zig": "+v8_2a+dotprod"},  # gcc: GCC_ISA_ARCH
                "neon": {"zig": "-dotprod", "gcc": "+nodotprod"}},
    "armv7": {},
}
# Told to every file when a build compiles an ISA's kernel folder with that ISA's flags: kernels.c,
# compiled for the board's own CPU, then lists those kernels (kernels.def) and the CPU check at load
# decides whether they run. So every aarch64 runner carries the dot-product kernels (5-8 KB): a
# generic aarch64 build (aarch64-linux, android-arm64) uses them on the phones and boards that have
# the dot product, and a Pi 4 build never calls them.
# Likewise the x86-64 host (HOST_ISA_FLAGS): the extension and the host runner carry the AVX2
# kernels and use them where the CPU reports AVX2 and FMA.
ISA_DEFINES = {"neon_dot": ("-DTE_WITH_NEON_DOT",), "avx2": ("-DTE_WITH_AVX2",)}


def isa_defines(isas) -> tuple:
    """The ISA_DEFINES of the ISAs a build compiles with their own flags."""
    return tuple(d for isa in sorted(isas) for d in ISA_DEFINES.get(isa, ()))

# ISAs whose files gcc compiles for an architecture (tuned for the board's CPU) instead of the
# board's -mcpu plus a feature: Debian gcc 12 accepts -mcpu=cortex-a72+dotprod but then cannot
# inline vdotq_s32 ("target specific option mismatch"), and an ARMv8.0 -mcpu lacks the ARMv8.2-A
# features the dot-product files check for. -march=armv8.2-a+dotprod -mtune=<cpu> works for any
# aarch64 board.
GCC_ISA_ARCH = {"aarch64": {"neon_dot": "-march=armv8.2-a+dotprod"}}
# Portable code on a board (everything but the ISA kernels) is compiled without loop unrolling:
# there the ops that carry the time run NEON kernels, and the unrolled copies of the portable loops
# cost 55 KB of a Cortex-A53 runner (315 -> 260 KB, pi4 249 -> 236 KB) for no fewer instructions
# (MobileNetV2 INT8 under qemu on pi3: 230.8M -> 230.2M; with the portable kernels only, 603M ->
# 609M). Unrolling never reorders float arithmetic, so results do not change. The host extension
# keeps its unrolled loops: there the portable kernels are the ones that run.
BOARD_PORTABLE_CFLAGS = ("-fno-unroll-loops",)
# The host (system cc): x86-64 AVX2 kernels need their own flags; the CPU is asked at load.
HOST_ISA_FLAGS = {
    "x86_64": {"avx2": ("-mavx2", "-mfma")},
    "aarch64": {"neon_dot": ("-march=armv8.2-a+dotprod",)},
    "arm64": {"neon_dot": ("-march=armv8.2-a+dotprod",)},  # macOS spells aarch64 this way
}
# Debian's cross gcc per architecture (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf).
GCC_TRIPLES = {"aarch64": "aarch64-linux-gnu", "armv7": "arm-linux-gnueabihf"}


@dataclass(frozen=True)
class TargetFlags:
    """The flags of one build: per-file compile flags by ISA, and the link flags."""

    target: str            # a triple (aarch64-linux-musl, arm-linux-gnueabihf) or "host"
    compile: tuple         # every file (after BASE_CFLAGS)
    isa_compile: dict      # isa -> the flags used instead of `compile` for that ISA's files
    link: tuple

    def for_isa(self, isa: str) -> tuple:
        """The full compile flags (without includes) for a file of this ISA ('ref' for the rest)."""
        return BASE_CFLAGS + self.isa_compile.get(isa, self.compile)


def _with_feature(flags: tuple, feature: str) -> tuple:
    """Append a +feature to the -mcpu=/-march= flag among `flags`."""
    return tuple(f + feature if f.startswith(("-mcpu=", "-march=")) else f for f in flags)


def zig_flags(board: Board) -> TargetFlags:
    """Flags for `zig cc`: static musl, the board's CPU per file, the triple's baseline at link."""
    target = board.build.zig_target
    cpu = f"-mcpu={board.build.zig_cpu}"
    features = CPU_FEATURES[board.arch]
    defines = isa_defines(features)
    compile_flags = ("-target", target, cpu) + defines + BOARD_PORTABLE_CFLAGS
    extra = {isa: ("-target", target, cpu + feat["zig"]) + defines for isa, feat in features.items()}
    return TargetFlags(target, compile_flags, extra, ("-target", target, "-O2", "-s", "-static"))


def _arch_tuned(flags: tuple, march: str) -> tuple:
    """`flags` with their -mcpu=/-march= replaced by `march`, tuned for the -mcpu's CPU if any."""
    tune = tuple(f"-mtune={f.split('=', 1)[1]}" for f in flags if f.startswith("-mcpu="))
    return tuple(f for f in flags if not f.startswith(("-mcpu=", "-march="))) + (march,) + tune


def gcc_flags(board: Board) -> TargetFlags:
    """Flags for Debian's cross gcc: static glibc, the board's -mcpu/-march per file (GCC_ISA_ARCH's
    ISAs: their architecture, tuned for the board's CPU)."""
    cpu = tuple(board.build.gcc_cpu_flags)
    extra = {isa: _with_feature(cpu, feat["gcc"]) for isa, feat in CPU_FEATURES[board.arch].items()
             if "gcc" in feat}
    extra.update({isa: _arch_tuned(cpu, march)
                  for isa, march in GCC_ISA_ARCH.get(board.arch, {}).items()})
    defines = isa_defines(extra)
    extra = {isa: flags + defines for isa, flags in extra.items()}
    return TargetFlags(GCC_TRIPLES[board.arch], cpu + defines + BOARD_PORTABLE_CFLAGS, extra,
                       ("-O2", "-s", "-static"))


def host_flags() -> TargetFlags:
    """Flags for the system cc on this machine: static where the platform allows it (Linux)."""
    isa_flags = HOST_ISA_FLAGS.get(platform.machine(), {})
    defines = isa_defines(isa_flags)
    extra = {isa: flags + defines for isa, flags in isa_flags.items()}
    static = ("-static",) if sys.platform.startswith("linux") else ()
    return TargetFlags("host", defines, extra, ("-O2", "-s") + static)


def isa_of(relpath: str) -> str:
    """The ISA of a runtime source from its path under runtime_c/src ('ref' unless in kernels/<isa>/)."""
    parts = relpath.replace("\\", "/").split("/")
    if len(parts) >= 3 and parts[0] == "kernels" and parts[1] in ISAS:
        return parts[1]
    return "ref"


# qemu-user per architecture (Debian's qemu-user package; its qemu-aarch64 also accepts -plugin).
QEMU_BINARIES = {"aarch64": "qemu-aarch64", "armv7": "qemu-arm"}


def qemu_command(board: Board) -> list:
    """The argv prefix that runs one of the board's static binaries here, on the board's CPU model.

    Always name the CPU: qemu's default, max, has every extension (dot product included), so a
    binary that needs one the board lacks would pass."""
    return [QEMU_BINARIES[board.arch], "-cpu", board.emulate.qemu_cpu]
