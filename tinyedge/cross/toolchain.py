"""Find a C compiler for a board: zig (from PyPI), Debian's cross gcc, or the host's cc.

zig is the default for ARM boards: `pip install ziglang` gives it without root on Linux, macOS and
Windows, and it links musl statically, so the binary runs on any board of the architecture whatever
its glibc. Debian's cross gcc is the alternative (`--toolchain gcc`, needs apt and root). The host
board builds with the system cc ($CC, else cc).

A missing toolchain is a ToolchainError that names what is missing and how to get it.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..boards import Board
from ..errors import TinyEdgeError
from .targets import GCC_TRIPLES, TargetFlags, gcc_flags, host_flags, zig_flags

TOOLCHAINS = ("zig", "gcc")
ZIG_PIP = "ziglang==0.17.1"  # the version the tests run with
# The Debian packages of each cross gcc: the compiler, and the C library it links statically.
GCC_PACKAGES = {"aarch64": ("gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"),
                "armv7": ("gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross")}


class ToolchainError(TinyEdgeError):
    """No usable compiler for the board with the toolchain asked for."""


@dataclass(frozen=True)
class Toolchain:
    """A C compiler ready to build for one board."""

    kind: str                 # "zig", "gcc" (a cross gcc) or "cc" (the host's compiler)
    command: tuple            # argv prefix of a compile or link: (".../zig", "cc"), ("cc",)
    version: str              # part of the cache key: another compiler version is another build
    flags: TargetFlags
    env: dict = field(default_factory=dict)  # added to the environment of every call

    @property
    def label(self) -> str:
        """The compiler and its version number: 'zig 0.17.1', 'aarch64-linux-gnu-gcc 12.2.0'."""
        number = re.search(r"\d+\.\d+(\.\d+)?", self.version)
        return f"{Path(self.command[0]).name} {number.group(0) if number else self.version}"


def _first_line(argv: list) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise ToolchainError(f"{' '.join(argv)} failed: {(out.stderr or out.stdout).strip()[:300]}")
    return (out.stdout or out.stderr).strip().splitlines()[0]


def zig_executable() -> Optional[Path]:
    """The zig binary of the `ziglang` package in this Python, else `zig` on PATH, else None.

    `python -m ziglang` only execs the binary next to the package's __init__.py; calling it directly
    saves a Python start per compile."""
    spec = importlib.util.find_spec("ziglang")
    if spec is not None and spec.origin:
        exe = Path(spec.origin).parent / ("zig.exe" if os.name == "nt" else "zig")
        if exe.is_file():
            return exe
    found = shutil.which("zig")
    return Path(found) if found else None


def find_zig(board: Board, cache_dir: Path) -> Toolchain:
    """zig for a cross board, with its caches kept in `cache_dir` (stable: musl is built once)."""
    exe = zig_executable()
    if exe is None:
        raise ToolchainError(
            f"zig is not installed: the Python package 'ziglang' is not importable from "
            f"{sys.executable} and there is no 'zig' on PATH. Install it without root: "
            f"{sys.executable} -m pip install '{ZIG_PIP}'; "
            f"or build with Debian's cross gcc: --toolchain gcc")
    env = {"ZIG_GLOBAL_CACHE_DIR": str(cache_dir), "ZIG_LOCAL_CACHE_DIR": str(cache_dir)}
    version = _first_line([str(exe), "version"])
    return Toolchain("zig", (str(exe), "cc"), version, zig_flags(board), env)


def _gcc_has_static_libc(gcc: str) -> bool:
    # gcc prints the bare name back when it cannot find the file in its search path.
    out = subprocess.run([gcc, "-print-file-name=libc.a"], capture_output=True, text=True, timeout=60)
    return out.returncode == 0 and os.path.isabs(out.stdout.strip())


def find_gcc(board: Board) -> Toolchain:
    """Debian's cross gcc for a cross board, checked for its static C library too."""
    gcc = f"{GCC_TRIPLES[board.arch]}-gcc"
    packages = GCC_PACKAGES[board.arch]
    how = (f"install them with: sudo apt-get install {' '.join(packages)} (Debian/Ubuntu); "
           f"or use the default toolchain, zig, which needs no root: pip install '{ZIG_PIP}'")
    if shutil.which(gcc) is None:
        raise ToolchainError(f"{gcc} is not installed (Debian packages {', '.join(packages)}): {how}")
    if not _gcc_has_static_libc(gcc):
        raise ToolchainError(f"{gcc} cannot link statically: its C library is missing "
                             f"(Debian package {packages[1]}): {how}")
    version = _first_line([gcc, "--version"])
    return Toolchain("gcc", (gcc,), version, gcc_flags(board))


def find_host_cc() -> Toolchain:
    """The system C compiler: $CC, else cc."""
    cc = os.environ.get("CC") or "cc"
    argv = cc.split()
    if shutil.which(argv[0]) is None:
        raise ToolchainError(f"no C compiler for the host: '{argv[0]}' is not on PATH "
                             f"(Debian: sudo apt-get install gcc; or set CC)")
    return Toolchain("cc", tuple(argv), _first_line([*argv, "--version"]), host_flags())


def find_toolchain(board: Board, kind: Optional[str], zig_cache: Path) -> Toolchain:
    """The toolchain for a board: `kind` is zig, gcc or None (zig for ARM boards, cc for the host)."""
    if kind is not None and kind not in TOOLCHAINS:
        raise ToolchainError(f"unknown toolchain '{kind}' (choose from: {', '.join(TOOLCHAINS)})")
    if board.is_host:
        if kind == "zig":
            raise ToolchainError(f"board '{board.name}' builds with the system C compiler; "
                                 f"--toolchain zig is for the ARM boards")
        return find_host_cc()
    if kind in (None, "zig"):
        return find_zig(board, zig_cache)
    return find_gcc(board)
