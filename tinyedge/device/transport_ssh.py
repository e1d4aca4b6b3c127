"""SSHTransport: the Transport interface over a paramiko SSH connection (see ssh_connect.py).

Every command runs under a small POSIX sh wrapper instead of directly, because SSH alone cannot
stop a remote command (without a pty, closing the channel does not signal it) and paramiko does
not report signal deaths. The wrapper starts the command as a background job (in its own session
when `setsid` exists, so a stop reaches everything it started), prints the job's pid, `wait`s for
it and prints its status, with the signal name from the board's own `kill -l`. Both go to stderr
as marker lines carrying a random token; they are taken out before stderr reaches the caller.
"""

import secrets
import select
import socket
import time
from typing import BinaryIO, Callable, Optional

import paramiko

from tinyedge.device.errors import CommandTimeout, ConnectionLost
from tinyedge.device.transport import (CHUNK, STOP_GRACE_S, ExecResult, LineSplitter, Transport,
                                       decode_line, sh_join, short_command, split_status)

# $1 = marker token, $2 = the command. A background job's stdin is /dev/null in a shell without
# job control, so the command gets the session's stdin through fd 3.
WRAPPER = r'''m=$1 c=$2
exec 3<&0 0</dev/null
s=
if command -v setsid >/dev/null 2>&1; then s=setsid; fi
$s sh -c 'printf "%s pid %s\n" "$1" "$$" >&2; exec sh -c "$2"' sh "$m" "$c" <&3 3<&- &
exec 3<&-
wait "$!"
r=$?
g=
if [ "$r" -gt 128 ]; then g=$(kill -l "$r" 2>/dev/null) || g=; fi
printf '%s status %s %s\n' "$m" "$r" "$g" >&2
'''

# $1 = pid (also the process group when the wrapper used setsid), $2 = tenths of a second to
# wait after TERM while anything of the group is left.
STOP_SCRIPT = r'''p=$1 n=$2
kill -TERM -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
i=0
while [ "$i" -lt "$n" ] && { kill -0 -"$p" || kill -0 "$p"; } 2>/dev/null; do
  sleep 0.1; i=$((i+1))
done
kill -KILL -"$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
exit 0
'''

POLL_S = 0.5  # longest wait between checks of the deadline and of the connection


class _Markers:
    """Reads the wrapper's marker lines out of the command's stderr."""

    def __init__(self, token: str):
        self.token = token.encode()
        self.pid: Optional[int] = None
        self.status: Optional[int] = None
        self.signal: Optional[str] = None

    def take(self, line: bytes) -> Optional[bytes]:
        """The part of `line` that is the command's own output, or None if nothing is left."""
        at = line.find(self.token)
        if at < 0:
            return line
        fields = line[at + len(self.token):].decode("ascii", "replace").split()
        if len(fields) >= 2 and fields[0] == "pid":
            self.pid = int(fields[1])
        elif len(fields) >= 2 and fields[0] == "status":
            self.status = int(fields[1])
            self.signal = fields[2].upper().removeprefix("SIG") if len(fields) > 2 else None
        return line[:at] or None  # a marker can follow an unterminated line of the command

    def result(self, stdout: bytes, stderr: bytes) -> ExecResult:
        if self.signal:
            return ExecResult(None, self.signal, stdout, stderr)
        status, sig = split_status(self.status)
        return ExecResult(status, sig, stdout, stderr)


class SSHTransport(Transport):
    """Runs commands over an open paramiko SSHClient; made by `connect_ssh`."""

    def __init__(self, client: paramiko.SSHClient, label: str):
        self.client = client
        self.label = label
        self.bytes_sent = 0

    def exec(self, command: str, stdin: Optional[BinaryIO] = None, timeout: Optional[float] = 60,
             on_sent: Optional[Callable[[int], None]] = None) -> ExecResult:
        """Run `command` with sh on the board; see Transport.exec. (stderr comes back line by
        line: an unterminated last line gets a newline.)"""
        out, err = [], []
        marks = self._run(command, stdin, timeout, on_sent, out.append,
                          lambda line: err.append(line + b"\n"))
        return marks.result(b"".join(out), b"".join(err))

    def stream(self, command: str, on_stdout: Callable[[str], None],
               on_stderr: Callable[[str], None]) -> ExecResult:
        """Run `command` on the board, passing each output line to the callbacks as it comes;
        see Transport.stream."""
        lines = LineSplitter()

        def out(data: bytes) -> None:
            for line in lines.feed(data):
                on_stdout(decode_line(line))

        marks = self._run(command, None, None, None, out, lambda line: on_stderr(decode_line(line)),
                          flush_out=lambda: [on_stdout(decode_line(x)) for x in lines.flush()])
        return marks.result(b"", b"")

    def close(self) -> None:
        """Close the SSH connection."""
        self.client.close()

    # -- the command loop -------------------------------------------------------------------

    def _run(self, command, stdin, timeout, on_sent, on_out, on_err_line, flush_out=None):
        token = "tinyedge-" + secrets.token_hex(8)
        marks = _Markers(token)
        err_lines = LineSplitter()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            chan = self._transport(command).open_session(timeout=30)
            chan.exec_command(sh_join(["sh", "-c", WRAPPER, "sh", token, command]))
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise self._lost(command, e) from e

        def pump() -> None:
            # stderr first: the pid marker is written before the command's first output
            while chan.recv_stderr_ready():
                for line in err_lines.feed(chan.recv_stderr(CHUNK)):
                    self._pass_stderr(marks, line, on_err_line)
            while chan.recv_ready():
                on_out(chan.recv(CHUNK))

        try:
            if stdin is not None:
                self._copy_stdin(chan, command, stdin, on_sent, pump, deadline, timeout)
            try:
                chan.shutdown_write()
            except (OSError, EOFError):
                pass  # the channel closed already; the loop below finds out why
            while True:
                pump()
                if (chan.eof_received or chan.closed) and not (chan.recv_ready()
                                                               or chan.recv_stderr_ready()):
                    break
                self._check(command, deadline, timeout)
                left = POLL_S if deadline is None else deadline - time.monotonic()
                select.select([chan], [], [], max(0.0, min(POLL_S, left)))
            for line in err_lines.flush():
                self._pass_stderr(marks, line, on_err_line)
            if flush_out:
                flush_out()
            if marks.status is None:
                raise self._lost(command, None)
            return marks
        except BaseException as e:
            if self._alive():
                self._await_pid(chan, marks, err_lines)
            if marks.pid is not None and self._alive():
                self._stop(marks.pid)
            if isinstance(e, (OSError, EOFError, paramiko.SSHException)):
                raise self._lost(command, e) from e
            raise
        finally:
            try:
                chan.close()
            except (paramiko.SSHException, OSError, EOFError):
                pass  # a dead connection cannot say goodbye; the error above says why

    @staticmethod
    def _pass_stderr(marks: _Markers, line: bytes, on_err_line) -> None:
        rest = marks.take(line)
        if rest is not None:
            on_err_line(rest)

    def _copy_stdin(self, chan, command, stdin, on_sent, pump, deadline, timeout) -> None:
        sent = 0
        chan.settimeout(0.2)  # short waits for window space, so output keeps being drained
        while True:
            chunk = stdin.read(CHUNK)
            if not chunk:
                return
            view = memoryview(chunk)
            while view:
                self._check(command, deadline, timeout)
                try:
                    n = chan.send(view)
                except socket.timeout:
                    pump()
                    continue
                except OSError:
                    if chan.closed and self._alive():
                        return  # the command exited without reading everything
                    raise
                view = view[n:]
                sent += n
                self.bytes_sent += n
            pump()
            if on_sent:
                on_sent(sent)

    def _check(self, command: str, deadline: Optional[float], timeout: Optional[float]) -> None:
        if not self._alive():
            raise self._lost(command, None)
        if deadline is not None and time.monotonic() > deadline:
            raise CommandTimeout(f"{self.label}: `{short_command(command)}` did not finish within "
                                 f"{timeout:g} s and was stopped")

    @staticmethod
    def _await_pid(chan, marks: _Markers, err_lines: LineSplitter) -> None:
        """Read stderr until the pid marker comes (it may still be in flight when an exception
        interrupts the command: the pipes of stdout and stderr are separate on the board).
        Output read here is dropped: the caller is already leaving with an exception."""
        deadline = time.monotonic() + STOP_GRACE_S
        while marks.pid is None and time.monotonic() < deadline:
            try:
                while chan.recv_stderr_ready():
                    for line in err_lines.feed(chan.recv_stderr(CHUNK)):
                        marks.take(line)
                while chan.recv_ready():
                    chan.recv(CHUNK)
            except (OSError, EOFError, paramiko.SSHException):
                return
            if marks.pid is not None or chan.closed or chan.eof_received:
                return
            select.select([chan], [], [], 0.05)

    def _stop(self, pid: int) -> None:
        """TERM the command's process group on the board, KILL it after the grace period.
        Best effort: the exception that made us stop is the one the caller needs to see."""
        try:
            chan = self.client.get_transport().open_session(timeout=5)
            chan.exec_command(sh_join(["sh", "-c", STOP_SCRIPT, "sh", str(pid),
                                       str(int(STOP_GRACE_S * 10))]))
            chan.status_event.wait(STOP_GRACE_S + 5)
            chan.close()
        except (paramiko.SSHException, OSError, EOFError):
            pass

    def _alive(self) -> bool:
        transport = self.client.get_transport()
        return transport is not None and transport.is_active()

    def _transport(self, command: str) -> paramiko.Transport:
        if not self._alive():
            raise self._lost(command, None)
        return self.client.get_transport()

    def _lost(self, command: str, cause: Optional[BaseException]) -> ConnectionLost:
        why = f" ({cause})" if cause is not None and str(cause) else ""
        return ConnectionLost(f"{self.label}: connection lost while running "
                              f"`{short_command(command)}`{why}; check that the board is up and "
                              f"reachable, then run again")
