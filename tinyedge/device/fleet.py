"""`tinyedge.deploy_fleet(...)`: the same deploy to several hosts at once, with a bounded pool.

Each host gets its own DeployResult or its own error; one failing host never stops the others.
The runner is built once before the pool starts (every host of one board runs the same build).
Output files are made per host: `trace.json` becomes `trace-<host>.json`, and fetched outputs go to
`<fetch_outputs>/<host>/`, so that no two hosts write the same file.
"""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..errors import TinyEdgeError
from .errors import DeployError
from .session import DeployResult, deploy, prepare_runner, resolve_board


class FleetInterrupted(DeployError):
    """Raised inside a host's deploy when the fleet deploy was interrupted (Ctrl-C)."""


@dataclass
class FleetEntry:
    """One host of a fleet deploy: its result, or the error that stopped it."""

    host: str
    result: Optional[DeployResult]
    error: Optional[TinyEdgeError]

    @property
    def ok(self) -> bool:
        return self.error is None


def split_host(spec: str) -> tuple[str, Optional[int]]:
    """`[user@]host[:port]` (IPv6 as `[addr]:port`) -> ("[user@]host", port or None)."""
    m = re.fullmatch(r"((?:[^@\s]+@)?)\[([^\]]+)\](?::(\d+))?", spec)
    if m:
        return m.group(1) + m.group(2), int(m.group(3)) if m.group(3) else None
    m = re.fullmatch(r"([^\s:]+)(?::(\d+))?", spec)
    if not m:
        raise DeployError(f"'{spec}' is not a host: expected [USER@]HOST[:PORT]")
    return m.group(1), int(m.group(2)) if m.group(2) else None


def read_hosts_file(path) -> list[str]:
    """Hosts from a file: one `[user@]host[:port]` per line; blank lines and `#` comments skipped."""
    hosts = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if len(text.split()) != 1:
            raise DeployError(f"{path}:{n}: '{text}' is not one host: write one [USER@]HOST[:PORT] "
                              f"per line")
        split_host(text)  # refuse a malformed line now, before any host is contacted
        hosts.append(text)
    return hosts


def host_tag(spec: str) -> str:
    """A file-name-safe tag for a host spec (`pi@10.0.0.5:2222` -> `pi_10.0.0.5_2222`)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", spec).strip("_") or "host"


def per_host_path(path, spec: str) -> Optional[Path]:
    """`trace.json` -> `trace-<host>.json` (the host tag inserted before the suffix)."""
    if path is None:
        return None
    p = Path(path)
    return p.with_name(f"{p.stem}-{host_tag(spec)}{p.suffix}")


def deploy_fleet(hosts: list[str], *, jobs: int = 4,
                 on_done: Optional[Callable[[FleetEntry], None]] = None,
                 **deploy_kwargs) -> list[FleetEntry]:
    """Deploy to every host (`[user@]host[:port]`), at most `jobs` at a time. Returns one
    FleetEntry per host, in the order given; on_done(entry) is called as each host finishes.
    deploy_kwargs are tinyedge.deploy's (model and board required); trace, summary_json and
    fetch_outputs are made per host. A host's `:port` overrides `port`. on_event is called from
    the pool's threads, on_done from the calling thread. On KeyboardInterrupt every host's remote
    run is stopped before the interrupt propagates."""
    if not hosts:
        raise DeployError("no hosts to deploy to: give --host (repeatable) or --hosts FILE")
    if jobs < 1:
        raise DeployError(f"jobs must be at least 1, got {jobs}")
    kwargs = dict(deploy_kwargs)
    board = resolve_board(kwargs.pop("board"), kwargs.get("boards_dir"))
    # One build for every host (and a build error stops the fleet once, not N times).
    prepare_runner(board, kwargs.get("toolchain"), kwargs.get("boards_dir"), kwargs.get("on_event"))

    # Ctrl-C reaches only the main thread: the workers learn of it at their next event, and the
    # exception raised there stops their remote command (Transport.stream's promise).
    cancel = threading.Event()
    user_event = kwargs.get("on_event")

    def on_event(e) -> None:
        if cancel.is_set():
            raise FleetInterrupted(f"{e.host}: stopped: the fleet deploy was interrupted")
        if user_event is not None:
            user_event(e)

    def one(spec: str) -> FleetEntry:
        try:
            target, port = split_host(spec)
            args = dict(kwargs, board=board, host=target, on_event=on_event)
            if port is not None:
                args["port"] = port
            for key in ("trace", "summary_json"):
                args[key] = per_host_path(kwargs.get(key), spec)
            if kwargs.get("fetch_outputs") is not None:
                args["fetch_outputs"] = Path(kwargs["fetch_outputs"]) / host_tag(spec)
            return FleetEntry(spec, deploy(**args), None)
        except TinyEdgeError as e:
            return FleetEntry(spec, None, e)
        except OSError as e:  # a local file (trace, outputs) that could not be written
            return FleetEntry(spec, None, DeployError(f"{spec}: {e}"))

    entries: dict[int, FleetEntry] = {}
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(hosts)))
    try:
        futures = {pool.submit(one, spec): i for i, spec in enumerate(hosts)}
        for fut in as_completed(futures):
            entry = fut.result()
            entries[futures[fut]] = entry
            if on_done is not None:
                on_done(entry)
    except BaseException:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return [entries[i] for i in range(len(hosts))]
