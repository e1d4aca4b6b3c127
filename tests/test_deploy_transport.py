"""Transport tests: commands run locally and over SSH against a real sshd on 127.0.0.1, and every
connection fault produced for real (stopped server, silent port, wrong key, unknown and changed
host keys, ~/.ssh/config, connections dropped mid-command, Ctrl-C, signal deaths, quoting)."""

import io
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from sshd_server import sshd, write_ed25519_key  # noqa: F401  (sshd is a fixture)
from tinyedge.device.errors import (AuthError, CommandTimeout, ConnectError, ConnectionLost,
                                    HostKeyError)
from tinyedge.device.transport import LocalTransport, connect_ssh, sh_join

# Arguments a shell would mangle if any of them were passed unquoted.
NASTY_ARGS = ["two words", "it's", '"double"', "$(touch {marker})", "`touch {marker}`", "a;b",
              "x && y", "$HOME", "*", "back\\slash", "new\nline", "", "-n", "ünïcødé", "{ }"]


def wait_for(condition, what: str, limit_s: float = 10.0) -> None:
    """Poll `condition` until it holds; the limit only turns a hang into a failure."""
    end = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent, or a zombie waiting for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def ssh_to(server, **kwargs):
    return connect_ssh(server.target(), port=server.port, identity=str(server.client_key),
                       **kwargs)


@pytest.fixture(params=["local", "ssh"])
def transport(request):
    """The same tests run against LocalTransport and an SSH transport to a real sshd."""
    if request.param == "local":
        t = LocalTransport()
    else:
        t = ssh_to(request.getfixturevalue("sshd"))
    yield t
    t.close()


# -- the Transport contract, on both transports ----------------------------------------------

def test_quoted_arguments_reach_argv_intact(transport, tmp_path):
    marker = tmp_path / "injected"
    args = [a.replace("{marker}", str(marker)) for a in NASTY_ARGS]
    result = transport.exec(sh_join(["printf", "%s\\0", *args]))
    assert result.status == 0, result.stderr
    assert result.stdout.decode().split("\0")[:-1] == args
    assert not marker.exists(), "a $(...) or `...` argument was run by the shell"


def test_exec_streams_stdin_and_counts_bytes(transport, tmp_path):
    payload = os.urandom(300_000)  # several chunks, not a multiple of the chunk size
    dest = tmp_path / "pushed.bin"
    progress = []
    before = transport.bytes_sent
    result = transport.exec(sh_join(["sh", "-c", 'cat > "$1"', "sh", str(dest)]),
                            stdin=io.BytesIO(payload), on_sent=progress.append)
    assert result.status == 0 and result.signal is None, result.stderr
    assert dest.read_bytes() == payload
    assert transport.bytes_sent - before == len(payload)
    assert len(progress) > 1 and progress == sorted(progress) and progress[-1] == len(payload)


def test_exec_reports_status_and_output(transport):
    result = transport.exec("echo out; printf 'err1\\nerr2' >&2; exit 7")
    assert (result.status, result.signal) == (7, None)
    assert result.stdout == b"out\n"
    assert result.stderr.rstrip(b"\n") == b"err1\nerr2"  # the wrapper's markers are not in it


@pytest.mark.parametrize("sig", ["KILL", "SEGV"])
def test_signal_death_is_reported(transport, sig):
    result = transport.exec(f"sh -c 'kill -{sig} $$'")
    assert (result.status, result.signal) == (None, sig)


def test_stream_delivers_lines_live(transport, tmp_path):
    # The command waits for a file that only the on_stdout callback creates, after it has
    # received the first line: "second" is printed only if lines arrive while it runs.
    flag = tmp_path / "seen-first"
    command = ("echo first; echo warn >&2; i=0; "
               f"while [ ! -e {flag} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
               f"if [ -e {flag} ]; then echo second; else echo too-late; fi; printf 'no-newline'")
    out, err = [], []

    def on_stdout(line):
        out.append(line)
        if line == "first":
            flag.touch()

    result = transport.stream(command, on_stdout, err.append)
    assert (result.status, result.signal) == (0, None)
    assert out == ["first", "second", "no-newline"]
    assert err == ["warn"]


def test_stream_stops_the_command_on_ctrl_c(transport):
    pids = []

    def on_stdout(line):
        pids.append(int(line))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transport.stream("sh -c 'echo $$; exec sleep 30'", on_stdout, lambda line: None)
    wait_for(lambda: process_gone(pids[0]), f"process {pids[0]} to stop")


def test_exec_timeout_stops_the_command(transport, tmp_path):
    pid_file = tmp_path / "pid"
    with pytest.raises(CommandTimeout, match="did not finish within 0.5 s"):
        transport.exec(f"sh -c 'echo $$ > {pid_file}; exec sleep 30'", timeout=0.5)
    pid = int(pid_file.read_text())
    wait_for(lambda: process_gone(pid), f"process {pid} to stop")


# -- SSH only ---------------------------------------------------------------------------------

def test_stream_kills_a_command_that_ignores_term(sshd):
    pids = []

    def on_stdout(line):
        pids.append(int(line))
        raise RuntimeError("callback failed")

    with ssh_to(sshd) as t, pytest.raises(RuntimeError, match="callback failed"):
        t.stream("sh -c 'trap \"\" TERM; echo $$; exec sleep 30'", on_stdout, lambda line: None)
    wait_for(lambda: process_gone(pids[0]), f"process {pids[0]} to be killed")


def test_stopped_server_is_refused_quickly(sshd):
    sshd.stop()
    with pytest.raises(ConnectError) as e:
        ssh_to(sshd, connect_timeout=5)
    message = str(e.value)
    assert f"{sshd.user}@127.0.0.1:{sshd.port}" in message
    assert "connection refused" in message and "sshd" in message


def test_silent_port_times_out():
    # A socket that listens but never accepts: the TCP connect succeeds, no SSH banner comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(ConnectError) as e:
            connect_ssh("someone@127.0.0.1", port=port, connect_timeout=0.5)
    assert f"someone@127.0.0.1:{port}" in str(e.value)
    assert "no SSH server answered within 0.5 s" in str(e.value)


def test_wrong_client_key_is_refused(sshd, tmp_path):
    stranger = tmp_path / "stranger_ed25519"
    write_ed25519_key(stranger)
    with pytest.raises(AuthError) as e:
        connect_ssh(sshd.target(), port=sshd.port, identity=str(stranger))
    message = str(e.value)
    assert f"user '{sshd.user}'" in message and str(stranger) in message
    assert "authorized_keys" in message


def test_unknown_host_key_is_refused_then_accepted_on_request(sshd):
    known_hosts = sshd.home / ".ssh" / "known_hosts"
    known_hosts.write_text("")
    with pytest.raises(HostKeyError) as e:
        ssh_to(sshd)
    assert "unknown host key" in str(e.value) and sshd.host_key_fingerprint in str(e.value)
    assert "--accept-new-host-key" in str(e.value)
    assert known_hosts.read_text() == ""

    with ssh_to(sshd, accept_new_host_key=True) as t:
        assert t.exec("echo hi").stdout == b"hi\n"
    assert known_hosts.read_text() == sshd.known_hosts_line()
    with ssh_to(sshd) as t:  # now trusted without the flag
        assert t.exec("echo again").stdout == b"again\n"


def test_changed_host_key_is_always_refused(sshd):
    sshd.restart(new_host_key=True)
    with pytest.raises(HostKeyError) as e:
        ssh_to(sshd, accept_new_host_key=True)
    message = str(e.value)
    assert "CHANGED" in message and sshd.host_key_fingerprint in message
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}'" in message


def test_ssh_config_alias_is_honoured(sshd):
    # home/.ssh/config maps the alias to HostName, Port, User and IdentityFile.
    with connect_ssh(sshd.alias) as t:
        assert t.label == f"{sshd.user}@{sshd.alias}:{sshd.port}"
        assert t.exec("id -un").stdout.decode().strip() == sshd.user


def test_connection_dropped_during_push(sshd, tmp_path):
    with ssh_to(sshd) as t:
        with pytest.raises(ConnectionLost) as e:
            t.exec(sh_join(["sh", "-c", 'cat > "$1"', "sh", str(tmp_path / "part")]),
                   stdin=io.BytesIO(os.urandom(2_000_000)),
                   on_sent=lambda n: sshd.kill_sessions())
    assert "connection lost" in str(e.value) and t.label in str(e.value)


def test_connection_dropped_during_exec(sshd, tmp_path):
    started = tmp_path / "started"
    with ssh_to(sshd) as t:
        def drop_when_started():
            wait_for(started.exists, "the remote command to start")
            sshd.kill_sessions()

        dropper = threading.Thread(target=drop_when_started)
        dropper.start()
        with pytest.raises(ConnectionLost, match="connection lost while running"):
            t.exec(f"touch {started}; sleep 3", timeout=20)
        dropper.join()


def test_connection_dropped_during_stream(sshd):
    lines = []

    def on_stdout(line):
        lines.append(line)
        sshd.kill_sessions()

    with ssh_to(sshd) as t:
        with pytest.raises(ConnectionLost):
            t.stream("echo first; sleep 3; echo second", on_stdout, lambda line: None)
        with pytest.raises(ConnectionLost):  # the transport stays unusable, and says so
            t.exec("echo hi")
    assert lines == ["first"]
