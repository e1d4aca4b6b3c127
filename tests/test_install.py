"""An installed tinyedge (a wheel, not a checkout) finds its board files and the runtime's sources.

The working tree's packaging inputs are copied to a temporary folder; an sdist is made from the
copy (so MANIFEST.in decides what it holds), a wheel from the unpacked sdist with this venv's pip
(`--no-build-isolation --no-index`: nothing is downloaded), and the wheel installed with
`pip install --no-deps --target SITE`. The installed `tinyedge` script then runs with
PYTHONPATH=SITE (the dependencies come from this venv) from a folder outside the repository, so the
checkout's boards/ and runtime_c/ cannot be what it finds: each test checks it used SITE's copy.

The reference for what the wheel must carry is the checkout itself (its boards/*.toml and every
visible file of runtime_c/); for the runner's outputs, the checkout's own host runtime.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import tinyedge
from cross_helpers import cross_cache, require_qemu, require_toolchain, run_emulated
from onnx_models import small_model
from tinyedge import resources
from tinyedge.boards import board_dirs, load_board
from tinyedge.cross.build import runtime_sources

ROOT = Path(__file__).resolve().parent.parent
# What building a wheel reads from the tree (pyproject.toml's readme included).
PACKAGING_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "tinyedge", "boards",
                    "runtime_c")
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
BUILD_TIMEOUT = 600  # seconds: compiling the extension on 2 busy cores


def visible_files(folder: Path, pattern: str = "*") -> set[str]:
    """The files under `folder` matching `pattern` (recursively), hidden ones aside, as paths
    relative to folder's parent ("runtime_c/src/model.c")."""
    def visible(p: Path) -> bool:
        return p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)

    return {p.relative_to(folder.parent).as_posix() for p in folder.rglob(pattern) if visible(p)}


def expected_data() -> set[str]:
    """What tinyedge/_data/ must hold: the checkout's board files and runtime sources."""
    return visible_files(ROOT / "boards", "*.toml") | visible_files(ROOT / "runtime_c")


def run(argv: list, cwd: Path, env: dict = None) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output when it fails."""
    done = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> SimpleNamespace:
    """The working tree built into an sdist and a wheel, the wheel installed into SITE."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.so", "*.o", "_data")
    for name in PACKAGING_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=skip)
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp / "dist"
    run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
         "print(build_meta.build_sdist(sys.argv[1]))", str(dist)], cwd=src)
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    [unpacked] = (tmp / "unpacked").iterdir()
    run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist),
         str(unpacked)], cwd=tmp)
    [wheel] = dist.glob("*.whl")
    site = tmp / "site"
    run([*PIP, "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
        cwd=tmp)
    work = tmp / "work"  # the installed tinyedge runs here: outside the repository
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TINYEDGE_BOARDS_DIR"}
    env.update(PYTHONPATH=str(site), TINYEDGE_CACHE=str(tmp / "cache"))
    return SimpleNamespace(sdist=sdist, wheel=wheel, site=site, work=work, env=env,
                           cache=tmp / "cache")


def tinyedge_cli(inst: SimpleNamespace, *args) -> subprocess.CompletedProcess:
    """The installed `tinyedge` script (pip put it in SITE/bin), run from outside the repository."""
    return subprocess.run([sys.executable, str(inst.site / "bin" / "tinyedge"), *map(str, args)],
                          cwd=inst.work, env=inst.env, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT)


def test_sdist_and_wheel_carry_boards_and_runtime(installed):
    with tarfile.open(installed.sdist) as tar:
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = expected_data() - in_sdist
    assert not missing, f"the sdist lacks {len(missing)} files, e.g. {sorted(missing)[:3]}"
    prefix = "tinyedge/_data/"
    with zipfile.ZipFile(installed.wheel) as whl:
        in_wheel = {n[len(prefix):] for n in whl.namelist() if n.startswith(prefix)}
    want = expected_data()
    assert in_wheel == want, (f"missing from the wheel: {sorted(want - in_wheel)[:3]}; "
                              f"unexpected: {sorted(in_wheel - want)[:3]}")


def test_installed_package_finds_its_own_copy(installed):
    code = ("import tinyedge, tinyedge.boards as b, tinyedge.resources as r; "
            "print(tinyedge.__file__); print(r.boards_dir()); print(r.runtime_dir()); "
            "print(b.board_dirs()[-1])")
    done = subprocess.run([sys.executable, "-c", code], cwd=installed.work, env=installed.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    package, boards, runtime, searched = map(Path, done.stdout.split())
    data = installed.site.resolve() / "tinyedge" / "_data"
    assert package.parent == installed.site.resolve() / "tinyedge"
    assert boards == data / "boards" and searched == boards
    assert runtime == data / "runtime_c"


def test_installed_boards_lists_the_builtin_boards(installed):
    done = tinyedge_cli(installed, "boards")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()}
    assert listed == {p.stem for p in (ROOT / "boards").glob("*.toml")}


def test_installed_runner_builds_from_its_copy_and_runs_under_qemu(installed, request, tmp_path):
    board = load_board("pi4")
    shared = cross_cache(request.config)  # zig's C library for aarch64 is built there once
    require_toolchain(board, "zig", shared)
    require_qemu(board)
    # Runner builds of this test stay in their own cache (its pruning must not touch the suite's
    # pi4 build); zig's global cache is the suite's, so the link reuses its musl.
    (shared / "zig").mkdir(parents=True, exist_ok=True)
    installed.cache.mkdir(exist_ok=True)
    if not (installed.cache / "zig").exists():
        (installed.cache / "zig").symlink_to(shared / "zig", target_is_directory=True)

    model = tmp_path / "small.tem"
    done = tinyedge_cli(installed, "build", small_model(tmp_path / "small.onnx"), "-o", model)
    assert done.returncode == 0, done.stderr
    done = tinyedge_cli(installed, "runner", "--board", "pi4")
    assert done.returncode == 0, done.stderr
    exe = Path(done.stdout.splitlines()[0])
    assert exe.parent.parent == installed.cache / "runners"
    recipe = json.loads((exe.parent / "build.json").read_text())
    runtime = installed.site.resolve() / "tinyedge" / "_data" / "runtime_c"
    flags = recipe["compile"]["runtime_c/tools/tinyedge_run.c"]
    assert flags[-4:] == ["-I", str(runtime / "include"), "-I", str(runtime / "src")]

    # Its outputs, byte for byte, against the checkout's host runtime on the same inputs.
    host = tinyedge.load(model)
    x = np.random.default_rng(5).uniform(-1, 1, host.inputs[0].shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ran = run_emulated(board, exe, model, "--input", f"{host.inputs[0].name}={tmp_path / 'x.npy'}",
                       "--output-dir", tmp_path / "out", "--iters", "1", "--warmup", "0")
    assert ran.returncode == 0, f"pi4 runner under qemu -cpu {board.emulate.qemu_cpu}: {ran.stderr}"
    [want] = host.run([x])
    got = np.load(tmp_path / "out" / f"{host.outputs[0].name}.npy")
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (got, want)

    # `tinyedge deploy` to the emulated board (no --host: run here under qemu) uses that build.
    summary = tmp_path / "summary.json"
    done = tinyedge_cli(installed, "deploy", model, "--board", "emulated-pi4", "--iters", "2",
                        "--warmup", "0", "--summary-json", summary)
    assert done.returncode == 0, done.stderr
    meta = json.loads(summary.read_text())["meta"]
    assert meta["runner_sha256"] == hashlib.sha256(exe.read_bytes()).hexdigest()
    assert meta["board"] == "emulated-pi4" and meta["iters"] == 2

    # The cache key hashes the installed copy: unchanged, a hit; one byte more, a new build.
    again = tinyedge_cli(installed, "runner", "--board", "pi4")
    assert again.returncode == 0 and again.stdout.splitlines()[0] == str(exe), again.stderr
    assert "cached" in again.stdout
    with open(runtime / "src" / "crc32.c", "a") as f:
        f.write("\n")
    rebuilt = tinyedge_cli(installed, "runner", "--board", "pi4")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.splitlines()[0] != str(exe) and "built in" in rebuilt.stdout


def test_checkout_uses_its_own_tree_first(tmp_path, monkeypatch):
    # Even with an installed copy present, a checkout reads its own boards/ and runtime_c/.
    copy = tmp_path / "_data"
    shutil.copytree(ROOT / "boards", copy / "boards")
    monkeypatch.setattr(resources, "INSTALLED_DIR", copy)
    assert resources.boards_dir() == ROOT / "boards"
    assert resources.runtime_dir() == ROOT / "runtime_c"


def test_missing_resources_is_one_error_naming_both_places(tmp_path, monkeypatch):
    checkout = tmp_path / "site-packages"
    installed = checkout / "tinyedge" / "_data"
    monkeypatch.setattr(resources, "CHECKOUT_DIR", checkout)
    monkeypatch.setattr(resources, "INSTALLED_DIR", installed)
    (checkout / "boards").mkdir(parents=True)  # someone else's folder, empty: not the board files
    monkeypatch.delenv("TINYEDGE_BOARDS_DIR", raising=False)
    cases = ((board_dirs, "boards", "built-in board files"),
             (runtime_sources, "runtime_c", "C runtime sources"))
    for call, folder, what in cases:
        with pytest.raises(resources.ResourceError) as e:
            call()
        msg = str(e.value)
        assert what in msg and "\n" not in msg and "reinstall" in msg
        assert f"{checkout / folder} (a source checkout)" in msg
        assert f"{installed / folder} (an installed wheel)" in msg
