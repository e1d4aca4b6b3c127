"""connect_ssh: open an SSH connection to a board the way `ssh` would, with clear failures.

Settings come from, in order: the arguments, ~/.ssh/config (HostName, User, Port, IdentityFile),
then defaults (the local user name, port 22). Keys: the given identity and the config's
IdentityFile, then the ssh-agent and ~/.ssh/id_* (paramiko's look_for_keys). Host keys are checked
against ~/.ssh/known_hosts; all paths come from $HOME. Each failure becomes one DeployError
subclass whose message names `user@host:port` and says what to do.
"""

import base64
import errno
import getpass
import hashlib
import os
import socket
from typing import List, Optional

import paramiko

from tinyedge.device.errors import AuthError, ConnectError, DeployError, HostKeyError
from tinyedge.device.transport_ssh import SSHTransport

KEEPALIVE_S = 5  # so that a link that died quietly is noticed by the transport
DEFAULT_KEYS = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_dsa")


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as `ssh-keygen -l` prints it: SHA256:<base64, unpadded>."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_path() -> str:
    """~/.ssh/known_hosts, from $HOME."""
    return os.path.join(os.path.expanduser("~"), ".ssh", "known_hosts")


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuses an unknown host key, or (accept_new) records it in ~/.ssh/known_hosts."""

    def __init__(self, label: str, ssh_hint: str, accept_new: bool):
        self.label, self.ssh_hint, self.accept_new = label, ssh_hint, accept_new

    def missing_host_key(self, client, hostname, key) -> None:
        if not self.accept_new:
            raise HostKeyError(
                f"{self.label}: unknown host key ({key.get_name()} {fingerprint(key)}); to trust "
                f"it, check the fingerprint by connecting once with `{self.ssh_hint}`, or pass "
                f"--accept-new-host-key")
        path = known_hosts_path()
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        # Appended, never rewritten: the user's other entries and comments stay as they were.
        with open(path, "a", encoding="ascii") as f:
            f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        client.get_host_keys().add(hostname, key.get_name(), key)


def _config_for(host: str) -> dict:
    path = os.path.join(os.path.expanduser("~"), ".ssh", "config")
    if not os.path.isfile(path):
        return {}
    try:
        return paramiko.SSHConfig.from_path(path).lookup(host)
    except (paramiko.ssh_exception.ConfigParseError, ValueError) as e:
        raise DeployError(f"{path}: cannot read the SSH config: {e}") from e


def connect_ssh(target: str, *, port: Optional[int] = None, identity: Optional[str] = None,
                accept_new_host_key: bool = False, connect_timeout: float = 10.0) -> SSHTransport:
    """Connect to `target` ([user@]host) and return an SSHTransport labelled user@host:port.

    Unknown host key: HostKeyError unless accept_new_host_key, which appends it to
    ~/.ssh/known_hosts ([host]:port form for ports other than 22). A changed key is always a
    HostKeyError. Unreachable: ConnectError within about connect_timeout. Refused keys: AuthError.
    """
    user, _, host = target.rpartition("@")
    if not host:
        raise ConnectError(f"'{target}': no host name; expected [user@]host")
    config = _config_for(host)
    hostname = config.get("hostname", host)
    user = user or config.get("user") or getpass.getuser()
    port = port or int(config.get("port", 22))
    label = f"{user}@{host}:{port}"
    where = label if hostname == host else f"{label} ({hostname})"
    keys = _identity_files(label, identity, config)

    client = paramiko.SSHClient()
    if os.path.isfile(known_hosts_path()):
        client.get_host_keys().load(known_hosts_path())
    ssh_hint = f"ssh -p {port} {user}@{hostname}"
    client.set_missing_host_key_policy(_HostKeyPolicy(label, ssh_hint, accept_new_host_key))
    try:
        client.connect(hostname, port=port, username=user, key_filename=keys or None,
                       timeout=connect_timeout, banner_timeout=connect_timeout,
                       auth_timeout=connect_timeout, look_for_keys=True, allow_agent=True)
    except BaseException as e:
        client.close()
        if isinstance(e, DeployError):
            raise
        error = _connect_error(e, where, user, hostname, port, keys, connect_timeout)
        if error is None:
            raise
        raise error from e
    client.get_transport().set_keepalive(KEEPALIVE_S)
    return SSHTransport(client, label)


def _identity_files(label: str, identity: Optional[str], config: dict) -> List[str]:
    keys = []
    if identity:
        path = os.path.expanduser(str(identity))
        if not os.path.isfile(path):
            raise AuthError(f"{label}: identity file {path} does not exist; expected a private "
                            f"key file for --identity")
        keys.append(path)
    # Like ssh, IdentityFile entries that do not exist are skipped without a word.
    for path in config.get("identityfile", []):
        path = os.path.expanduser(path)
        if os.path.isfile(path) and path not in keys:
            keys.append(path)
    return keys


def _connect_error(e, where, user, hostname, port, keys, timeout) -> Optional[DeployError]:
    """The DeployError for an exception out of SSHClient.connect, or None to let it through."""
    if isinstance(e, paramiko.BadHostKeyException):
        name = hostname if port == 22 else f"[{hostname}]:{port}"
        return HostKeyError(
            f"{where}: the host key has CHANGED (now {e.key.get_name()} {fingerprint(e.key)}, "
            f"known_hosts has {fingerprint(e.expected_key)}); refusing to connect: this may be "
            f"an attack. If the change is expected (board reinstalled), run "
            f"`ssh-keygen -R '{name}'` and connect again")
    if isinstance(e, paramiko.PasswordRequiredException):
        return AuthError(f"{where}: a private key is encrypted; add it to ssh-agent "
                         f"(`ssh-add KEY`) so tinyedge can use it")
    no_methods = isinstance(e, paramiko.SSHException) and "No authentication methods" in str(e)
    if isinstance(e, paramiko.AuthenticationException) or no_methods:
        return AuthError(f"{where}: authentication refused for user '{user}' (tried "
                         f"{_keys_tried(keys)}); put one of these public keys in the board's "
                         f"~/.ssh/authorized_keys, or pass --identity KEY")
    if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
        codes = {getattr(x, "errno", None) for x in e.errors.values()}
        if codes == {errno.EHOSTUNREACH}:
            return ConnectError(f"{where}: host unreachable; check the address and the network")
        return ConnectError(f"{where}: connection refused; check that sshd runs on the board "
                            f"and listens on port {port}")
    if isinstance(e, socket.gaierror):
        return ConnectError(f"{where}: cannot resolve host name '{hostname}' ({e.strerror}); "
                            f"check the name or use the board's IP address")
    if isinstance(e, (socket.timeout, TimeoutError)):
        return ConnectError(f"{where}: no answer within {timeout:g} s; check that the board is "
                            f"on and reachable (or raise the connect timeout)")
    # paramiko says "banner" when none came, "No existing session" when the handshake ran out
    # of time; both mean a port that accepts connections but does not speak SSH (in time).
    if isinstance(e, paramiko.SSHException) and ("banner" in str(e)
                                                 or "No existing session" in str(e)):
        return ConnectError(f"{where}: the port accepted the connection but no SSH server "
                            f"answered within {timeout:g} s; check the port number")
    if isinstance(e, (paramiko.SSHException, OSError, EOFError)):
        return ConnectError(f"{where}: cannot open an SSH session: {e or type(e).__name__}")
    return None


def _keys_tried(keys: List[str]) -> str:
    tried = list(keys)
    ssh_dir = os.path.join(os.path.expanduser("~"), ".ssh")
    tried += [p for p in (os.path.join(ssh_dir, k) for k in DEFAULT_KEYS)
              if os.path.isfile(p) and p not in tried]
    if os.environ.get("SSH_AUTH_SOCK"):
        try:
            agent_keys = len(paramiko.Agent().get_keys())
        except (paramiko.SSHException, OSError):
            agent_keys = 0
        tried.append(f"ssh-agent ({agent_keys} keys)")
    return ", ".join(tried) if tried else "no keys: none given, none in ~/.ssh, no ssh-agent"
