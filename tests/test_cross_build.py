"""Cross builds of tinyedge-run: board files, flags, the cache, sizes, and `tinyedge runner`.

What the board files claim about each CPU is checked against the compilers themselves (their
predefined macros), and each board's runner is run under qemu-user on that board's CPU model, so a
binary that needs an extension the board lacks (the dot product on a Pi 4) dies here with SIGILL.
Runner builds share the suite's cache (cross_helpers.py); zig builds musl once per target.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import tinyedge
from cross_helpers import cross_cache, require_toolchain, run_emulated, runner
from graph_zoo import zoo
from tinyedge.boards import BoardError, load_board, load_board_file, load_boards
from tinyedge.cli import main
from tinyedge.cross import BUDGET_BYTES, BuildError, build_runner, cache_root, toolchain_for
from tinyedge.cross.targets import isa_of
from tinyedge.format import serialize
from tinyedge.plan import plan_memory

ROOT = Path(__file__).resolve().parent.parent
BOARDS = ("pi5", "pi4", "pi3", "pizero2w", "aarch64-linux", "armv7-linux", "host")
# Boards that run another board's runner build (their [deploy] runner): no build of their own.
BORROWERS = {"android-arm64": "aarch64-linux", "emulated-pi4": "pi4"}
CROSS = tuple(b for b in BOARDS if b != "host")
HAS_DOTPROD = {"pi5"}


@pytest.fixture(scope="module")
def cache(request) -> Path:
    return cross_cache(request.config)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A small float CNN (.tem) for the runners to execute."""
    g = zoo()["tiny_cnn"]
    path = tmp_path_factory.mktemp("cross_model") / "tiny_cnn.tem"
    path.write_bytes(serialize(g, plan_memory(g), {"name": "tiny_cnn"}))
    return path


# --- board files ---------------------------------------------------------------------------------

def test_every_board_has_a_valid_file():
    boards = load_boards()
    assert set(boards) == set(BOARDS) | set(BORROWERS)
    for name in CROSS:
        assert boards[name].build is not None and boards[name].emulate is not None, name
    for name, runner_board in BORROWERS.items():
        assert boards[name].runner_board == runner_board and boards[name].build is None, name


def predefined_macros(board, kind: str, isa: str, cache: Path) -> str:
    tc = toolchain_for(board, kind, cache)
    out = subprocess.run([*tc.command, *tc.flags.for_isa(isa), "-dM", "-E", "-x", "c", os.devnull],
                         capture_output=True, text=True, env={**os.environ, **tc.env}, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("kind", ["zig", "gcc"])
@pytest.mark.parametrize("name", CROSS)
def test_board_flags_give_the_board_cpu(name, kind, cache):
    """The compiler confirms each board's flags: ARMv7 NEON with hard float, the dot product only on
    the Pi 5 for portable code, and on every aarch64 board for the dot-product kernels' files."""
    board = load_board(name)
    require_toolchain(board, kind, cache)
    macros = predefined_macros(board, kind, "ref", cache)
    assert ("__ARM_FEATURE_DOTPROD" in macros) == (name in HAS_DOTPROD), name
    if board.arch == "armv7":
        assert "#define __ARM_ARCH 7" in macros and "__ARM_NEON " in macros
        assert "__ARM_PCS_VFP" in macros, "armv7 boards are hard float (armhf)"
    else:
        assert "__aarch64__" in macros
        assert "__ARM_FEATURE_DOTPROD" in predefined_macros(board, kind, "neon_dot", cache)


@pytest.mark.parametrize("relpath, isa", [
    ("kernels/ref/conv2d.c", "ref"), ("loader.c", "ref"), ("kernels/neon/conv2d_s8.c", "neon"),
    ("kernels/neon_dot/conv2d_s8.c", "neon_dot"), ("kernels/avx2/gemm.c", "avx2"),
    ("kernels/other/x.c", "ref")])
def test_isa_of_a_source_is_its_kernels_folder(relpath, isa):
    assert isa_of(relpath) == isa


VALID = """\
name = "board"
description = "a test board"
arch = "aarch64"
uname_m = "aarch64"

[build]
zig_target = "aarch64-linux-musl"
zig_cpu = "cortex_a72"
gcc_cpu_flags = ["-mcpu=cortex-a72"]

[emulate]
qemu_cpu = "cortex-a72"

[deploy]
remote_dir = "/var/tmp/tinyedge"
"""

BAD_BOARDS = {
    # case: (text replaced, replacement, words the error must contain)
    "missing field": ('description = "a test board"\n', "", ["missing field 'description'"]),
    "hyphen in zig cpu": ('"cortex_a72"', '"cortex-a72"', ["build.zig_cpu", "underscores"]),
    "unknown field": ("[emulate]", 'zig_cpus = "x"\n[emulate]', ["unknown field 'build.zig_cpus'"]),
    "unknown table": ("[emulate]", "[flash]\nspeed = 1\n[emulate]", ["unknown table '[flash]'"]),
    "wrong type": ('["-mcpu=cortex-a72"]', '"-mcpu=cortex-a72"', ["build.gcc_cpu_flags", "list"]),
    "two cpu flags": ('["-mcpu=cortex-a72"]', '["-mcpu=cortex-a72", "-march=armv8-a"]',
                      ["build.gcc_cpu_flags", "exactly one"]),
    "underscore in gcc cpu": ('"-mcpu=cortex-a72"', '"-mcpu=cortex_a72"', ["build.gcc_cpu_flags"]),
    "name is not the file": ('name = "board"', 'name = "other"', ["field 'name'", "board.toml"]),
    "unknown arch": ('arch = "aarch64"', 'arch = "riscv64"', ["field 'arch'", "aarch64, armv7, host"]),
    "uname for another arch": ('uname_m = "aarch64"', 'uname_m = "armv7l"', ["field 'uname_m'"]),
    "triple for another arch": ('"aarch64-linux-musl"', '"arm-linux-musleabihf"',
                                ["build.zig_target", "aarch64-linux-musl"]),
    "bool for a string": ('description = "a test board"', "description = true",
                          ["field 'description'", "str"]),
    "missing table": ('[emulate]\nqemu_cpu = "cortex-a72"\n', "", ["missing table '[emulate]'"]),
    "host with build flags": ('arch = "aarch64"\nuname_m = "aarch64"', 'arch = "host"',
                              ["does not apply to arch 'host'"]),
    "not TOML": ('name = "board"', "name = ", ["not valid TOML"]),
}


def test_valid_board_file_loads(tmp_path):
    path = tmp_path / "board.toml"
    path.write_text(VALID)
    board = load_board(path)
    assert (board.arch, board.build.zig_cpu, board.build.gcc_cpu_flags, board.emulate.qemu_cpu) == \
        ("aarch64", "cortex_a72", ("-mcpu=cortex-a72",), "cortex-a72")


@pytest.mark.parametrize("case", BAD_BOARDS)
def test_bad_board_file_names_the_file_and_field(case, tmp_path):
    old, new, words = BAD_BOARDS[case]
    assert old in VALID
    path = tmp_path / "board.toml"
    path.write_text(VALID.replace(old, new))
    with pytest.raises(BoardError) as e:
        load_board_file(path)
    for w in [str(path), *words]:
        assert w in str(e.value), f"{case}: {e.value}"


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError, match="unknown board 'pi9'.*pi4"):
        load_board("pi9")


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "a"
    monkeypatch.delenv("TINYEDGE_CACHE")
    assert cache_root() == tmp_path / "x" / "tinyedge"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "tinyedge"


# --- the build and its cache (host board: the system cc, fast) -------------------------------------

MAIN = """\
#include <stdio.h>
#include "tinyedge.h"
int main(void) { printf("%s %s\\n", "VARIANT", te_version()); return 0; }
"""


def test_cached_build_is_reused_forced_and_replaced_when_stale(tmp_path):
    host = load_board("host")
    require_toolchain(host, None, tmp_path)
    main_c = tmp_path / "main.c"
    main_c.write_text(MAIN.replace("VARIANT", "first"))

    def build(**kw):
        return build_runner(host, cache=tmp_path / "cache", main_sources=[main_c], **kw)

    first = build()
    assert not first.cached and first.size == first.path.stat().st_size > 0
    again = build()
    assert again.cached and again.path == first.path and again.key == first.key
    forced = build(force=True)
    assert not forced.cached and forced.path == first.path
    main_c.write_text(MAIN.replace("VARIANT", "second"))
    changed = build()
    assert not changed.cached and changed.key != first.key
    assert not first.path.parent.exists(), "the stale build of the same board should be removed"
    out = subprocess.run([str(changed.path)], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith(f"second {tinyedge.__version__}"), out


def test_compile_error_names_the_file(tmp_path):
    host = load_board("host")
    require_toolchain(host, None, tmp_path)
    bad = tmp_path / "broken_main.c"
    bad.write_text("int main(void) { return undeclared_name; }\n")
    with pytest.raises(BuildError, match=r"(?s)compiling .*broken_main\.c failed.*undeclared_name"):
        build_runner(host, cache=tmp_path / "cache", main_sources=[bad])
    assert not list((tmp_path / "cache" / "runners").iterdir()), "a failed build leaves nothing"


# --- real runners: sizes, the budget, each board's CPU under qemu ---------------------------------

@pytest.mark.parametrize("name", CROSS)
def test_runner_fits_and_runs_on_its_board_cpu(name, cache, tiny_model, tmp_path):
    """Each board's zig-built runner is a static ARM binary that runs on the board's CPU model (the
    Pi 4's under cortex-a72, no dot product; the Pi 5's under cortex-a76). aarch64 runners carry
    every kernel and must stay within the size budget."""
    board, exe = runner(name, "zig", cache)
    size = exe.stat().st_size
    print(f"{name}: tinyedge-run {size} bytes stripped ({board.build.zig_target})")
    if board.arch == "aarch64":
        assert size <= BUDGET_BYTES, f"{name}: {size} bytes, over the {BUDGET_BYTES}-byte budget"
    done = run_emulated(board, exe, tiny_model, "--iters", "2", "--warmup", "1",
                        "--output-dir", tmp_path)
    assert done.returncode == 0, f"{name} under qemu -cpu {board.emulate.qemu_cpu}: {done.stderr}"
    assert (tmp_path / "prob.npy").is_file()


@pytest.mark.parametrize("name", ["pi4", "armv7-linux"])
def test_gcc_runner_matches_the_host(name, cache, tiny_model, tmp_path):
    """Debian's cross gcc builds a static glibc runner that computes what the host computes."""
    board, exe = runner(name, "gcc", cache)
    host = tinyedge.load(tiny_model)
    x = np.random.default_rng(0).uniform(-1, 1, host.inputs[0].shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    done = run_emulated(board, exe, tiny_model, "--input", tmp_path / "x.npy", "--iters", "1",
                        "--warmup", "0", "--output-dir", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    got = np.load(tmp_path / "out" / f"{host.outputs[0].name}.npy")
    assert got.tobytes() == host.run([x])[0].tobytes()


# --- the command line ------------------------------------------------------------------------------

def test_runner_command_prints_path_and_size(cache, monkeypatch, capsys):
    require_toolchain(load_board("pi4"), "zig", cache)
    monkeypatch.setenv("TINYEDGE_CACHE", str(cache))
    assert main(["runner", "--board", "pi4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    path = Path(lines[0])
    assert path.is_file() and path.name == "tinyedge-run"
    assert f"({path.stat().st_size} bytes)" in lines[1] and "stripped" in lines[1], lines
    assert "pi4" in lines[1] and "aarch64-linux-musl" in lines[1]


def test_runner_command_unknown_board_is_one_line(capsys):
    assert main(["runner", "--board", "pi9"]) == 1
    err = capsys.readouterr().err.strip()
    assert "unknown board 'pi9'" in err and len(err.splitlines()) == 1


def python_without_ziglang(farm: Path, code: str) -> list:
    """argv of this Python running `code` with its site-packages, except ziglang, on sys.path.

    -I -S: no user site, no site-packages, no PYTHON* variables; then sys.path gets a folder of
    links to every site-packages entry but ziglang's, and the repository."""
    site = Path(sysconfig.get_paths()["purelib"])
    if not farm.exists():
        farm.mkdir()
        for entry in site.iterdir():
            if not entry.name.lower().startswith("ziglang"):
                (farm / entry.name).symlink_to(entry)
    return [sys.executable, "-I", "-S", "-c",
            f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(farm)!r}]; {code}"]


def test_runner_without_ziglang_says_what_is_missing(tmp_path):
    """With ziglang not importable and no zig on PATH, `tinyedge runner --board pi4` fails with one
    line naming the missing package and how to install it."""
    farm = tmp_path / "site"
    empty = tmp_path / "empty_path"
    empty.mkdir()
    env = {"PATH": str(empty), "HOME": str(tmp_path), "TINYEDGE_CACHE": str(tmp_path / "cache")}
    probe = subprocess.run(python_without_ziglang(farm, "import numpy, rich, ziglang"), env=env,
                           capture_output=True, text=True, timeout=120)
    assert "No module named 'ziglang'" in probe.stderr, "only ziglang should be missing"
    cli = python_without_ziglang(farm, "from tinyedge.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([*cli, "runner", "--board", "pi4"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done
    assert "ziglang" in done.stderr and "pip install" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


NOBODY = 65534


def isolation_prefix() -> list:
    """argv prefix that runs a command with no network and not as root, or a skip."""
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        pytest.skip("unshare/setpriv (util-linux) are not installed")
    if os.geteuid() == 0:
        prefix = ["unshare", "--net", "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                  "--clear-groups"]
    else:
        prefix = ["unshare", "--map-root-user", "--net"]  # already not root; a user namespace
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow a network namespace (unshare --net)")
    probe = subprocess.run([*prefix, sys.executable, "-c", "import tinyedge.cli"], capture_output=True,
                           text=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"this checkout or Python is not readable by an unprivileged user: "
                    f"{probe.stderr.strip().splitlines()[-1:]}")
    return prefix


def unprivileged_cache(request, cache: Path) -> Path:
    """A cache the unprivileged user may write. As root: one owned by nobody, kept in pytest's cache
    folder so that zig builds musl for it once (zig does not reuse a copied cache); else the suite's."""
    if os.geteuid() != 0:
        return cache
    path = Path(request.config.cache.mkdir("tinyedge-cross-nobody"))
    os.chown(path, NOBODY, NOBODY)
    if any(not os.stat(p).st_mode & 0o001 for p in path.parents):
        pytest.skip(f"{path} is inside a folder that other users cannot enter")
    return path


def test_runner_builds_without_network_or_root(request, cache):
    """`tinyedge runner --board pi4 --force` in a network namespace with no interfaces, as an
    unprivileged user (nobody, when the suite runs as root)."""
    board = load_board("pi4")
    require_toolchain(board, "zig", cache)
    prefix = isolation_prefix()
    own = unprivileged_cache(request, cache)
    env = {"HOME": str(own), "TINYEDGE_CACHE": str(own), "PATH": os.environ.get("PATH", "")}
    offline = subprocess.run([*prefix, sys.executable, "-c",
                              "import socket; socket.create_connection(('1.1.1.1', 443), 5)"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert offline.returncode != 0, "the namespace should have no network"
    done = subprocess.run([*prefix, sys.executable, "-m", "tinyedge", "runner", "--board", "pi4",
                           "--force"], env=env, capture_output=True, text=True, timeout=900, cwd="/")
    assert done.returncode == 0, done.stderr
    exe = Path(done.stdout.splitlines()[0])
    assert exe.is_file() and str(exe).startswith(str(own)), done.stdout
    assert run_emulated(board, exe, "--version").returncode == 0
