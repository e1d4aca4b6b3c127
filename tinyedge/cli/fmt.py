"""Small formatting helpers shared by the commands."""
import os

from rich.console import Console

# Width of output that goes to a log or a pipe: rich would assume 80 columns and fold tables.
PIPE_WIDTH = 160


def stdout_console() -> Console:
    """The console for a command's results: the terminal's width, or PIPE_WIDTH columns when
    stdout is a log or a pipe (unless $COLUMNS says otherwise), so table rows stay whole."""
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=PIPE_WIDTH)
    return console


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def shape_str(shape) -> str:
    """(1, 3, 8, 8) -> '1x3x8x8'; () -> 'scalar'."""
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"
