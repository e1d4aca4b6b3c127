"""tinyedge deploy end to end: a real OpenSSH server on 127.0.0.1 plays the board `emulated-pi4`
(the pi4 runner, built with zig, run under qemu-aarch64 -cpu cortex-a72).

The outputs fetched from the "board" are compared byte for byte with the host runtime on the same
inputs: the runner's documented random inputs (docs/trace.md: splitmix64), re-made here in numpy.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tinyedge
from chrome_trace_check import assert_valid_trace
from deploy_helpers import (EMULATED, assert_no_partial_final_files, emulated_board_dir,
                            int8_model, run_cli, runner_random_input, use_test_cache, user_dir)
from sshd_server import free_port
from sshd_server import SshServer, require_sshd, sshd  # noqa: F401  (sshd is a fixture)
from tinyedge.device.errors import ConnectError, DeployError
from tinyedge.device.fleet import deploy_fleet, per_host_path, read_hosts_file, split_host
from tinyedge.device.session import deploy

ITERS, WARMUP = 3, 1


@pytest.fixture(autouse=True)
def cross_cache_env(request, monkeypatch):
    use_test_cache(request, monkeypatch)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return int8_model(tmp_path_factory.mktemp("deploy_model"))


def ssh_args(server) -> dict:
    return dict(host=server.target(), port=server.port, identity=str(server.client_key),
                remote_dir=str(server.root))


def host_outputs(model_path) -> list[np.ndarray]:
    """The host runtime's outputs on the inputs the runner makes up (seed 0)."""
    m = tinyedge.load(model_path)
    feeds = [runner_random_input(i, info.shape, info.dtype) for i, info in enumerate(m.inputs)]
    return m.outputs, m.run(feeds)


def check_trace(path, n_ops: int) -> None:
    """The Chrome trace is valid (tests/chrome_trace_check.py) with one complete event per op per
    timed iteration, each naming its run and op."""
    doc = json.loads(path.read_text())
    assert_valid_trace(doc)
    complete = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == ITERS * n_ops
    for e in complete:
        assert {"kernel", "out_shape", "macs", "bytes", "iter", "op"} <= set(e["args"])
    assert sorted((e["args"]["iter"], e["args"]["op"]) for e in complete) == \
        [(i, o) for i in range(ITERS) for o in range(n_ops)]
    assert any(e["ph"] == "M" for e in doc["traceEvents"])


def test_deploy_over_ssh_fetches_identical_outputs_and_second_push_sends_nothing(sshd, model,
                                                                                  tmp_path):
    events = []
    res = deploy(model, EMULATED, iters=ITERS, warmup=WARMUP, trace=tmp_path / "trace.json",
                 summary_json=tmp_path / "summary.json", fetch_outputs=tmp_path / "out",
                 on_event=events.append, **ssh_args(sshd))

    infos, want = host_outputs(model)
    for info, w in zip(infos, want):
        got = np.load(tmp_path / "out" / f"{info.name}.npy")
        assert got.dtype == w.dtype and got.shape == w.shape
        assert got.tobytes() == w.tobytes(), f"output {info.name}: {got} on the board, {w} here"

    # The same ops as the host runtime loads from the file, with the same work per op.
    host_ops = tinyedge.load(model).ops
    assert [(o["name"], o["ir_op"], o["macs"]) for o in res.summary["ops"]] == \
        [(o.name, o.op, o.macs) for o in host_ops]
    n_ops = len(host_ops)
    assert res.summary["iters"] == ITERS and res.summary["warmup"] == WARMUP
    assert res.summary["meta"]["board"] == EMULATED and res.summary["meta"]["host"] == res.host
    assert json.loads((tmp_path / "summary.json").read_text())["ops"] == res.summary["ops"]
    check_trace(tmp_path / "trace.json", n_ops)
    assert res.bytes_sent == sum(p.size for p in res.pushed) and all(p.sent for p in res.pushed)
    assert [e.name for e in events if e.kind == "run"][-1] == "iter"
    assert sum(len(e.data) for e in events if e.kind == "records") == ITERS * n_ops

    # The run directory is gone; the two pushed files are whole under their final names.
    home = user_dir(sshd.root)
    assert sorted(p.name for p in home.iterdir()) == sorted(p.name for p in res.pushed)
    assert_no_partial_final_files(home)

    mtimes = {p.name: p.stat().st_mtime_ns for p in home.iterdir()}
    again = deploy(model, EMULATED, iters=1, warmup=0, **ssh_args(sshd))
    assert again.bytes_sent == 0 and not any(p.sent for p in again.pushed)
    assert {p.name: p.stat().st_mtime_ns for p in home.iterdir()} == mtimes


def test_host_board_deploys_natively_over_ssh(sshd, model, tmp_path):
    """The `host` board: its runner is built for this machine with the system cc, so an SSH target
    of the same kind (here, this machine) runs it natively; outputs byte-identical to the host's."""
    result = deploy(model, "host", iters=ITERS, warmup=WARMUP, fetch_outputs=tmp_path / "out",
                    trace=tmp_path / "trace.json", **ssh_args(sshd))
    infos, want = host_outputs(model)
    for info, expected in zip(infos, want):
        got = np.load(tmp_path / "out" / f"{info.name}.npy")
        assert got.tobytes() == np.ascontiguousarray(expected).tobytes()
    check_trace(tmp_path / "trace.json", len(tinyedge.load(model).ops))
    assert result.summary["meta"]["board"] == "host"


def test_emulated_deploy_without_host_runs_here(model, tmp_path):
    res = deploy(model, EMULATED, iters=2, warmup=0, remote_dir=str(tmp_path / "remote"),
                 fetch_outputs=tmp_path / "out")
    assert res.host == "local" and res.trace_path is None
    assert res.summary["iters"] == 2
    infos, want = host_outputs(model)
    assert np.load(tmp_path / "out" / f"{infos[0].name}.npy").tobytes() == want[0].tobytes()


def test_fleet_of_three_with_one_down(model, tmp_path, monkeypatch):
    require_sshd()
    servers = [SshServer(tmp_path / f"s{i}") for i in range(3)]
    try:
        for s in servers:
            s.start()
        servers[1].stop()  # the one that is down
        # One client (HOME and key of the first server) that every server knows and trusts.
        first = servers[0]
        for s in servers[1:]:
            with open(s.dir / "authorized_keys", "a") as f:
                f.write(Path(f"{first.client_key}.pub").read_text())
            with open(first.home / ".ssh" / "known_hosts", "a") as f:
                f.write(s.known_hosts_line())
        monkeypatch.setenv("HOME", str(first.home))
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        hosts = [f"{s.target()}:{s.port}" for s in servers]
        done = []
        entries = deploy_fleet(hosts, jobs=3, on_done=done.append, model=model, board=EMULATED,
                               identity=str(first.client_key), iters=1, warmup=0,
                               connect_timeout=5, remote_dir=str(tmp_path / "remote"),
                               trace=tmp_path / "trace.json")
    finally:
        for s in servers:
            s.stop()
    assert [e.host for e in entries] == hosts and len(done) == 3
    ok = [e for e in entries if e.ok]
    assert len(ok) == 2 and not entries[1].ok
    assert isinstance(entries[1].error, ConnectError)
    assert str(servers[1].port) in str(entries[1].error)
    for e in ok:
        assert e.result.trace_path.is_file() and e.result.trace_path.name != "trace.json"
        assert e.result.summary["iters"] == 1


def test_cli_deploy_prints_the_per_op_table(sshd, model, tmp_path, capsys):
    boards = emulated_board_dir(tmp_path / "boards", sshd.root)
    ssh = ["--port", str(sshd.port), "--identity", str(sshd.client_key)]
    argv = ["deploy", str(model), "--board", "test-emu", "--boards-dir", str(boards), "--iters", "2",
            "--warmup", "0"]
    assert run_cli([*argv, "--host", sshd.target(), *ssh, "--trace", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert "latency" in out and "GMAC/s" in out and str(tmp_path / "t.json") in out
    for op in tinyedge.load(model).ops:
        assert op.name in out, f"op {op.name} is not in the table"

    # A fleet from a hosts file, one of them down: a line per host, a table, exit status 1.
    down = free_port()
    (tmp_path / "hosts").write_text(f"# the lab\n{sshd.target()}:{sshd.port}\n\n"
                                    f"{sshd.target()}:{down}   # switched off\n")
    assert run_cli([*argv, "--hosts", str(tmp_path / "hosts"), "--identity", str(sshd.client_key),
                    "--connect-timeout", "5", "--summary-json", str(tmp_path / "s.json")]) == 1
    out = capsys.readouterr().out
    assert f"ok   {sshd.target()}:{sshd.port}" in out and f"FAIL {sshd.target()}:{down}" in out
    assert "1 of 2 hosts failed" in out
    summary = per_host_path(tmp_path / "s.json", f"{sshd.target()}:{sshd.port}")
    assert summary.name == f"s-{sshd.user}_127.0.0.1_{sshd.port}.json"
    assert json.loads(summary.read_text())["iters"] == 2


def test_names_the_user_typed_never_reach_a_shell_unquoted(model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    odd = tmp_path / "odd dir $(touch PWNED) `touch PWNED2` 'q\" ;touch PWNED3"
    name = tmp_path / "m; touch PWNED4 $(x).tem"
    name.write_bytes(model.read_bytes())
    res = deploy(name, EMULATED, iters=1, warmup=0, remote_dir=str(odd),
                 fetch_outputs=tmp_path / "out $(touch PWNED5)")
    assert res.summary["iters"] == 1 and res.outputs_dir.is_dir()
    assert not list(tmp_path.rglob("PWNED*")) and not list(Path("/").glob("PWNED*"))
    assert sorted(p.name for p in user_dir(odd).iterdir()) == sorted(p.name for p in res.pushed)


@pytest.mark.parametrize("spec, want", [
    ("pi@raspberrypi.local", ("pi@raspberrypi.local", None)),
    ("10.0.0.5:2222", ("10.0.0.5", 2222)),
    ("pi@[fe80::1]:22", ("pi@fe80::1", 22)),
    ("[::1]", ("::1", None)),
])
def test_host_specs(spec, want):
    assert split_host(spec) == want


def test_hosts_file_and_per_host_files(tmp_path):
    f = tmp_path / "hosts"
    f.write_text("# lab\npi@a.local\n\n  b:2222  # the new one\n")
    assert read_hosts_file(f) == ["pi@a.local", "b:2222"]
    assert per_host_path("out/trace.json", "pi@a.local:2222") == Path("out/trace-pi_a.local_2222.json")
    f.write_text("a b\n")
    with pytest.raises(DeployError, match="hosts:1: 'a b' is not one host"):
        read_hosts_file(f)
