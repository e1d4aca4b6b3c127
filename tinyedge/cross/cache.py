"""Where tinyedge caches builds on the host, and the key that says a build is still current.

The cache root is $TINYEDGE_CACHE, else $XDG_CACHE_HOME/tinyedge, else ~/.cache/tinyedge. Inside it:
  zig/                          zig's global cache (musl per target triple, compiled objects)
  runners/<board>-<toolchain>-<key>/tinyedge-run, build.json
A runner's key hashes everything that decides its bytes: the runtime's sources (every file under
runtime_c/, by path and content: the checkout's, or the copy an installed wheel carries, see
tinyedge/resources.py), the target, the toolchain and its version, and every flag.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable


def cache_root() -> Path:
    """The root of tinyedge's host cache (not created here)."""
    if os.environ.get("TINYEDGE_CACHE"):
        return Path(os.environ["TINYEDGE_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "tinyedge"
    return Path.home() / ".cache" / "tinyedge"


def tree_digest(root: Path, files: Iterable[Path]) -> str:
    """SHA-256 over the files' paths (relative to root) and contents, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        h.update(len(rel).to_bytes(8, "little") + rel + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def build_key(recipe: dict) -> str:
    """A short stable hash of a JSON-able description of a build."""
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
