"""Talking to boards: transports (SSH or local), the remote directory, device facts, the on-device
benchmark run and its reports. `tinyedge.deploy(...)` (session.deploy) is the entry point."""

from tinyedge.device.errors import (AuthError, BoardMismatch, ConnectError, ConnectionLost,
                                    DeployError, HostKeyError, NoSpace, RunnerFailed)
from tinyedge.device.transport import (ExecResult, LocalTransport, Transport, connect_ssh,
                                       sh_join)
