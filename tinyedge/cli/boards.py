"""`tinyedge boards`: list the boards tinyedge knows, one line each.

Boards come from the user's folder (`--boards-dir` or $TINYEDGE_BOARDS_DIR) and then the built-in
boards/; a user file hides a built-in one of the same name. A broken board file gets its error line
in place of its row, the others are still listed, and the exit status is 1.
"""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def add_parser(sub) -> None:
    p = sub.add_parser(
        "boards", help="list the boards (built-in and your own board files)",
        description="List every board: architecture, CPU, the runner build it uses, whether it is "
                    "emulated, its remote directory and description. Your own board files in "
                    "--boards-dir (or $TINYEDGE_BOARDS_DIR) come first and may override a "
                    "built-in board.")
    p.add_argument("--boards-dir", metavar="DIR", default=None,
                   help="a folder of your own <name>.toml board files, searched before the "
                        "built-in ones (default: $TINYEDGE_BOARDS_DIR when set)")
    p.set_defaults(func=run)


def _cpu(board, runner) -> str:
    """The CPU the runner build targets: gcc's -mcpu= (or -march=) value."""
    if runner.is_host:
        return "this machine"
    for flag in runner.build.gcc_cpu_flags:
        if flag.startswith(("-mcpu=", "-march=")):
            return flag.split("=", 1)[1]
    return "?"


def _emulated(board) -> str:
    return " ".join(board.deploy.exec_prefix) if board.is_emulated else "no"


def _rows(args, dirs) -> tuple[list, list]:
    """One row of plain strings per board (an error row for a file that does not load), and the
    errors."""
    from ..boards import BUILTIN_SOURCE, BoardError, board_files, load_board, load_runner_board

    rows, errors = [], []
    for name, path in board_files(args.boards_dir).items():
        source = BUILTIN_SOURCE if path.parent.resolve() == dirs[-1].resolve() else str(path.parent)
        try:
            board = load_board(path, args.boards_dir)
            runner = load_runner_board(board, args.boards_dir)
        except BoardError as e:
            errors.append(str(e))
            rows.append([name, "error", "-", "-", "-", "-", str(e), source])
            continue
        rows.append([name, board.arch, _cpu(board, runner), board.runner_board, _emulated(board),
                     board.deploy.remote_dir, board.description, source])
    return rows, errors


def run(args, console) -> int:
    from ..boards import board_dirs

    dirs = board_dirs(args.boards_dir)
    user_folder = len(dirs) > 1
    columns = ["board", "arch", "CPU", "runner", "emulated", "remote dir", "description", "from"]
    rows, errors = _rows(args, dirs)
    if not user_folder:  # where each board came from matters only when a user folder is in use
        columns.pop()
        rows = [r[:-1] for r in rows]
    if console.is_terminal:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for col in columns:
            table.add_column(col, no_wrap=col not in ("description", "remote dir"),
                             overflow="fold")
        for row in rows:
            style = "red" if row[1] == "error" else None
            table.add_row(*map(escape, row), style=style)
        console.print(table)
    else:  # a pipe or a file: one unwrapped line per board, columns aligned, for grep and awk
        widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
        for row in [columns, *rows]:
            cells = [c.ljust(w) for c, w in zip(row, widths)]
            console.print("  ".join(cells).rstrip(), markup=False, soft_wrap=True)
    if user_folder:
        console.print(f"boards from {dirs[0]}, then the built-in {dirs[-1]}", markup=False,
                      soft_wrap=True)
    err = Console(stderr=True, highlight=False)
    for e in errors:
        err.print(f"[bold red]error:[/] {escape(e)}", soft_wrap=True)
    return 1 if errors else 0
