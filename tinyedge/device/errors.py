"""Errors raised while deploying to a board. Each message is one line that names the host
(`user@host:port` as the user gave it), the thing that failed and what to do about it."""

from typing import Optional

from tinyedge.errors import TinyEdgeError


class DeployError(TinyEdgeError):
    """Base class of every deploy failure; the CLI prints the message as one line."""


class ConnectError(DeployError):
    """The host is unreachable, refused the connection or did not answer within the timeout."""


class AuthError(DeployError):
    """The host refused authentication (the message says which user and which keys were tried)."""


class HostKeyError(DeployError):
    """The host key is unknown (not trusted yet) or differs from the one in known_hosts."""


class ConnectionLost(DeployError):
    """The connection dropped mid-way; `phase` says during what ("push", "run", "fetch", ...)."""

    def __init__(self, message: str, phase: Optional[str] = None):
        self.phase = phase
        super().__init__(message)


class BoardMismatch(DeployError):
    """The machine is not the board the board file describes (uname -m differs, or the runner
    does not start there)."""


class NoSpace(DeployError):
    """The remote directory has not enough free space for the files to push."""


class RunnerFailed(DeployError):
    """The runner exited non-zero (`status`) or was killed by a signal (`signal`, e.g. "SEGV")."""

    def __init__(self, message: str, status: Optional[int] = None, signal: Optional[str] = None):
        self.status, self.signal = status, signal
        super().__init__(message)


class CommandTimeout(DeployError):
    """A command on the target did not finish within its timeout; it was stopped."""
