"""Board files (`boards/<name>.toml`): what tinyedge needs to know about a target board.

A board file has top-level identity fields and one table per concern:

    name = "pi4"                       # must equal the file's stem
    description = "Raspberry Pi 4 ..."
    arch = "aarch64"                   # aarch64 | armv7 | host
    uname_m = "aarch64"                # what `uname -m` prints on the board

    [build]                            # cross boards only (the host builds with the system cc)
    zig_target = "aarch64-linux-musl"  # zig's target triple
    zig_cpu = "cortex_a72"             # zig's -mcpu: LLVM spelling, underscores, +feature
    gcc_cpu_flags = ["-mcpu=cortex-a72"]   # Debian cross gcc: one -mcpu= or -march=, hyphens

    [emulate]                          # cross boards only
    qemu_cpu = "cortex-a72"            # qemu-user's -cpu model for this board

Validation is strict: an unknown table or field, a missing field, a wrong type or a malformed value is
a BoardError that names the file and the field. Adding a concern (a later `[deploy]` table) means one
more entry in SECTIONS and one more dataclass; the loader itself does not change.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10 read TOML with the tomli backport (a dependency there)
    import tomli as tomllib

from .errors import TinyEdgeError

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"

ARCHES = ("aarch64", "armv7", "host")
# The one zig triple per architecture: static musl, hard float on armv7.
ZIG_TARGETS = {"aarch64": "aarch64-linux-musl", "armv7": "arm-linux-musleabihf"}
# What the kernel reports: a 32-bit userland on a 64-bit ARMv8 kernel says armv8l.
UNAME_M = {"aarch64": ("aarch64",), "armv7": ("armv7l", "armv8l")}


class BoardError(TinyEdgeError):
    """A board file is missing, unreadable, or has a missing or malformed field."""


# --- value checks: each returns None when fine, else what is wrong (the caller adds file and field) ---

def _board_name(v: str) -> Optional[str]:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", v):
        return f"'{v}' is not a board name (lower-case letters, digits, '-' and '_')"
    return None


def _one_of(choices) -> Callable[[str], Optional[str]]:
    def check(v: str) -> Optional[str]:
        return None if v in choices else f"'{v}' is not one of: {', '.join(choices)}"
    return check


def _zig_cpu(v: str) -> Optional[str]:
    if "-" in v:
        return (f"'{v}' uses a hyphen: zig reads '-name' as removing a CPU feature; write CPU names "
                f"in LLVM's spelling with underscores (cortex_a72) and add features as +name")
    if not re.fullmatch(r"[a-z0-9_]+(\+[a-z0-9_.]+)*", v):
        return f"'{v}' is not a CPU name in LLVM's spelling (e.g. cortex_a72, generic+v7a+neon)"
    return None


def _gcc_cpu_flags(v: list) -> Optional[str]:
    bad = [f for f in v if not re.fullmatch(r"-m[a-z0-9-]+(=[a-z0-9.+-]+)?", f)]
    if bad:
        return (f"{bad[0]!r} is not a gcc machine flag (-mcpu=cortex-a72, -march=armv7-a, "
                f"-mfpu=neon, ...; gcc spells CPU names with hyphens)")
    cpu = [f for f in v if f.startswith(("-mcpu=", "-march="))]
    if len(cpu) != 1:
        return f"needs exactly one -mcpu= or -march= flag, got {len(cpu)}"
    return None


def _qemu_cpu(v: str) -> Optional[str]:
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", v):
        return f"'{v}' is not a qemu CPU model name (qemu spells them with hyphens: cortex-a72)"
    return None


@dataclass(frozen=True)
class Field:
    """One field of a board file: its TOML type, whether it may be left out, and a value check."""

    type: type
    required: bool = True
    check: Optional[Callable] = None


@dataclass(frozen=True)
class BuildSpec:
    """How to compile the runtime for the board (the `[build]` table)."""

    zig_target: str
    zig_cpu: str
    gcc_cpu_flags: tuple


@dataclass(frozen=True)
class EmulateSpec:
    """How to run the board's binaries on another machine with qemu-user (the `[emulate]` table)."""

    qemu_cpu: str


@dataclass(frozen=True)
class Board:
    """A validated board file. `build` and `emulate` are None for the host."""

    name: str
    description: str
    arch: str
    path: Path
    uname_m: Optional[str] = None
    build: Optional[BuildSpec] = None
    emulate: Optional[EmulateSpec] = None

    @property
    def is_host(self) -> bool:
        return self.arch == "host"


TOP_FIELDS = {
    "name": Field(str, check=_board_name),
    "description": Field(str),
    "arch": Field(str, check=_one_of(ARCHES)),
    "uname_m": Field(str, required=False),
}
# table name -> (dataclass, its fields). Tables apply to cross boards (arch other than host).
SECTIONS = {
    "build": (BuildSpec, {
        "zig_target": Field(str, check=_one_of(tuple(ZIG_TARGETS.values()))),
        "zig_cpu": Field(str, check=_zig_cpu),
        "gcc_cpu_flags": Field(list, check=_gcc_cpu_flags),
    }),
    "emulate": (EmulateSpec, {
        "qemu_cpu": Field(str, check=_qemu_cpu),
    }),
}


def _read_fields(table: dict, spec: dict, path: Path, where: str) -> dict:
    """Check a TOML table against a field spec; return {field: value} (lists become tuples)."""
    unknown = sorted(set(table) - set(spec))
    if unknown:
        raise BoardError(f"{path}: unknown field '{where}{unknown[0]}' (known fields here: "
                         f"{', '.join(spec)})")
    out = {}
    for key, f in spec.items():
        if key not in table:
            if f.required:
                raise BoardError(f"{path}: missing field '{where}{key}'")
            continue
        value = table[key]
        # TOML booleans are Python ints: refuse them where a number is meant.
        if not isinstance(value, f.type) or (isinstance(value, bool) and f.type is not bool):
            raise BoardError(f"{path}: field '{where}{key}' must be a {f.type.__name__}, "
                             f"got {type(value).__name__} {value!r}")
        if f.type is list and not all(isinstance(x, str) for x in value):
            raise BoardError(f"{path}: field '{where}{key}' must be a list of strings")
        problem = f.check(value) if f.check else None
        if problem:
            raise BoardError(f"{path}: field '{where}{key}': {problem}")
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def _check_cross(board: Board) -> None:
    """Rules that tie fields together: the arch decides the zig triple and `uname -m`."""
    if board.build.zig_target != ZIG_TARGETS[board.arch]:
        raise BoardError(f"{board.path}: field 'build.zig_target' must be "
                         f"'{ZIG_TARGETS[board.arch]}' for arch '{board.arch}', "
                         f"got '{board.build.zig_target}'")
    if board.uname_m not in UNAME_M[board.arch]:
        raise BoardError(f"{board.path}: field 'uname_m' must be one of "
                         f"{', '.join(UNAME_M[board.arch])} for arch '{board.arch}', "
                         f"got {board.uname_m!r}")


def parse_board(data: dict, path: Path) -> Board:
    """Validate the parsed TOML of a board file."""
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for name in tables:
        if name not in SECTIONS:
            raise BoardError(f"{path}: unknown table '[{name}]' (known tables: "
                             f"{', '.join(f'[{s}]' for s in SECTIONS)})")
    values = _read_fields(top, TOP_FIELDS, path, "")
    if values["name"] != path.stem:
        raise BoardError(f"{path}: field 'name' is '{values['name']}' but the file is "
                         f"{path.name}: a board is found by its file name, so they must agree")
    if values["arch"] == "host":
        extra = [f"table '[{t}]'" for t in sorted(tables)] + \
            (["field 'uname_m'"] if "uname_m" in values else [])
        if extra:
            raise BoardError(f"{path}: {extra[0]} does not apply to arch 'host' (the host builds "
                             f"with the system C compiler and runs natively)")
        return Board(path=path, **values)
    for name, (cls, spec) in SECTIONS.items():
        if name not in tables:
            raise BoardError(f"{path}: missing table '[{name}]' (arch '{values['arch']}' needs it)")
        values[name] = cls(**_read_fields(tables[name], spec, path, f"{name}."))
    if "uname_m" not in values:
        raise BoardError(f"{path}: missing field 'uname_m'")
    board = Board(path=path, **values)
    _check_cross(board)
    return board


def load_board_file(path: Union[str, Path]) -> Board:
    """Read and validate one board file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise BoardError(f"{path}: no such board file") from None
    except tomllib.TOMLDecodeError as e:
        raise BoardError(f"{path}: not valid TOML: {e}") from None
    return parse_board(data, path)


def board_names(directory: Path = BOARDS_DIR) -> list[str]:
    """The names of the boards in a directory (its *.toml files), sorted."""
    return sorted(p.stem for p in Path(directory).glob("*.toml"))


def load_board(name_or_path: Union[str, Path], directory: Path = BOARDS_DIR) -> Board:
    """A board by name (boards/<name>.toml) or by the path of a .toml file."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        return load_board_file(text)
    path = Path(directory) / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(board_names(directory)) or "none"
        raise BoardError(f"unknown board '{text}' (boards in {directory}: {known}; "
                         f"or give the path of a .toml board file)")
    return load_board_file(path)


def load_boards(directory: Path = BOARDS_DIR) -> dict[str, Board]:
    """Every board in a directory, by name (each file validated)."""
    return {name: load_board_file(Path(directory) / f"{name}.toml") for name in board_names(directory)}


__all__ = ["Board", "BuildSpec", "EmulateSpec", "BoardError", "BOARDS_DIR", "load_board",
           "load_board_file", "load_boards", "board_names", "parse_board"]
