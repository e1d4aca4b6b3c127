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

    [deploy]                           # every board
    remote_dir = "/var/tmp/tinyedge"   # absolute; deploy uses <remote_dir>/<remote user>/
    runner = "pi4"                     # optional: run this other board's runner build (then the
                                       # board has no [build] or [emulate] of its own)
    exec_prefix = ["qemu-aarch64", "-cpu", "cortex-a72"]   # optional: makes the board emulated

Validation is strict: an unknown table or field, a missing field, a wrong type or a malformed value is
a BoardError that names the file and the field. Adding a concern means one more entry in SECTIONS
and one more dataclass; the loader itself does not change.

Boards are found by name in a list of folders (`board_dirs`): the user's folder (`--boards-dir` or
$TINYEDGE_BOARDS_DIR) first, then the built-in `boards/`, so a user file may override a built-in one.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Optional, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10 read TOML with the tomli backport (a dependency there)
    import tomli as tomllib

from .errors import TinyEdgeError
from .resources import boards_dir as builtin_boards_dir

BOARDS_DIR_ENV = "TINYEDGE_BOARDS_DIR"
BUILTIN_SOURCE = "built-in"  # how listings name builtin_boards_dir()

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


def _remote_dir(v: str) -> Optional[str]:
    if re.search(r"[\x00-\x1f\x7f]", v):
        return f"{v!r} holds a control character"
    path = PurePosixPath(v)
    if not path.is_absolute():
        return f"'{v}' is not an absolute path (e.g. /var/tmp/tinyedge)"
    if ".." in path.parts:
        return f"'{v}' holds '..': write the directory itself"
    return None


def _exec_prefix(v: list) -> Optional[str]:
    if not v:
        return "is empty: leave exec_prefix out for a board that runs its binaries natively"
    bad = [a for a in v if not a or re.search(r"[\x00-\x1f\x7f]", a)]
    if bad:
        return f"{bad[0]!r} is empty or holds a control character"
    if re.search(r"\s", v[0]):
        return (f"the program {v[0]!r} holds a space: give the program and each of its arguments "
                f"as separate strings")
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
class DeploySpec:
    """Where and how `tinyedge deploy` runs on the board (the `[deploy]` table)."""

    remote_dir: str
    runner: Optional[str] = None
    exec_prefix: tuple = ()


@dataclass(frozen=True)
class Board:
    """A validated board file. `build` and `emulate` are None for the host and for a board that runs
    another board's runner build (`deploy.runner`); `deploy` is set for every loaded board."""

    name: str
    description: str
    arch: str
    path: Path
    uname_m: Optional[str] = None
    build: Optional[BuildSpec] = None
    emulate: Optional[EmulateSpec] = None
    deploy: Optional[DeploySpec] = None

    @property
    def is_host(self) -> bool:
        return self.arch == "host"

    @property
    def runner_board(self) -> str:
        """The name of the board whose runner build this board runs (itself unless deploy.runner)."""
        return (self.deploy.runner if self.deploy else None) or self.name

    @property
    def is_emulated(self) -> bool:
        """True when the board's binaries run under a command prefix (qemu-user) on this machine."""
        return bool(self.deploy and self.deploy.exec_prefix)


TOP_FIELDS = {
    "name": Field(str, check=_board_name),
    "description": Field(str),
    "arch": Field(str, check=_one_of(ARCHES)),
    "uname_m": Field(str, required=False),
}
# table name -> (dataclass, its fields). [build] and [emulate] apply to cross boards with a runner
# build of their own; [deploy] applies to every board.
SECTIONS = {
    "build": (BuildSpec, {
        "zig_target": Field(str, check=_one_of(tuple(ZIG_TARGETS.values()))),
        "zig_cpu": Field(str, check=_zig_cpu),
        "gcc_cpu_flags": Field(list, check=_gcc_cpu_flags),
    }),
    "emulate": (EmulateSpec, {
        "qemu_cpu": Field(str, check=_qemu_cpu),
    }),
    "deploy": (DeploySpec, {
        "remote_dir": Field(str, check=_remote_dir),
        "runner": Field(str, required=False, check=_board_name),
        "exec_prefix": Field(list, required=False, check=_exec_prefix),
    }),
}
BUILD_SECTIONS = ("build", "emulate")


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


def _read_section(name: str, tables: dict, path: Path):
    cls, spec = SECTIONS[name]
    return cls(**_read_fields(tables[name], spec, path, f"{name}."))


def _check_cross(board: Board) -> None:
    """Rules that tie fields together: the arch decides the zig triple and `uname -m`."""
    if board.build is not None and board.build.zig_target != ZIG_TARGETS[board.arch]:
        raise BoardError(f"{board.path}: field 'build.zig_target' must be "
                         f"'{ZIG_TARGETS[board.arch]}' for arch '{board.arch}', "
                         f"got '{board.build.zig_target}'")
    if board.uname_m not in UNAME_M[board.arch]:
        raise BoardError(f"{board.path}: field 'uname_m' must be one of "
                         f"{', '.join(UNAME_M[board.arch])} for arch '{board.arch}', "
                         f"got {board.uname_m!r}")


def _check_host(values: dict, tables: dict, deploy: Optional[DeploySpec], path: Path) -> None:
    """The host board builds with the system C compiler and runs natively: no cross settings."""
    extra = [f"table '[{t}]'" for t in sorted(tables) if t != "deploy"] + \
        (["field 'uname_m'"] if "uname_m" in values else [])
    if deploy is not None and deploy.runner not in (None, values["name"]):
        extra.append("field 'deploy.runner'")
    if deploy is not None and deploy.exec_prefix:
        extra.append("field 'deploy.exec_prefix'")
    if extra:
        raise BoardError(f"{path}: {extra[0]} does not apply to arch 'host' (the host builds "
                         f"with the system C compiler and runs natively)")


def parse_board(data: dict, path: Path) -> Board:
    """Validate the parsed TOML of a board file (one file alone: a `deploy.runner` naming another
    board is checked against that board by `load_board`)."""
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
    deploy = _read_section("deploy", tables, path) if "deploy" in tables else None
    if values["arch"] == "host":
        _check_host(values, tables, deploy, path)
    else:
        borrowed = deploy is not None and deploy.runner not in (None, values["name"])
        for name in BUILD_SECTIONS:
            if borrowed and name in tables:
                raise BoardError(f"{path}: table '[{name}]' does not apply: this board runs the "
                                 f"runner build of board '{deploy.runner}' (field 'deploy.runner')")
            if not borrowed and name not in tables:
                raise BoardError(f"{path}: missing table '[{name}]' (arch '{values['arch']}' "
                                 f"needs it)")
            if not borrowed:
                values[name] = _read_section(name, tables, path)
        if "uname_m" not in values:
            raise BoardError(f"{path}: missing field 'uname_m'")
        _check_cross(Board(path=path, **values))
    if deploy is None:
        raise BoardError(f"{path}: missing table '[deploy]' (every board needs one, with at least "
                         f"remote_dir = \"/var/tmp/tinyedge\")")
    return Board(path=path, deploy=deploy, **values)


def load_board_file(path: Union[str, Path]) -> Board:
    """Read and validate one board file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise BoardError(f"{path}: no such board file") from None
    except IsADirectoryError:
        raise BoardError(f"{path}: is a directory, not a board file") from None
    except tomllib.TOMLDecodeError as e:
        raise BoardError(f"{path}: not valid TOML: {e}") from None
    return parse_board(data, path)


def board_dirs(boards_dir: Union[str, Path, None] = None) -> list[Path]:
    """The folders searched for boards, first match wins: `boards_dir` (else $TINYEDGE_BOARDS_DIR
    when set), then the built-in boards (builtin_boards_dir: the checkout's boards/, else the
    installed copy). A user folder that does not exist is a BoardError."""
    user, source = (boards_dir, "--boards-dir") if boards_dir is not None else \
        (os.environ.get(BOARDS_DIR_ENV) or None, f"${BOARDS_DIR_ENV}")
    dirs = []
    if user is not None:
        user = Path(user).expanduser()
        if not user.is_dir():
            raise BoardError(f"{source} {user}: no such directory (it should hold <name>.toml "
                             f"board files)")
        dirs.append(user)
    builtin = builtin_boards_dir()
    if not dirs or dirs[0].resolve() != builtin.resolve():
        dirs.append(builtin)
    return dirs


def __getattr__(name: str):
    # BOARDS_DIR is looked up when asked for (the checkout's boards/ or the installed copy, see
    # resources.py), so that importing this module never fails on a broken install.
    if name == "BOARDS_DIR":
        return builtin_boards_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def board_files(boards_dir: Union[str, Path, None] = None) -> dict[str, Path]:
    """name -> the board file that name finds (a user folder's file hides a built-in one)."""
    found: dict[str, Path] = {}
    for d in reversed(board_dirs(boards_dir)):
        found.update({p.stem: p for p in Path(d).glob("*.toml")})
    return dict(sorted(found.items()))


def board_names(boards_dir: Union[str, Path, None] = None) -> list[str]:
    """The names of every board found (see board_dirs), sorted."""
    return list(board_files(boards_dir))


def _find(name: str, boards_dir) -> Path:
    files = board_files(boards_dir)
    if name not in files:
        where = " and ".join(str(d) for d in board_dirs(boards_dir))
        raise BoardError(f"unknown board '{name}' (boards in {where}: "
                         f"{', '.join(files) or 'none'}; or give the path of a .toml board file)")
    return files[name]


def _runner_file(board: Board, boards_dir) -> Path:
    """The file of the board deploy.runner names, found by the usual search (so a user's pi4.toml
    also serves the built-in emulated-pi4); for a board file given by a path outside the searched
    folders, a file next to it comes first."""
    searched = [d.resolve() for d in board_dirs(boards_dir)]
    sibling = board.path.parent / f"{board.runner_board}.toml"
    if board.path.parent.resolve() not in searched and sibling.is_file():
        return sibling
    return _find(board.runner_board, boards_dir)


def _check_runner(board: Board, boards_dir) -> None:
    """A board that runs another board's runner build: that board exists, builds its own runner
    (no chains) and has the same architecture."""
    if board.runner_board == board.name:
        return
    try:
        other = load_board_file(_runner_file(board, boards_dir))
    except BoardError as e:
        raise BoardError(f"{board.path}: field 'deploy.runner': {e}") from None
    if other.build is None and not other.is_host:
        raise BoardError(f"{board.path}: field 'deploy.runner': board '{other.name}' has no "
                         f"runner build of its own (it runs '{other.runner_board}'): name that "
                         f"board instead")
    if other.arch != board.arch:
        raise BoardError(f"{board.path}: field 'deploy.runner': board '{other.name}' is arch "
                         f"'{other.arch}' but this board is arch '{board.arch}'")


def load_board(name_or_path: Union[str, Path], boards_dir: Union[str, Path, None] = None) -> Board:
    """A board by name (searched in board_dirs(boards_dir)) or by the path of a .toml file; a
    `deploy.runner` is checked against the board it names."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        board = load_board_file(text)
    else:
        board = load_board_file(_find(text, boards_dir))
    _check_runner(board, boards_dir)
    return board


def load_runner_board(board: Board, boards_dir: Union[str, Path, None] = None) -> Board:
    """The board whose runner build `board` runs: `board` itself, or the one deploy.runner names."""
    if board.runner_board == board.name:
        return board
    return load_board(_runner_file(board, boards_dir), boards_dir)


def load_boards(boards_dir: Union[str, Path, None] = None) -> dict[str, Board]:
    """Every board found, by name (each file validated; the first bad one raises)."""
    return {name: load_board(name, boards_dir) for name in board_names(boards_dir)}


__all__ = ["Board", "BuildSpec", "EmulateSpec", "DeploySpec", "BoardError", "BOARDS_DIR",
           "BOARDS_DIR_ENV", "BUILTIN_SOURCE", "board_dirs", "board_files", "board_names",
           "builtin_boards_dir", "load_board", "load_board_file", "load_boards",
           "load_runner_board", "parse_board"]
