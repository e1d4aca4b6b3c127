"""Build `tinyedge-run`, the static on-device runner, for a board; cache the result on the host.

The recipe: every .c under runtime_c/src plus the runner's main (runtime_c/tools/tinyedge_run.c)
and its helpers (runtime_c/tools/run/*.c) are compiled to objects, in parallel, each with the flags
of its ISA (targets.py); the objects are linked static and stripped with the target's one fixed link
flag set. The build happens in a temporary folder next to its final place and is renamed into place
when complete, so a reader never sees half a runner and two builds never mix their objects.

A finished build is found again by its key (cache.py): sources, target, toolchain, version, flags.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..boards import Board
from ..errors import TinyEdgeError
from ..resources import runtime_dir
from .cache import build_key, cache_root, tree_digest
from .targets import LIBS, isa_of
from .toolchain import Toolchain, find_toolchain

# Under the runtime's folder (resources.runtime_dir(): the checkout's runtime_c/, else the copy an
# installed wheel carries).
RUNNER_MAIN = Path("tools") / "tinyedge_run.c"
RUNNER_HELPERS = Path("tools") / "run"
RUNNER_NAME = "tinyedge-run"
BUDGET_BYTES = 300 * 1024  # aarch64, every kernel in: a third under TFLite's selective arm64 build

# (stage, done, total): stage is "compile" or "link"; the CLI turns these into a progress bar.
Progress = Callable[[str, int, int], None]


class BuildError(TinyEdgeError):
    """A source of the runtime or the runner does not compile or link for the board."""


@dataclass
class RunnerBuild:
    """A built (or cached) runner: where it is, its stripped size and how it was made."""

    board: Board
    toolchain: Toolchain
    path: Path
    size: int
    key: str
    cached: bool
    seconds: float = 0.0
    warnings: list = field(default_factory=list)  # compiler diagnostics of a successful build


def runtime_sources() -> list[Path]:
    """Every C file of the runtime (runtime_c/src, kernels of every ISA included)."""
    return sorted((runtime_dir() / "src").rglob("*.c"))


def runner_sources() -> list[Path]:
    """The runner's main and its helper files."""
    runtime = runtime_dir()
    main = runtime / RUNNER_MAIN
    if not main.is_file():
        raise BuildError(f"{main} is missing: it is the runner's main program "
                         f"(this copy of the runtime has no tinyedge-run sources)")
    return [main, *sorted((runtime / RUNNER_HELPERS).glob("*.c"))]


def _compile_flags(tc: Toolchain, source: Path, runtime: Path) -> tuple:
    """The flags of one source: its ISA's (by its path under runtime/src), include paths last."""
    try:
        rel = source.relative_to(runtime / "src").as_posix()
    except ValueError:  # the runner's own files are portable code
        rel = ""
    return tc.flags.for_isa(isa_of(rel)) + ("-I", str(runtime / "include"), "-I", str(runtime / "src"))


def _sources_digest(extra: Sequence[Path], runtime: Path) -> str:
    """The runtime's files (all of runtime_c/, hidden files aside) and any outside main sources."""
    files = [p for p in runtime.rglob("*") if p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(runtime).parts)]
    outside = [p for p in extra if runtime not in p.resolve().parents]
    digest = tree_digest(runtime, files)
    for p in outside:
        digest = tree_digest(p.parent, [p]) + digest
    return digest


def _link_flags(tc: Toolchain, strip: bool) -> tuple:
    """The target's link flags; without `-s` when the symbols are kept (zig then builds its C library
    once more for that flag set, about a minute, cached like the stripped one)."""
    return tuple(tc.flags.link) if strip else tuple(f for f in tc.flags.link if f != "-s")


def _recipe(board: Board, tc: Toolchain, sources: Sequence[Path], strip: bool,
            runtime: Path) -> dict:
    """Everything that decides the runner's bytes (the cache key is its hash). Sources are named
    relative to the runtime folder's parent (runtime_c/src/...: the checkout's root, or the
    installed package's _data/); the -I flags keep the folder's absolute place in the key."""
    base = runtime.parent
    return {
        "board": board.name, "arch": board.arch, "target": tc.flags.target,
        "toolchain": tc.kind, "version": tc.version,
        "compile": {str(s.relative_to(base) if base in s.parents else s):
                    list(_compile_flags(tc, s, runtime)) for s in sources},
        "link": list(_link_flags(tc, strip)) + list(LIBS),
        "sources": _sources_digest(sources, runtime),
    }


def _run(argv: list, tc: Toolchain, what: str, timeout: float) -> str:
    """Run one compiler command; return its diagnostics, or raise BuildError naming `what`."""
    env = {**os.environ, **tc.env}
    try:
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: {tc.kind} took longer than {timeout:.0f} s") from None
    diagnostics = (out.stderr + out.stdout).strip()
    if out.returncode != 0:
        lines = diagnostics.splitlines()
        shown = "\n".join(lines[:25])
        if len(lines) > 25:
            shown += f"\n... ({len(lines) - 25} more lines)"
        raise BuildError(f"{what} failed with {tc.label} (target {tc.flags.target}):\n{shown}")
    return diagnostics


def _compile_all(tc: Toolchain, sources: Sequence[Path], runtime: Path, obj_dir: Path,
                 progress: Optional[Progress]) -> tuple[list[Path], list[str]]:
    """Compile every source to obj_dir in parallel; return the objects (in source order) and warnings."""
    objects, warnings = {}, []

    def one(i: int, src: Path) -> tuple[int, Path, str]:
        obj = obj_dir / f"{i:03d}_{src.stem}.o"
        argv = [*tc.command, *_compile_flags(tc, src, runtime), "-c", str(src), "-o", str(obj)]
        text = _run(argv, tc, f"compiling {src}", timeout=600)
        return i, obj, text

    workers = max(1, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, i, s) for i, s in enumerate(sources)]
        try:
            for done, fut in enumerate(as_completed(futures), 1):
                i, obj, text = fut.result()
                objects[i] = obj
                if text:
                    warnings.append(text)
                if progress:
                    progress("compile", done, len(sources))
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return [objects[i] for i in range(len(sources))], warnings


def _libc_marker(tc: Toolchain) -> Optional[Path]:
    """A file that says zig has already built its libc for this target (None for gcc/cc)."""
    if tc.kind != "zig":
        return None
    return Path(tc.env["ZIG_GLOBAL_CACHE_DIR"]) / f"tinyedge-libc-{tc.flags.target}-{tc.version}.done"


def first_link_is_slow(tc: Toolchain) -> bool:
    """True when this link will also build the C library (zig: about a minute, once per target)."""
    marker = _libc_marker(tc)
    return marker is not None and not marker.exists()


def _link(tc: Toolchain, objects: Sequence[Path], out: Path, progress: Optional[Progress],
          strip: bool = True) -> None:
    if progress:
        progress("link", 0, 1)
    _run([*tc.command, *_link_flags(tc, strip), *map(str, objects), *LIBS, "-o", str(out)],
         tc, f"linking {RUNNER_NAME}", timeout=1800)
    marker = _libc_marker(tc)
    if marker is not None:
        marker.touch()
    if progress:
        progress("link", 1, 1)


def _install(tmp: Path, final: Path) -> None:
    """Rename a finished build folder into place, replacing an older one of the same key."""
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.replace(final, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, final)


def _prune(runners: Path, prefix: str, keep: Path) -> None:
    """Remove the stale builds of the same board and toolchain (their sources or flags changed).

    Only `prefix` + a key matches: "pi4-zig-" leaves "pi4-zig-symbols-<key>" alone."""
    for d in runners.glob(f"{prefix}*"):
        key = d.name[len(prefix):]
        if d != keep and d.is_dir() and "-" not in key:
            shutil.rmtree(d, ignore_errors=True)


def toolchain_for(board: Board, kind: Optional[str] = None, cache: Optional[Path] = None) -> Toolchain:
    """The toolchain a runner build for `board` would use (zig keeps its cache under `cache`)."""
    return find_toolchain(board, kind, (cache or cache_root()) / "zig")


def build_runner(board: Board, toolchain: Optional[str] = None, force: bool = False,
                 progress: Optional[Progress] = None, cache: Optional[Path] = None,
                 main_sources: Optional[Sequence[Path]] = None, strip: bool = True) -> RunnerBuild:
    """Build tinyedge-run for a board unless a current build is cached; return where it is.

    toolchain: "zig", "gcc" or None (zig for ARM boards, the system cc for the host). force: rebuild
    even when cached. main_sources replaces the runner's own files (a test's main program).
    strip=False keeps the symbol table (for `nm`, e.g. to count one function's instructions under
    qemu: benchmarks/arm_kernels.py); such a build is cached apart from the stripped one, and its
    size is not the size that the budget is about."""
    cache = Path(cache) if cache else cache_root()
    tc = toolchain_for(board, toolchain, cache)
    runtime = runtime_dir()
    # The runner's files first: they change most often, so a compile error shows up soonest.
    sources = list(main_sources if main_sources is not None else runner_sources()) + runtime_sources()
    recipe = _recipe(board, tc, sources, strip, runtime)
    key = build_key(recipe)
    runners = cache / "runners"
    # Stripped and unstripped builds have their own prefixes, so neither prunes the other.
    prefix = f"{board.name}-{tc.kind}-" if strip else f"{board.name}-{tc.kind}-symbols-"
    final = runners / f"{prefix}{key}"
    exe = final / RUNNER_NAME
    if exe.is_file() and (final / "build.json").is_file() and not force:
        return RunnerBuild(board, tc, exe, exe.stat().st_size, key, cached=True)

    t0 = time.perf_counter()
    runners.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{prefix}", dir=runners))
    try:
        (tmp / "obj").mkdir()
        objects, warnings = _compile_all(tc, sources, runtime, tmp / "obj", progress)
        _link(tc, objects, tmp / RUNNER_NAME, progress, strip)
        shutil.rmtree(tmp / "obj")
        size = (tmp / RUNNER_NAME).stat().st_size
        seconds = time.perf_counter() - t0
        info = {**recipe, "key": key, "size": size, "seconds": round(seconds, 2),
                "compiler": list(tc.command), "board_file": str(board.path)}
        (tmp / "build.json").write_text(json.dumps(info, indent=1) + "\n")
        _install(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(runners, prefix, final)
    return RunnerBuild(board, tc, exe, size, key, cached=False, seconds=seconds, warnings=warnings)
