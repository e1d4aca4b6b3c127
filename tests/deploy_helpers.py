"""Shared by the deploy tests: the models they push, the runner's documented random inputs, and a
look at the processes the runner left on this machine (the "board" of the tests is 127.0.0.1)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import tinyedge
from cross_helpers import cross_cache, require_qemu, require_toolchain
from onnx_models import small_model
from tinyedge.boards import load_board

EMULATED = "emulated-pi4"


def use_test_cache(request, monkeypatch) -> None:
    """Point deploy's runner builds at the suite's cross cache, and skip without zig or qemu."""
    cache = cross_cache(request.config)
    monkeypatch.setenv("TINYEDGE_CACHE", str(cache))
    pi4 = load_board("pi4")
    require_toolchain(pi4, "zig", cache)
    require_qemu(pi4)


def int8_model(out_dir: Path) -> Path:
    """A small INT8 model: conv 3x3, relu, pooling, fully connected (tests/onnx_models.py)."""
    src = small_model(out_dir / "small.onnx")
    calib = {"x": np.random.default_rng(0).standard_normal((8, 3, 8, 8)).astype(np.float32)}
    return tinyedge.build(src, out_dir / "small_int8.tem", quantize="int8", calib=calib).path


def big_model(out_dir: Path, megabytes: int = 24) -> Path:
    """A float model of about `megabytes` MB (one large fully connected layer): slow to push."""
    k = 1024
    n = megabytes * (1 << 20) // (4 * k)
    w = np.random.default_rng(1).standard_normal((n, k)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)], "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), out_dir / "big.onnx")
    return tinyedge.build(out_dir / "big.onnx", out_dir / "big.tem").path


def splitmix64(state: np.uint64, n: int) -> np.ndarray:
    """n successive splitmix64 outputs from `state` (uint64 arithmetic wraps, as in C)."""
    with np.errstate(over="ignore"):
        golden = np.uint64(0x9E3779B97F4A7C15)
        z = state + golden * np.arange(1, n + 1, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def runner_random_input(index: int, shape, dtype, seed: int = 0) -> np.ndarray:
    """The input tinyedge-run makes up for input `index` when none is given (docs/trace.md)."""
    with np.errstate(over="ignore"):
        state = np.uint64(seed) ^ (np.uint64(index) * np.uint64(0xD1B54A32D192ED03))
    x = splitmix64(state, int(np.prod(shape)))
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        v = (x >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -23) - np.float32(1)
    elif dtype == np.int8:
        v = (x >> np.uint64(56)).astype(np.int16) - 128
    elif dtype == np.uint8:
        v = x >> np.uint64(56)
    elif dtype == np.int16:
        v = (x >> np.uint64(48)).astype(np.int32) - 32768
    elif dtype == np.int32:
        v = (x >> np.uint64(32)).astype(np.int64) - (1 << 31)
    else:
        raise ValueError(f"no documented random input for {dtype}")
    return v.astype(dtype).reshape(shape)


def runner_processes(marker: str) -> list[int]:
    """Pids of the runner processes (qemu running a pushed runner, or the runner itself) on this
    machine whose command line mentions `marker` (a test's own remote directory)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        prog = cmd.split(" ", 1)[0].rsplit("/", 1)[-1]
        # The program itself (qemu or the runner), not a shell whose script names them.
        if marker in cmd and "tinyedge-run-" in cmd and prog.startswith(("qemu-", "tinyedge-run")):
            pids.append(int(entry.name))
    return pids


def assert_no_partial_final_files(user_dir: Path) -> None:
    """Every file under a final (content-hash) name holds exactly the bytes its name promises."""
    if not user_dir.exists():
        return
    for f in user_dir.iterdir():
        if ".part-" in f.name or f.is_dir():
            continue
        stem = f.name[:-len(".tem")] if f.name.endswith(".tem") else f.name
        digest = stem.rsplit("-", 1)[1]
        assert hashlib.sha256(f.read_bytes()).hexdigest()[:16] == digest, \
            f"{f} is under a final name but does not hold the bytes of that name"


def user_dir(root: Path) -> Path:
    """The per-user directory deploy uses under a remote root (the tests run as one user)."""
    import getpass

    return root / getpass.getuser()


def wait_until(condition, seconds: float = 30.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass (a bound for a process to die, not a
    measurement); returns its last value."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def emulated_board_dir(directory: Path, remote_dir: Path, name: str = "test-emu") -> Path:
    """A boards folder holding one emulated board like emulated-pi4 whose remote directory is
    `remote_dir` (so CLI runs, which have no --remote-dir, stay inside the test's temp dir)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.toml").write_text(
        f'name = "{name}"\ndescription = "emulated-pi4 with a test remote directory"\n'
        f'arch = "aarch64"\nuname_m = "aarch64"\n\n[deploy]\nremote_dir = "{remote_dir}"\n'
        f'runner = "pi4"\nexec_prefix = ["qemu-aarch64", "-cpu", "cortex-a72"]\n')
    return directory


def run_cli(argv: list) -> int:
    """`tinyedge ARGV...` in this process, with the deploy command registered if it is not yet."""
    import tinyedge.cli as cli
    from tinyedge.cli import deploy

    if deploy not in cli.COMMANDS:
        cli.COMMANDS = cli.COMMANDS + (deploy,)
    return cli.main(argv)
