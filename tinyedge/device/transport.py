"""One way to run shell commands on a target, over SSH or locally.

Everything the deploy flow does on a board is a POSIX `sh` command string whose arguments were
each quoted with `shlex.quote` (`sh_join`), so nothing a user typed reaches a shell unquoted.
Two implementations share the `Transport` interface: `LocalTransport` (subprocess, for emulated
boards without a host) and the SSH transport returned by `connect_ssh`.

Exit statuses follow the shell's convention on both: a status above 128 is read as a death by
signal 128+N (`ExecResult.signal`), which is what a remote shell's `wait` reports. A program that
itself exits with such a status is reported the same way; no transport can tell them apart.
"""

import shlex
import signal as _signal
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable, List, Optional

CHUNK = 32 * 1024  # stdin copy chunk: small enough for live progress, large enough to be cheap
STOP_GRACE_S = 2.0  # between TERM and KILL when a command is stopped


@dataclass
class ExecResult:
    """What a finished command left: exit status (None when killed), signal name, its output."""
    status: Optional[int]
    signal: Optional[str]
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.status == 0


def sh_join(argv: Iterable[str]) -> str:
    """Join arguments into one POSIX sh command line, each argument quoted."""
    return " ".join(shlex.quote(str(a)) for a in argv)


def signal_name(number: int) -> str:
    """The name of a signal number without its SIG prefix ("KILL"), or the number as text."""
    try:
        return _signal.Signals(number).name[3:]
    except ValueError:
        return str(number)


def split_status(code: int) -> "tuple[Optional[int], Optional[str]]":
    """(status, signal) from a shell status or a subprocess return code (negative = signal)."""
    if code < 0:
        return None, signal_name(-code)
    if 128 < code < 128 + 65:
        return None, signal_name(code - 128)
    return code, None


def short_command(command: str, limit: int = 60) -> str:
    """A command shortened for an error message."""
    command = " ".join(command.split())
    return command if len(command) <= limit else command[:limit - 3] + "..."


class LineSplitter:
    """Cuts a byte stream into lines (without the newline) as chunks arrive."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> List[bytes]:
        """The lines completed by `data`."""
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return lines

    def flush(self) -> List[bytes]:
        """The unterminated last line, if any, once the stream has ended."""
        rest, self._partial = self._partial, b""
        return [rest] if rest else []


def decode_line(line: bytes) -> str:
    """A received line as text (UTF-8, undecodable bytes replaced, CR of CRLF dropped)."""
    return line.decode("utf-8", "replace").rstrip("\r")


class Transport(ABC):
    """Runs sh commands on one target; see `LocalTransport` and `connect_ssh`."""

    label: str = ""
    bytes_sent: int = 0

    @abstractmethod
    def exec(self, command: str, stdin: Optional[BinaryIO] = None, timeout: Optional[float] = 60,
             on_sent: Optional[Callable[[int], None]] = None) -> ExecResult:
        """Run `command` with sh; copy `stdin` (a file object, streamed in chunks, counted in
        bytes_sent, on_sent(total_so_far) after each chunk) to its stdin, then close stdin.
        Past `timeout` seconds the command is stopped and CommandTimeout raised."""

    @abstractmethod
    def stream(self, command: str, on_stdout: Callable[[str], None],
               on_stderr: Callable[[str], None]) -> ExecResult:
        """Run a long command, calling on_stdout/on_stderr with each line (no newline) as it
        arrives. On KeyboardInterrupt or any exception in a callback or the transport, the
        command is stopped (TERM, then KILL after 2 s) before the exception propagates.
        The returned ExecResult has empty stdout/stderr: the lines went to the callbacks."""

    def close(self) -> None:
        """Release the connection; the transport cannot be used afterwards."""

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# The implementations import the names above, so they are imported last.
from tinyedge.device.transport_local import LocalTransport  # noqa: E402
from tinyedge.device.transport_ssh import SSHTransport  # noqa: E402
from tinyedge.device.ssh_connect import connect_ssh  # noqa: E402

__all__ = ["ExecResult", "Transport", "LocalTransport", "SSHTransport", "connect_ssh", "sh_join",
           "LineSplitter", "split_status", "signal_name"]
