"""Deploying compiled models to boards over SSH (or locally) and collecting what they measure."""

from tinyedge.deploy.errors import (AuthError, BoardMismatch, ConnectError, ConnectionLost,
                                    DeployError, HostKeyError, NoSpace, RunnerFailed)
from tinyedge.deploy.transport import (ExecResult, LocalTransport, Transport, connect_ssh,
                                       sh_join)
