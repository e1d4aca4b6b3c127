"""Shared by the cross-build tests: the build cache, skips for missing tools, running under qemu.

Runner builds go to $TINYEDGE_CACHE when set, else to the pytest cache folder (.pytest_cache), so
zig builds musl once per target for every later run of the suite, and the two test files share their
builds (a second build_runner call with the same sources and flags is a cache hit).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tinyedge.boards import Board, load_board
from tinyedge.cross import ToolchainError, build_runner, toolchain_for
from tinyedge.cross.targets import QEMU_BINARIES, qemu_command

QEMU_TIMEOUT = 300  # seconds: a whole MobileNetV2-style model under emulation takes a few


def cross_cache(config) -> Path:
    """Where the tests cache their runner builds (and zig its C libraries)."""
    if os.environ.get("TINYEDGE_CACHE"):
        return Path(os.environ["TINYEDGE_CACHE"])
    return Path(config.cache.mkdir("tinyedge-cross"))


def require_toolchain(board: Board, kind: str, cache: Path) -> None:
    """Skip, saying what is missing, when the toolchain for the board is not installed."""
    try:
        toolchain_for(board, kind, cache)
    except ToolchainError as e:
        pytest.skip(f"toolchain missing: {e}")


def require_qemu(board: Board) -> None:
    """Skip, saying what to install, when qemu-user for the board's architecture is missing."""
    exe = QEMU_BINARIES[board.arch]
    if shutil.which(exe) is None:
        pytest.skip(f"{exe} is not installed: apt-get install qemu-user (make test does it as root)")


def runner(name: str, kind: str, cache: Path) -> tuple[Board, Path]:
    """The board and its runner, built (or found in the cache); skips when the toolchain is missing."""
    board = load_board(name)
    require_toolchain(board, kind, cache)
    return board, build_runner(board, kind, cache=cache).path


def run_emulated(board: Board, exe: Path, *args, cpu: str = None) -> subprocess.CompletedProcess:
    """Run a board binary under qemu-user on the board's CPU model (or `cpu`)."""
    require_qemu(board)
    argv = qemu_command(board)
    if cpu is not None:
        argv[2] = cpu
    return subprocess.run([*argv, str(exe), *map(str, args)], capture_output=True, text=True,
                          timeout=QEMU_TIMEOUT)
