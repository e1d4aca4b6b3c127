"""LocalTransport: the Transport interface on this machine, with `sh -c` in a subprocess.

Used for emulated boards deployed without a host. Each command runs in its own session (process
group), so stopping it stops everything it started.
"""

import os
import queue
import signal
import subprocess
import threading
from typing import BinaryIO, Callable, List, Optional

from tinyedge.device.errors import CommandTimeout, DeployError
from tinyedge.device.transport import (CHUNK, STOP_GRACE_S, ExecResult, Transport, decode_line,
                                       short_command, split_status)


class LocalTransport(Transport):
    """Runs commands with the local `sh`; label "local"."""

    def __init__(self) -> None:
        self.label = "local"
        self.bytes_sent = 0

    def _start(self, command: str, with_stdin: bool) -> subprocess.Popen:
        try:
            return subprocess.Popen(["sh", "-c", command],
                                    stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as e:
            raise DeployError(f"local: cannot start sh for `{short_command(command)}`: {e}") from e

    def exec(self, command: str, stdin: Optional[BinaryIO] = None, timeout: Optional[float] = 60,
             on_sent: Optional[Callable[[int], None]] = None) -> ExecResult:
        """Run `command` with sh; see Transport.exec."""
        proc = self._start(command, stdin is not None)
        out: List[bytes] = []
        err: List[bytes] = []
        pumps = [_thread(_read_all, proc.stdout, out), _thread(_read_all, proc.stderr, err)]
        expired = threading.Event()
        # A timer, not a check between chunks: a write can block on a command that stopped reading.
        timer = threading.Timer(timeout, lambda: (expired.set(), _stop(proc))) if timeout else None
        try:
            if timer:
                timer.start()
            if stdin is not None:
                self._copy_stdin(proc, stdin, on_sent)
            proc.wait()
            for pump in pumps:
                pump.join()
        except BaseException:
            _stop(proc)
            raise
        finally:
            if timer:
                timer.cancel()
        if expired.is_set():
            raise CommandTimeout(f"local: `{short_command(command)}` did not finish within "
                                 f"{timeout:g} s and was stopped")
        status, sig = split_status(proc.returncode)
        return ExecResult(status, sig, b"".join(out), b"".join(err))

    def _copy_stdin(self, proc: subprocess.Popen, stdin: BinaryIO,
                    on_sent: Optional[Callable[[int], None]]) -> None:
        sent = 0
        try:
            while True:
                chunk = stdin.read(CHUNK)
                if not chunk:
                    break
                proc.stdin.write(chunk)
                proc.stdin.flush()
                sent += len(chunk)
                self.bytes_sent += len(chunk)
                if on_sent:
                    on_sent(sent)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the command stopped reading (or exited): its status tells what happened

    def stream(self, command: str, on_stdout: Callable[[str], None],
               on_stderr: Callable[[str], None]) -> ExecResult:
        """Run `command`, passing each output line to the callbacks as it comes; see
        Transport.stream."""
        proc = self._start(command, False)
        lines: "queue.Queue" = queue.Queue()
        pumps = [_thread(_read_lines, proc.stdout, on_stdout, lines),
                 _thread(_read_lines, proc.stderr, on_stderr, lines)]
        try:
            finished = 0
            while finished < len(pumps):
                item = lines.get()
                if item is None:
                    finished += 1
                else:
                    callback, line = item
                    callback(decode_line(line))  # in the caller's thread, so exceptions reach it
            proc.wait()
        except BaseException:
            _stop(proc)
            raise
        status, sig = split_status(proc.returncode)
        return ExecResult(status, sig, b"", b"")

    def close(self) -> None:
        """Nothing to release for local commands."""


def _thread(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _read_all(pipe, parts: List[bytes]) -> None:
    while True:
        data = pipe.read1(CHUNK)
        if not data:
            break
        parts.append(data)


def _read_lines(pipe, callback, lines: "queue.Queue") -> None:
    for line in iter(pipe.readline, b""):
        lines.put((callback, line.rstrip(b"\n")))
    lines.put(None)


def _stop(proc: subprocess.Popen) -> None:
    """TERM the command's process group, KILL what is left of it after the grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
