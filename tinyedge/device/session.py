"""`tinyedge.deploy(...)`: one deploy of a model to one board, from the runner build to the report.

The steps, in order (each failure is a DeployError subclass with one line naming the host):
  1. load the board file; build (or find in the cache) the runner of `board.runner_board`;
  2. connect: SSH to `host`, or a LocalTransport when no host is given and the board is emulated;
  3. check the board before anything is written: `uname -m` must be the board file's (for a real
     board), or the emulator of the board's exec_prefix must be installed (for an emulated one);
  4. collect the device facts (facts.FACTS_SCRIPT);
  5. push the runner (content-addressed, atomic: remote.py), check that it starts and says it is
     tinyedge-run, then push the model;
  6. run the on-device benchmark, streaming its trace and progress (profile.RunnerOutput);
  7. with fetch_outputs, copy the outputs back and remove the remote run directory;
  8. build the summary, write the trace and summary JSON (report.py).
Progress reaches the caller through `on_event(DeployEvent)`.
"""
from __future__ import annotations

import platform
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from .. import __version__
from ..boards import Board, load_board
from ..errors import TinyEdgeError
from .errors import BoardMismatch, ConnectionLost, DeployError, RunnerFailed
from .remote import PushResult, RemoteDir, file_sha256, hashed_name
from .transport import LocalTransport, Transport, connect_ssh, sh_join

UNAME_ALIASES = {"armv7l": ("armv7l", "armv8l")}  # a 32-bit userland on an ARMv8 kernel says armv8l


@dataclass
class DeployEvent:
    """Progress of a deploy, for a progress bar or a log.

    kind: "build" (compiling the runner: stage, done, total files), "connect", "check", "facts",
    "push" (name = file, done/total bytes), "pushed" (name, total bytes, data = PushResult),
    "run" (name = "warmup" | "iter", done/total runs), "records" (data = the TraceRecords of one
    timed run), "fetch" (name = output file), "done" (data = DeployResult).
    """

    kind: str
    host: str
    name: str = ""
    done: int = 0
    total: int = 0
    data: Any = None


@dataclass
class DeployResult:
    """What one deploy produced: the summary (report.build_summary) and the files written."""

    board: str
    host: str
    summary: dict
    trace_path: Optional[Path]
    summary_path: Optional[Path]
    outputs_dir: Optional[Path]
    pushed: list = field(default_factory=list)   # PushResult per file (runner, model)
    bytes_sent: int = 0


EventSink = Callable[[DeployEvent], None]


def _safe_stem(stem: str) -> str:
    """A file-name stem that needs no quoting anywhere: [A-Za-z0-9._-], at most 60 characters."""
    return (re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".") or "model")[:60]


def resolve_board(board: Union[str, Board], boards_dir=None) -> Board:
    """A Board from a name or path (searched in boards_dir, $TINYEDGE_BOARDS_DIR, boards/)."""
    return board if isinstance(board, Board) else load_board(board, boards_dir)


def prepare_runner(board: Board, toolchain: Optional[str] = None, boards_dir=None,
                   on_event: Optional[EventSink] = None, host: str = ""):
    """The runner build for the board (its `runner_board`), built now unless cached."""
    from ..cross import build_runner

    runner_board = board if board.runner_board == board.name else load_board(board.runner_board,
                                                                             boards_dir)
    progress = None
    if on_event is not None:
        def progress(stage: str, done: int, total: int) -> None:
            on_event(DeployEvent("build", host, stage, done, total))
    return build_runner(runner_board, toolchain, progress=progress)


def open_transport(board: Board, host: Optional[str], *, port=None, identity=None,
                   accept_new_host_key=False, connect_timeout=10.0) -> Transport:
    """SSH to `host`, or this machine when no host is given and the board is emulated."""
    if host is None:
        if not board.is_emulated:
            raise DeployError(f"board {board.name} is a real board: give its address with --host "
                              f"[USER@]HOST (only emulated boards run here without one)")
        return LocalTransport()
    return connect_ssh(host, port=port, identity=identity, accept_new_host_key=accept_new_host_key,
                       connect_timeout=connect_timeout)


@contextmanager
def _phase(transport: Transport, phase: str, what: str) -> Iterator[None]:
    """Name the phase in a ConnectionLost that the transport raised without one."""
    try:
        yield
    except ConnectionLost as e:
        if e.phase is not None:
            raise
        raise ConnectionLost(f"{transport.label}: connection lost {what}; check that the board is "
                             f"up and reachable, then run again", phase=phase) from e


def check_board(transport: Transport, board: Board) -> None:
    """Refuse a machine that is not the board: wrong `uname -m`, or no emulator for an emulated
    board. Nothing is written before this passes."""
    label = transport.label
    if board.is_emulated:
        prog = board.deploy.exec_prefix[0]
        r = transport.exec(f"command -v {sh_join([prog])}")
        if r.status != 0:
            raise BoardMismatch(f"{label}: {prog} is not installed there, and board {board.name} "
                                f"runs its binaries with `{' '.join(board.deploy.exec_prefix)}` "
                                f"(apt-get install qemu-user)")
        return
    r = transport.exec("uname -m")
    got = r.stdout.decode("utf-8", "replace").strip()
    # The host board's runner is built for this machine: the target must be the same kind.
    want = platform.machine() if board.is_host else board.uname_m
    if r.status != 0 or got not in UNAME_ALIASES.get(want, (want,)):
        raise BoardMismatch(f"{label}: `uname -m` says {got or 'nothing'!r} but board {board.name} "
                            f"({board.path}) expects {want!r}: wrong --board for this host?")


def check_runner(transport: Transport, board: Board, runner_path: str) -> str:
    """Run `<prefix> runner --version` on the board; its version line, or BoardMismatch."""
    r = transport.exec(sh_join([*board.deploy.exec_prefix, runner_path, "--version"]), timeout=60)
    out = r.stdout.decode("utf-8", "replace").strip()
    if r.status != 0 or not out.startswith("tinyedge-run"):
        why = r.stderr.decode("utf-8", "replace").strip().splitlines()
        how = f"killed by SIG{r.signal}" if r.signal else f"exit status {r.status}"
        raise BoardMismatch(f"{transport.label}: the {board.runner_board} runner does not start on "
                            f"this machine ({how}): {why[-1] if why else out or 'no output'}")
    return out.splitlines()[0]


def _collect_facts(transport: Transport) -> dict:
    from .facts import FACTS_SCRIPT, parse_facts

    r = transport.exec(FACTS_SCRIPT, timeout=30)
    return parse_facts(r.stdout.decode("utf-8", "replace"))


def _push(rd: RemoteDir, local: Path, name: str, sha: str, mode: str,
          emit: EventSink) -> PushResult:
    total = local.stat().st_size
    emit(DeployEvent("push", rd.transport.label, name, 0, total))
    res = rd.push(local, name, sha, mode=mode,
                  on_sent=lambda n: emit(DeployEvent("push", rd.transport.label, name, n, total)))
    emit(DeployEvent("pushed", rd.transport.label, name, total, total, data=res))
    return res


def run_command(board: Board, runner: str, model: str, *, iters: int, warmup: int, threads: int,
                output_dir: Optional[str]) -> str:
    """The quoted command line of the on-device benchmark."""
    argv = [*board.deploy.exec_prefix, runner, model, "--iters", str(iters), "--warmup", str(warmup),
            "--threads", str(threads), "--trace", "-"]
    if output_dir is not None:
        argv += ["--output-dir", output_dir]
    return sh_join(argv)


def _run(transport: Transport, command: str, model_name: str, emit: EventSink):
    """Stream the benchmark; the RunnerOutput, or RunnerFailed with the runner's own message."""
    from .profile import RunnerOutput

    out = RunnerOutput()
    label = transport.label

    def on_stdout(line: str) -> None:
        records = out.feed_stdout(line)
        if records:
            emit(DeployEvent("records", label, data=records))

    def on_stderr(line: str) -> None:
        p = out.feed_stderr(line)
        if p is not None:
            emit(DeployEvent("run", label, p.phase, p.done, p.total))

    try:
        r = transport.stream(command, on_stdout, on_stderr)
    except DeployError as e:
        if type(e) is not DeployError or str(e).startswith(label):
            raise
        raise DeployError(f"{label}: {e}") from e  # a malformed line of the runner's output
    # An error line of the runner's own, else what another program said (qemu, the shell).
    said = out.errors[-1] if out.errors else (out.other_stderr[-1] if out.other_stderr else "")
    if r.signal:
        raise RunnerFailed(f"{label}: the runner was killed by SIG{r.signal} while running "
                           f"{model_name}" + (f": {said}" if said else ""),
                           status=r.status, signal=r.signal)
    if r.status != 0:
        raise RunnerFailed(f"{label}: the runner failed on {model_name} (exit status {r.status}): "
                           f"{said or 'it printed no error message'}", status=r.status)
    try:
        out.check_complete()
    except DeployError as e:
        raise DeployError(f"{label}: {model_name}: {e}") from e
    return out


def _fetch_outputs(rd: RemoteDir, run_dir: str, dest: Path, emit: EventSink) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in rd.list_files(run_dir, ".npy"):
        emit(DeployEvent("fetch", rd.transport.label, name))
        rd.fetch(f"{run_dir}/{name}", dest / name)


# What tinyedge-run accepts (docs/trace.md), checked here so that a bad value costs no connection.
COUNT_RANGES = {"iters": (1, 1_000_000), "warmup": (0, 1_000_000), "threads": (1, 64)}


def _check_counts(**values) -> None:
    for name, value in values.items():
        low, high = COUNT_RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise DeployError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def deploy(model, board, host=None, *, port=None, identity=None, iters=100, warmup=10, threads=1,
           trace=None, summary_json=None, fetch_outputs=None, accept_new_host_key=False,
           connect_timeout=10.0, boards_dir=None, toolchain=None, remote_dir=None,
           on_event=None) -> DeployResult:
    """Push a .tem model and the board's runner to a board, run the on-device benchmark there and
    bring back its profile.

    model: a .tem file. board: a board name or path (or Board). host: [user@]host for SSH; None on
    an emulated board runs here without SSH. trace / summary_json: where to write the Chrome trace
    and the summary JSON (nothing is written when None). fetch_outputs: a local directory that
    receives the outputs of the last timed run as .npy files. remote_dir overrides the board file's
    deploy directory. on_event receives DeployEvents. Returns a DeployResult; raises a DeployError
    subclass (ConnectError, AuthError, HostKeyError, BoardMismatch, NoSpace, ConnectionLost,
    RunnerFailed) with one line naming the host and what failed.
    """
    _check_counts(iters=iters, warmup=warmup, threads=threads)
    model = Path(model)
    if not model.is_file():
        raise TinyEdgeError(f"{model}: no such model file (expected a .tem file from tinyedge build)")
    b = resolve_board(board, boards_dir)
    emit: EventSink = on_event or (lambda e: None)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    build = prepare_runner(b, toolchain, boards_dir, on_event, host or "local")
    runner_sha, model_sha = file_sha256(build.path), file_sha256(model)

    transport = open_transport(b, host, port=port, identity=identity,
                               accept_new_host_key=accept_new_host_key,
                               connect_timeout=connect_timeout)
    label = transport.label
    run_dir = rd = None
    try:
        emit(DeployEvent("check", label, b.name))
        with _phase(transport, "check", "while checking the board"):
            check_board(transport, b)
        emit(DeployEvent("facts", label))
        with _phase(transport, "facts", "while reading the device facts"):
            facts = _collect_facts(transport)
        with _phase(transport, "push", "while preparing the remote directory"):
            rd = RemoteDir.open(transport, remote_dir or b.deploy.remote_dir)
        with _phase(transport, "push", "while pushing the runner"):
            runner_push = _push(rd, build.path, hashed_name("tinyedge-run", runner_sha), runner_sha,
                                "755", emit)
        with _phase(transport, "check", "while starting the runner"):
            check_runner(transport, b, runner_push.remote_path)
        with _phase(transport, "push", f"while pushing {model.name}"):
            model_push = _push(rd, model, hashed_name(_safe_stem(model.stem), model_sha, ".tem"),
                               model_sha, "644", emit)
        run_dir = rd.new_run_dir() if fetch_outputs is not None else None
        command = run_command(b, runner_push.remote_path, model_push.remote_path, iters=iters,
                              warmup=warmup, threads=threads, output_dir=run_dir)
        with _phase(transport, "run", f"while running {model.name}"):
            out = _run(transport, command, model.name, emit)
        outputs_dir = None
        if run_dir is not None:
            outputs_dir = Path(fetch_outputs)
            with _phase(transport, "fetch", "while fetching the outputs"):
                _fetch_outputs(rd, run_dir, outputs_dir, emit)
        bytes_sent = transport.bytes_sent
    finally:
        if run_dir is not None:
            rd.remove(run_dir)
        transport.close()

    from .report import build_summary, chrome_trace, write_json

    meta = {"board": b.name, "host": label, "model": model.name, "model_sha256": model_sha,
            "runner_sha256": runner_sha, "iters": iters, "warmup": warmup, "threads": threads,
            "tinyedge_version": __version__, "started_at": started}
    summary = build_summary(out, facts, meta)
    trace_path = Path(trace) if trace is not None else None
    summary_path = Path(summary_json) if summary_json is not None else None
    if trace_path is not None:
        write_json(trace_path, chrome_trace(out, facts, meta))
    if summary_path is not None:
        write_json(summary_path, summary)
    result = DeployResult(b.name, label, summary, trace_path, summary_path, outputs_dir,
                          [runner_push, model_push], bytes_sent)
    emit(DeployEvent("done", label, data=result))
    return result
