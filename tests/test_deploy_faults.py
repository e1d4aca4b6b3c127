"""Each fault of a deploy, produced for real against a real sshd on 127.0.0.1 playing the board
`emulated-pi4`: the error is one clear line naming the host and the thing, and afterwards the remote
directory holds no partial file under a final (content-hash) name."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deploy_helpers import (EMULATED, assert_no_partial_final_files, big_model,
                            emulated_board_dir, int8_model, runner_processes, use_test_cache,
                            user_dir, wait_until)
from sshd_server import sshd  # noqa: F401  (a fixture)
from tinyedge.device.remote import SPACE_MARGIN
from tinyedge.device.errors import BoardMismatch, ConnectionLost, NoSpace, RunnerFailed
from tinyedge.device.session import deploy

ROOT = Path(__file__).resolve().parent.parent
# Enough warm-up runs of the small model that the run is still going when a test cuts it off.
LONG_WARMUP = 200000


@pytest.fixture(autouse=True)
def cross_cache_env(request, monkeypatch):
    use_test_cache(request, monkeypatch)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return int8_model(tmp_path_factory.mktemp("fault_model"))


def ssh_args(server, remote_dir=None) -> dict:
    return dict(host=server.target(), port=server.port, identity=str(server.client_key),
                remote_dir=str(remote_dir or server.root))


def cli(*args: str) -> list[str]:
    """argv running `tinyedge deploy ...` in a new Python (registering the command if needed)."""
    code = ("import sys, tinyedge.cli as c\n"
            "from tinyedge.cli import deploy\n"
            "c.COMMANDS = c.COMMANDS if deploy in c.COMMANDS else c.COMMANDS + (deploy,)\n"
            "sys.exit(c.main(sys.argv[1:]))\n")
    return [sys.executable, "-c", code, "deploy", *args]


def test_wrong_architecture_is_refused_before_anything_is_written(sshd, model, tmp_path):
    boards = tmp_path / "boards"
    boards.mkdir()
    # A real board (no exec_prefix) that says aarch64: this machine is not one.
    (boards / "my-arm.toml").write_text(
        'name = "my-arm"\ndescription = "an aarch64 board"\narch = "aarch64"\n'
        'uname_m = "aarch64"\n\n[deploy]\nremote_dir = "/tmp/tinyedge"\nrunner = "pi4"\n')
    done = subprocess.run(cli(str(model), "--board", "my-arm", "--boards-dir", str(boards),
                              "--host", sshd.target(), "--port", str(sshd.port),
                              "--identity", str(sshd.client_key)),
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HOME": str(sshd.home)}, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    err = " ".join(done.stderr.split())
    assert f"{sshd.target()}" in err and "uname -m" in err and os.uname().machine in err
    assert "'aarch64'" in err and "my-arm" in err
    assert list(sshd.root.iterdir()) == []


def test_no_space_left(sshd, model, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs as the remote directory needs root")
    small = tmp_path / "small_fs"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (no CAP_SYS_ADMIN in this container)")
    try:
        big = big_model(tmp_path, megabytes=2)
        with pytest.raises(NoSpace) as e:
            deploy(big, EMULATED, iters=1, warmup=0, **ssh_args(sshd, small))
        msg = str(e.value)
        need = (big.stat().st_size + SPACE_MARGIN) / 1e6
        assert sshd.target() in msg and "not enough space" in msg and "big.tem" in msg
        assert f"need {need:.1f} MB" in msg and "MB free" in msg
        assert_no_partial_final_files(user_dir(small))
        assert not [p for p in user_dir(small).iterdir() if p.name.startswith("big-")]
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_connection_killed_mid_push(sshd, tmp_path):
    big = big_model(tmp_path, megabytes=12)
    killed = []

    def on_event(e):
        if e.kind == "push" and e.name.startswith("big-") and e.done > 2 << 20 and not killed:
            killed.append(e.done)
            sshd.kill_sessions()

    with pytest.raises(ConnectionLost) as e:
        deploy(big, EMULATED, iters=1, warmup=0, on_event=on_event, **ssh_args(sshd))
    assert killed and e.value.phase == "push"
    assert sshd.target() in str(e.value) and "big.tem" in str(e.value)
    home = user_dir(sshd.root)
    assert_no_partial_final_files(home)
    assert not [p for p in home.iterdir() if p.name.startswith("big-") and ".part-" not in p.name]

    # A later deploy removes a temporary once it is old enough to belong to no live push.
    for part in home.glob("*.part-*"):
        os.utime(part, (0, 0))
    small = int8_model(tmp_path)
    deploy(small, EMULATED, iters=1, warmup=0, **ssh_args(sshd))
    assert not list(home.glob("*.part-*"))


def test_connection_killed_mid_run(sshd, model):
    def on_event(e):
        if e.kind == "run":
            sshd.kill_sessions()

    with pytest.raises(ConnectionLost) as e:
        deploy(model, EMULATED, iters=1, warmup=LONG_WARMUP, on_event=on_event, **ssh_args(sshd))
    assert e.value.phase == "run" and "running small_int8.tem" in str(e.value)
    assert_no_partial_final_files(user_dir(sshd.root))
    # The runner stops at its next write to the dropped connection.
    assert wait_until(lambda: not runner_processes(str(sshd.root)))


def test_runner_killed_by_a_signal(sshd, model):
    def on_event(e):
        if e.kind == "run":
            for pid in runner_processes(str(sshd.root)):
                os.kill(pid, signal.SIGKILL)

    with pytest.raises(RunnerFailed) as e:
        deploy(model, EMULATED, iters=1, warmup=LONG_WARMUP, on_event=on_event, **ssh_args(sshd))
    assert e.value.signal == "KILL" and "killed by SIGKILL" in str(e.value)
    assert sshd.target() in str(e.value)
    assert_no_partial_final_files(user_dir(sshd.root))


def test_runner_failing_on_a_corrupt_model(sshd, model, tmp_path):
    bad = tmp_path / "corrupt.tem"
    bad.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # cut in half
    with pytest.raises(RunnerFailed) as e:
        deploy(bad, EMULATED, iters=1, warmup=0, **ssh_args(sshd))
    msg = str(e.value)
    assert e.value.status == 1 and e.value.signal is None
    assert "exit status 1" in msg and "tinyedge-run: " in msg and "corrupt-" in msg
    assert_no_partial_final_files(user_dir(sshd.root))


def test_runner_that_does_not_start_is_a_board_mismatch(sshd, model, tmp_path):
    boards = tmp_path / "boards"
    boards.mkdir()
    # The pi4 runner on an ARMv7 emulator cannot start: an aarch64 binary on a 32-bit CPU.
    if shutil.which("qemu-arm") is None:
        pytest.skip("qemu-arm is not installed: apt-get install qemu-user")
    (boards / "odd.toml").write_text(
        'name = "odd"\ndescription = "the pi4 runner on the wrong emulator"\narch = "aarch64"\n'
        'uname_m = "aarch64"\n\n[deploy]\nremote_dir = "/tmp/tinyedge"\nrunner = "pi4"\n'
        'exec_prefix = ["qemu-arm", "-cpu", "cortex-a15"]\n')
    with pytest.raises(BoardMismatch) as e:
        deploy(model, "odd", iters=1, warmup=0, boards_dir=boards, **ssh_args(sshd))
    assert "runner does not start" in str(e.value) and sshd.target() in str(e.value)
    home = user_dir(sshd.root)
    assert not [p for p in home.iterdir() if p.suffix == ".tem"]  # the model was never sent
    assert_no_partial_final_files(home)


@pytest.mark.parametrize("hosts", [1, 2], ids=["one_host", "fleet"])
def test_ctrl_c_stops_the_remote_run(sshd, model, tmp_path, hosts):
    env = {**os.environ, "HOME": str(sshd.home)}
    boards = emulated_board_dir(tmp_path / "boards", sshd.root)
    proc = subprocess.Popen(cli(str(model), "--board", "test-emu", "--boards-dir", str(boards),
                                *["--host", sshd.target()] * hosts,
                                "--port", str(sshd.port), "--identity", str(sshd.client_key),
                                "--iters", "1", "--warmup", "1000000"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    marker = str(sshd.root)
    try:
        started = wait_until(lambda: len(runner_processes(marker)) == hosts, 120)
        assert started, "the runner never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert wait_until(lambda: not runner_processes(marker), 10), "a runner was left running"
