"""The deploy directory on a board: `<remote_dir>/<remote user>/`, files named by content hash.

Pushing is content-addressed and atomic. A file goes up as `<final>.part-<random>`; its SHA-256 is
checked on the board, then it is chmod'ed and renamed (`mv -f`, one rename(2) in one directory) to
its final name, which carries the first 16 hex digits of that hash. So a final name always holds
complete, verified bytes; an unchanged file is found under its name and not sent again; an
interrupted push leaves at most a `.part-*` file, which this deploy removes when the connection still
works and a later deploy removes otherwise (once it is a few minutes old, so that two deploys of the
same user to the same board do not delete each other's files in flight).

Every command is a POSIX sh string whose arguments are quoted by `sh_join`/`shlex.quote`.
"""
from __future__ import annotations

import hashlib
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .errors import DeployError, NoSpace
from .transport import ExecResult, Transport, sh_join

HASH_CHARS = 16            # hex digits of SHA-256 in a final name
STALE_MINUTES = 10         # .part-* files and run-* dirs older than this belong to no live deploy
SPACE_MARGIN = 64 * 1024   # bytes kept free beyond the file itself (directory entries, df rounding)
CHUNK = 1 << 20


@dataclass
class PushResult:
    """One file pushed (or found already there): where it is and how many bytes went."""

    name: str           # final file name in the remote directory
    remote_path: str
    sha256: str
    size: int
    sent: bool          # False when the file was already there under its final name
    bytes_sent: int


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a local file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def hashed_name(stem: str, sha256: str, suffix: str = "") -> str:
    """`<stem>-<first 16 hex of sha256><suffix>`: the final name of a content-addressed file."""
    return f"{stem}-{sha256[:HASH_CHARS]}{suffix}"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip()


def _last_line(data: bytes) -> str:
    lines = [ln for ln in _text(data).splitlines() if ln.strip()]
    return lines[-1] if lines else ""


class RemoteDir:
    """The per-user deploy directory on one board, reached through a Transport."""

    def __init__(self, transport: Transport, base: str, user: str):
        self.transport = transport
        self.base = base.rstrip("/") or "/"
        self.user = user
        self.path = f"{self.base}/{user}" if self.base != "/" else f"/{user}"

    @classmethod
    def open(cls, transport: Transport, base: str) -> "RemoteDir":
        """Find the remote user, create `<base>/<user>` (mode 700) and clear stale temporaries."""
        r = transport.exec("id -un 2>/dev/null || whoami")
        user = _text(r.stdout).splitlines()[0].strip() if r.status == 0 and r.stdout.strip() else ""
        if not user or "/" in user or user in (".", ".."):
            raise DeployError(f"{transport.label}: cannot tell the remote user name (`id -un` said "
                              f"{_text(r.stdout + r.stderr)!r})")
        rd = cls(transport, base, user)
        rd._make()
        rd.clean_stale()
        return rd

    def _make(self) -> None:
        q_base, q_dir = shlex.quote(self.base), shlex.quote(self.path)
        # The shared base is made sticky and world-writable like /tmp, so that every user of the
        # board can make their own directory in it; the user's own directory is private.
        cmd = (f"{{ [ -d {q_base} ] || mkdir -p -m 1777 {q_base}; }} && "
               f"mkdir -p {q_dir} && chmod 700 {q_dir} && [ ! -h {q_dir} ] && [ -w {q_dir} ]")
        r = self.transport.exec(cmd)
        if r.status != 0:
            why = _last_line(r.stderr) or "not a writable directory"
            raise DeployError(f"{self.transport.label}: cannot use the remote directory "
                              f"{self.path}: {why}")

    def join(self, name: str) -> str:
        """The remote path of a file in this directory."""
        return f"{self.path}/{name}"

    def clean_stale(self, minutes: int = STALE_MINUTES) -> None:
        """Remove temporaries left by deploys that were cut off: `*.part-*` files and `run-*`
        output directories not modified for `minutes`."""
        cmd = (f"find {shlex.quote(self.path)} -mindepth 1 -maxdepth 1 "
               f"\\( -name '*.part-*' -o -name 'run-*' \\) -mmin +{int(minutes)} "
               f"-exec rm -rf {{}} + 2>/dev/null; true")
        self.transport.exec(cmd)

    def free_bytes(self) -> Optional[int]:
        """Bytes available to this user in the directory's file system (`df -Pk`), or None when
        df gives nothing readable."""
        r = self.transport.exec(sh_join(["df", "-Pk", self.path]))
        lines = _text(r.stdout).splitlines()
        if r.status != 0 or len(lines) < 2:
            return None
        # POSIX df -P: "Filesystem 1024-blocks Used Available Capacity Mounted-on"; a long device
        # name never wraps with -P, but the file system name may hold spaces: count from the end.
        fields = lines[-1].split()
        try:
            return int(fields[-3]) * 1024
        except (IndexError, ValueError):
            return None

    def existing_size(self, name: str) -> Optional[int]:
        """The size of a regular file in this directory, or None when there is none."""
        q = shlex.quote(self.join(name))
        r = self.transport.exec(f"[ -f {q} ] && wc -c < {q}")
        if r.status != 0:
            return None
        try:
            return int(_text(r.stdout))
        except ValueError:
            return None

    def push(self, local: Path, name: str, sha256: str, *, mode: str = "644",
             on_sent: Optional[Callable[[int], None]] = None) -> PushResult:
        """Put `local` here as `name` unless a file of the same size is there under that name (the
        name carries the content hash). Atomic: temp file, hash check, chmod, rename."""
        local = Path(local)
        size = local.stat().st_size
        final = self.join(name)
        if self.existing_size(name) == size:
            return PushResult(name, final, sha256, size, sent=False, bytes_sent=0)
        free = self.free_bytes()
        if free is not None and free < size + SPACE_MARGIN:
            raise NoSpace(f"{self.transport.label}: not enough space in {self.path} for "
                          f"{local.name}: "
                          f"need {_mb(size + SPACE_MARGIN)}, {_mb(free)} free")
        tmp = f"{final}.part-{secrets.token_hex(4)}"
        before = self.transport.bytes_sent
        try:
            self._write(local, tmp, final, sha256, mode, on_sent)
        except BaseException:
            self._remove_quietly(tmp)
            raise
        return PushResult(name, final, sha256, size, sent=True,
                          bytes_sent=self.transport.bytes_sent - before)

    def _write(self, local: Path, tmp: str, final: str, sha256: str, mode: str,
               on_sent: Optional[Callable[[int], None]]) -> None:
        q_tmp = shlex.quote(tmp)
        with open(local, "rb") as f:
            r = self.transport.exec(f"cat > {q_tmp} && sha256sum {q_tmp}", stdin=f, timeout=None,
                                    on_sent=on_sent)
        if r.status != 0:
            self._remove_quietly(tmp)
            why = _last_line(r.stderr) or f"exit status {r.status}"
            if "No space left" in why or "ENOSPC" in why:
                raise NoSpace(f"{self.transport.label}: no space left in {self.path} while "
                              f"writing {local.name} ({_mb(local.stat().st_size)}): {why}")
            raise DeployError(f"{self.transport.label}: cannot write {tmp}: {why}")
        got = _text(r.stdout).split()[0] if r.stdout.strip() else ""
        if got != sha256:
            self._remove_quietly(tmp)
            raise DeployError(f"{self.transport.label}: {local.name} arrived damaged: SHA-256 "
                              f"{got or 'unknown'} on the board, {sha256} here")
        r = self.transport.exec(f"chmod {mode} {q_tmp} && mv -f {q_tmp} {shlex.quote(final)}")
        if r.status != 0:
            self._remove_quietly(tmp)
            raise DeployError(f"{self.transport.label}: cannot rename {tmp} to {final}: "
                              f"{_last_line(r.stderr) or f'exit status {r.status}'}")

    def _remove_quietly(self, path: str) -> None:
        """Best effort: remove a temporary when the connection still works."""
        try:
            self.transport.exec(sh_join(["rm", "-rf", path]), timeout=10)
        except Exception:  # the connection is gone: the next deploy's clean_stale removes it
            pass

    def new_run_dir(self) -> str:
        """A fresh name for a run's output directory (the runner creates it)."""
        return self.join(f"run-{secrets.token_hex(6)}")

    def list_files(self, directory: str, suffix: str) -> list[str]:
        """Names of the files in a remote directory that end with `suffix`, sorted."""
        r = self.transport.exec(f"cd {shlex.quote(directory)} && ls -1")
        if r.status != 0:
            raise DeployError(f"{self.transport.label}: cannot list {directory}: "
                              f"{_last_line(r.stderr)}")
        return sorted(n for n in _text(r.stdout).splitlines() if n.endswith(suffix))

    def fetch(self, remote_path: str, local: Path) -> int:
        """Copy one remote file to `local` (written to a temp name, then renamed); its size."""
        r: ExecResult = self.transport.exec(sh_join(["cat", remote_path]), timeout=None)
        if r.status != 0:
            raise DeployError(f"{self.transport.label}: cannot read {remote_path}: "
                              f"{_last_line(r.stderr) or f'exit status {r.status}'}")
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(local.name + ".part")
        tmp.write_bytes(r.stdout)
        tmp.replace(local)
        return len(r.stdout)

    def remove(self, remote_path: str) -> None:
        """Remove a remote file or directory (best effort, never raises)."""
        self._remove_quietly(remote_path)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"
