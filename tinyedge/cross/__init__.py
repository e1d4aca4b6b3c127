"""Cross builds of the C runtime: the static on-device runner `tinyedge-run` for each board.

    from tinyedge.boards import load_board
    from tinyedge.cross import build_runner
    r = build_runner(load_board("pi4"))   # zig by default; toolchain="gcc" for Debian's cross gcc
    r.path, r.size                        # the cached, stripped static binary and its size in bytes

docs/cross.md explains the toolchains, the flags and the cache.
"""
from .build import BUDGET_BYTES, RUNNER_NAME, BuildError, RunnerBuild, build_runner, toolchain_for
from .cache import cache_root
from .toolchain import TOOLCHAINS, Toolchain, ToolchainError

__all__ = ["BUDGET_BYTES", "RUNNER_NAME", "BuildError", "RunnerBuild", "build_runner", "toolchain_for",
           "cache_root", "TOOLCHAINS", "Toolchain", "ToolchainError"]
