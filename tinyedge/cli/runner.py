"""`tinyedge runner`: build (when missing or stale) the static on-device runner for a board.

Prints the runner's path on the first line of stdout (so `scp "$(tinyedge runner --board pi4 |
head -n1)" pi@host:` works), then its stripped size. Progress goes to stderr.
"""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .fmt import human_bytes


def add_parser(sub) -> None:
    from ..boards import board_names
    from ..cross import TOOLCHAINS
    from ..errors import TinyEdgeError

    try:
        boards = "Boards: " + ", ".join(board_names()) + "."
    except TinyEdgeError:  # e.g. a broken install without its board files: running says so
        boards = "`tinyedge boards` lists the boards."
    p = sub.add_parser(
        "runner", help="build the static tinyedge-run program for a board",
        description="Build tinyedge-run (static, stripped) for a board unless a current build is "
                    "cached; print its path and size. " + boards)
    p.add_argument("--board", required=True, metavar="NAME",
                   help="a board name (boards/NAME.toml) or the path of a board .toml file")
    p.add_argument("--toolchain", choices=TOOLCHAINS, default=None,
                   help="zig (default for ARM boards: pip install ziglang, no root) or gcc "
                        "(Debian's cross gcc; on the host board, the system cc)")
    p.add_argument("--force", action="store_true", help="rebuild even when a current build is cached")
    p.set_defaults(func=run)


def _describe(build) -> str:
    tc = build.toolchain
    target = "this machine" if build.board.is_host else tc.flags.target
    return f"tinyedge-run for {build.board.name} ({target}, {tc.label})"


class BuildProgress:
    """Shows build_runner's progress on stderr: a live bar on a terminal, one line per stage
    otherwise (a log or a pipe). Nothing appears when the build is found in the cache."""

    def __init__(self, board, toolchain, slow_link: bool):
        self.err = Console(stderr=True, highlight=False)
        self.labels = {
            "compile": f"compiling for {board.name} ({toolchain.label})",
            "link": "linking" + (f" (zig builds its C library for {toolchain.flags.target} first: "
                                 f"about a minute, once)" if slow_link else ""),
        }
        self.live = None
        self.tasks = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.err.is_terminal:
            if stage not in self.tasks:
                self.tasks[stage] = None
                self.err.print(f"{self.labels[stage]} ({total} file{'s' * (total != 1)})"
                               if stage == "compile" else self.labels[stage], markup=False)
            return
        if self.live is None:
            self.live = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.err, transient=True)
            self.live.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.live.add_task(self.labels[stage], total=total)
        self.live.update(self.tasks[stage], completed=done)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def run(args, console) -> int:
    from ..boards import load_board, load_runner_board
    from ..cross import BUDGET_BYTES, build_runner, toolchain_for
    from ..cross.build import first_link_is_slow

    # A board that runs another board's build (emulated-pi4 runs pi4's) gets that build.
    board = load_runner_board(load_board(args.board))
    tc = toolchain_for(board, args.toolchain)
    progress = BuildProgress(board, tc, first_link_is_slow(tc))
    try:
        build = build_runner(board, args.toolchain, force=args.force, progress=progress)
    finally:
        progress.close()
    for text in build.warnings:  # compiler diagnostics of a build that succeeded
        progress.err.print(text, soft_wrap=True, markup=False, style="yellow")
    console.print(str(build.path), soft_wrap=True, markup=False)
    how = "cached" if build.cached else f"built in {build.seconds:.1f} s"
    line = f"{_describe(build)}: {human_bytes(build.size)} stripped ({build.size} bytes), {how}"
    if board.arch == "aarch64" and build.toolchain.kind == "zig" and build.size > BUDGET_BYTES:
        line += f" [over the {human_bytes(BUDGET_BYTES)} budget]"
    console.print(line, soft_wrap=True, markup=False)
    return 0
