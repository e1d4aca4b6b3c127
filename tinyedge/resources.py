"""Where tinyedge's built-in board files and the C runtime's sources are.

A source checkout keeps them at the top of the repository, next to the package: `boards/*.toml` and
`runtime_c/` (the cross builds compile the runner from it). A wheel cannot put files there, so
setup.py's build_py copies both into the package, as `tinyedge/_data/boards/` and
`tinyedge/_data/runtime_c/`. The checkout is looked at first, so a checkout (an editable install,
`make test`) always uses the tree's own files, never a copy; an installed wheel finds its copy.

The folders are looked up on each call, not at import: a broken install still imports, and only
what needs the files fails, with one line naming both places.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .errors import TinyEdgeError

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent       # a checkout: boards/ and runtime_c/ sit next to tinyedge/
INSTALLED_DIR = PACKAGE_DIR / "_data"   # a wheel: setup.py's build_py copies them here
BOARDS = "boards"
RUNTIME = "runtime_c"


class ResourceError(TinyEdgeError):
    """The built-in board files or the runtime's sources are in neither place tinyedge looks."""


def _locate(name: str, what: str, looks_right: Callable[[Path], bool]) -> Path:
    """The first of CHECKOUT_DIR/name and INSTALLED_DIR/name that `looks_right` accepts.

    The check is more than `is_dir()` because an installed tinyedge's CHECKOUT_DIR is
    site-packages (or a --target folder), where a folder of that name may belong to someone else."""
    candidates = [CHECKOUT_DIR / name, INSTALLED_DIR / name]
    for folder in candidates:
        if looks_right(folder):
            return folder
    raise ResourceError(f"tinyedge's {what} are missing: neither {candidates[0]} (a source "
                        f"checkout) nor {candidates[1]} (an installed wheel) has them; reinstall "
                        f"tinyedge (pip install --force-reinstall tinyedge) or run it from a "
                        f"checkout")


def boards_dir() -> Path:
    """The folder of the built-in board files (`<name>.toml`): the checkout's boards/, else the
    installed copy. Raises ResourceError when neither has a board file."""
    return _locate(BOARDS, "built-in board files",
                   lambda d: d.is_dir() and any(d.glob("*.toml")))


def runtime_dir() -> Path:
    """The folder of the C runtime's sources (include/, src/, tools/): the checkout's runtime_c/,
    else the installed copy. Raises ResourceError when neither has runtime_c/include/tinyedge.h."""
    return _locate(RUNTIME, "C runtime sources (runtime_c/)",
                   lambda d: (d / "include" / "tinyedge.h").is_file())


__all__ = ["BOARDS", "CHECKOUT_DIR", "INSTALLED_DIR", "PACKAGE_DIR", "RUNTIME", "ResourceError",
           "boards_dir", "runtime_dir"]
