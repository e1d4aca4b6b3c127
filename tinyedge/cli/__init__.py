"""The `tinyedge` command line: one sub-command per module of this package."""
from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..errors import TinyEdgeError
from .fmt import stdout_console
from . import bench, boards, build, deploy, inspect, ops, run, runner
from . import eval as eval_cmd

COMMANDS = (build, inspect, run, eval_cmd, bench, ops, runner, boards, deploy)


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    p = argparse.ArgumentParser(
        prog="tinyedge",
        description="Compile ONNX models into flat .tem files and run them with tinyedge's C runtime.")
    p.add_argument("--version", action="version", version=f"tinyedge {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for cmd in COMMANDS:
        cmd.add_parser(sub)
    return p


def main(argv=None) -> int:
    """Entry point of the `tinyedge` script; returns the exit status."""
    args = make_parser().parse_args(argv)
    console = stdout_console()
    try:
        return args.func(args, console) or 0
    except (TinyEdgeError, OSError) as e:
        msg = str(e) if isinstance(e, TinyEdgeError) else f"{e.filename or ''}: {e.strerror or e}"
        Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {escape(msg)}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
