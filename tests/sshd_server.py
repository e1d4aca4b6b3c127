"""A real OpenSSH server on 127.0.0.1 for deploy tests, with everything in a temp dir.

`SshServer` runs `/usr/sbin/sshd -D -e -f <dir>/sshd_config` on a free port with an Ed25519 host
key and an authorized client key made here (with `cryptography`, in OpenSSH format), its log in
<dir>/sshd.log. It also prepares a HOME for the client: .ssh/known_hosts holding the server's key
and .ssh/config with a `Host tinyedge-board` alias (HostName, Port, User, IdentityFile). The
`sshd` fixture starts one, points HOME at that directory and stops it at teardown.
"""

import base64
import getpass
import hashlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SSHD = "/usr/sbin/sshd"
START_TIMEOUT_S = 10.0  # sshd is ready in ~0.2 s; this only bounds a broken start


def require_sshd() -> None:
    """Skip the calling test, saying why, when OpenSSH's sshd is not installed."""
    if not os.access(SSHD, os.X_OK):
        pytest.skip(f"{SSHD} not found: install openssh-server to run the SSH deploy tests")


def write_ed25519_key(path: Path, comment: str = "tinyedge-test") -> str:
    """Write a new Ed25519 private key (OpenSSH format, mode 0600) and <path>.pub; return the
    public key line."""
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    Path(f"{path}.pub").write_text(f"{public} {comment}\n")
    return public


def key_fingerprint(public_line: str) -> str:
    """SHA256 fingerprint of an OpenSSH public key line, as `ssh-keygen -l` prints it."""
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SshServer:
    """One sshd on 127.0.0.1:<port>; see the module docstring. start() / stop() / restart()."""

    alias = "tinyedge-board"  # the Host entry written to home/.ssh/config

    def __init__(self, base: Path):
        self.base = Path(base)
        self.dir = self.base / "sshd"
        self.home = self.base / "home"
        self.root = self.base / "board"
        for d in (self.dir, self.home / ".ssh", self.root):
            d.mkdir(parents=True, exist_ok=True)
        (self.home / ".ssh").chmod(0o700)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = getpass.getuser()
        self.log = self.dir / "sshd.log"
        self.client_key = self.dir / "client_ed25519"
        (self.dir / "authorized_keys").write_text(write_ed25519_key(self.client_key) + "\n")
        self.host_key = self.dir / "host_ed25519"
        self.host_key_fingerprint = ""
        self.new_host_key()
        self.write_client_files()
        self.proc = None

    def new_host_key(self) -> None:
        """Give the server a fresh host key (takes effect at the next start)."""
        for p in (self.host_key, Path(f"{self.host_key}.pub")):
            p.unlink(missing_ok=True)
        self.host_key_public = write_ed25519_key(self.host_key, "tinyedge-test-host")
        self.host_key_fingerprint = key_fingerprint(self.host_key_public)

    def known_hosts_line(self) -> str:
        """The known_hosts line for this server's current host key."""
        return f"[{self.host}]:{self.port} {self.host_key_public}\n"

    def write_client_files(self) -> None:
        """(Re)write home/.ssh/known_hosts (the server's key) and home/.ssh/config."""
        (self.home / ".ssh" / "known_hosts").write_text(self.known_hosts_line())
        (self.home / ".ssh" / "config").write_text(
            f"Host {self.alias}\n    HostName {self.host}\n    Port {self.port}\n"
            f"    User {self.user}\n    IdentityFile {self.client_key}\n")

    def target(self) -> str:
        """user@127.0.0.1 (pass port= and identity= along with it)."""
        return f"{self.user}@{self.host}"

    def _write_config(self) -> Path:
        config = self.dir / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", f"ListenAddress {self.host}", f"HostKey {self.host_key}",
            "PidFile none", f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "StrictModes no",  # temp dirs are world-writable
            "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", "UseDNS no",
            "PrintMotd no", "Subsystem sftp internal-sftp", ""]))
        return config

    def start(self) -> None:
        """Start sshd and return once it listens (it logs "Server listening")."""
        if self.proc is not None:
            return
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        config = self._write_config()
        log = open(self.log, "ab")
        start = self.log.stat().st_size
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            text = self.log.read_bytes()[start:].decode(errors="replace")
            if "Server listening" in text:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sshd did not start on port {self.port}; its log:\n{text}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop sshd and every connection it serves."""
        if self.proc is None:
            return
        self.kill_sessions()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, new_host_key: bool = False) -> None:
        """Stop and start again on the same port, with a new host key if asked (known_hosts in
        home is not updated: that is the "changed host key" case)."""
        self.stop()
        if new_host_key:
            self.new_host_key()
        self.start()

    def session_pids(self) -> List[int]:
        """The pids of sshd's per-connection processes (the sshd descendants of the listener)."""
        if self.proc is None:
            return []
        children: Dict[int, List[Tuple[int, str]]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'
                comm = stat[stat.index("(") + 1:stat.rindex(")")]
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                children.setdefault(ppid, []).append((int(entry), comm))
        found, todo = [], [self.proc.pid]
        while todo:
            for pid, comm in children.get(todo.pop(), []):
                if comm == "sshd":
                    found.append(pid)
                    todo.append(pid)
        return found

    def kill_sessions(self) -> None:
        """Kill sshd's per-connection processes: live connections drop as if the link died.
        Commands they started keep running, as on a real board, until they write to the gone
        connection."""
        for pid in self.session_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def sshd(tmp_path, monkeypatch):
    """A started SshServer; HOME points at its client home, no ssh-agent; stopped at teardown."""
    require_sshd()
    server = SshServer(tmp_path / "ssh")
    server.start()
    monkeypatch.setenv("HOME", str(server.home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    try:
        yield server
    finally:
        server.stop()
