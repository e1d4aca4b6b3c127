"""`tinyedge deploy`: push a model and the board's runner to a board (or a fleet), run the on-device
benchmark there, stream its progress, print the per-op summary and write the trace.

One host: a progress bar on stderr while it runs, then the summary. Several hosts (repeat --host,
or --hosts FILE): a bounded pool, one line per host as it finishes, then a table; the exit status is
0 only when every host succeeded.
"""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .fmt import human_bytes


def add_parser(sub) -> None:
    p = sub.add_parser(
        "deploy", help="run a model on a board over SSH and bring back its per-op profile",
        description="Push MODEL.tem and the board's tinyedge-run to a board (content-addressed: "
                    "unchanged files are not sent again), run warm-up and timed iterations there, "
                    "stream the progress, print latency, throughput and the most expensive ops. "
                    "Without --host an emulated board (emulated-pi4) runs on this machine.")
    p.add_argument("model", metavar="MODEL.tem", help="a model compiled by tinyedge build")
    p.add_argument("--board", required=True, metavar="NAME",
                   help="a board name (see tinyedge boards) or the path of a board .toml file")
    p.add_argument("--host", action="append", default=[], metavar="[USER@]HOST",
                   help="the board's address; repeat for a fleet")
    p.add_argument("--hosts", metavar="FILE",
                   help="a file of hosts, one [USER@]HOST[:PORT] per line (# comments)")
    p.add_argument("--port", type=int, default=None, metavar="N",
                   help="SSH port (default: ~/.ssh/config, or 22)")
    p.add_argument("--identity", metavar="KEY", default=None, help="an SSH private key file")
    p.add_argument("--iters", type=_positive, default=100, metavar="N",
                   help="timed runs (default 100)")
    p.add_argument("--warmup", type=_natural, default=10, metavar="N",
                   help="warm-up runs first (default 10)")
    p.add_argument("--threads", type=_positive, default=1, metavar="N",
                   help="runtime threads (default 1, at most 64)")
    p.add_argument("--trace", metavar="FILE", default=None,
                   help="write the per-op trace as Chrome trace-event JSON "
                        "(opens in Perfetto and chrome://tracing)")
    p.add_argument("--summary-json", metavar="FILE", default=None,
                   help="write the summary (latency, ops, device facts) as JSON")
    p.add_argument("--fetch-outputs", metavar="DIR", default=None,
                   help="copy the outputs of the last timed run back as DIR/<output>.npy")
    p.add_argument("--accept-new-host-key", action="store_true",
                   help="trust an unknown host key on first use and record it in ~/.ssh/known_hosts "
                        "(a changed key is always refused)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for the SSH connection (default 10)")
    p.add_argument("--jobs", type=_positive, default=4, metavar="N",
                   help="hosts deployed at once in a fleet (default 4)")
    p.add_argument("--boards-dir", metavar="DIR", default=None,
                   help="a folder of your own board files, searched before the built-in ones "
                        "(also $TINYEDGE_BOARDS_DIR)")
    p.add_argument("--toolchain", choices=("zig", "gcc"), default=None,
                   help="how to build the runner (default zig)")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return n


def _natural(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return n


class DeployProgress:
    """Shows one deploy's DeployEvents on stderr: bars on a terminal, one line per step otherwise."""

    LABELS = {"compile": "compiling the runner", "link": "linking the runner",
              "warmup": "warm-up", "iter": "timed runs"}

    def __init__(self):
        self.err = Console(stderr=True, highlight=False)
        self.live = None
        self.tasks: dict = {}

    def _line(self, key, text: str) -> None:
        if key not in self.tasks:
            self.tasks[key] = None
            self.err.print(text, markup=False, soft_wrap=True)

    def _bar(self, key, text: str, done: int, total: int) -> None:
        if self.live is None:
            self.live = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 TimeElapsedColumn(), console=self.err, transient=True)
            self.live.start()
        if key not in self.tasks:
            self.tasks[key] = self.live.add_task(text, total=total)
        self.live.update(self.tasks[key], completed=done, total=total)

    def __call__(self, e) -> None:
        if e.kind in ("build", "run"):
            text = self.LABELS.get(e.name, e.name)
            if self.err.is_terminal:
                self._bar(e.name, text, e.done, e.total)
            else:
                self._line(e.name, f"{text} ({e.total})")
        elif e.kind == "push":
            text = f"sending {e.name}"
            if self.err.is_terminal:
                self._bar(("push", e.name), text, e.done, e.total)
        elif e.kind == "pushed":
            res = e.data
            task = self.tasks.pop(("push", e.name), None)
            if task is not None and self.live is not None:
                self.live.remove_task(task)
            self._line(("pushed", e.name), f"sent {res.name} ({human_bytes(res.bytes_sent)})"
                       if res.sent else f"{res.name} is already on the board")
        elif e.kind == "check":
            self._line("check", f"{e.host}: checking board {e.name}")

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _deploy_kwargs(args) -> dict:
    return dict(model=args.model, board=args.board, port=args.port, identity=args.identity,
                iters=args.iters, warmup=args.warmup, threads=args.threads, trace=args.trace,
                summary_json=args.summary_json, fetch_outputs=args.fetch_outputs,
                accept_new_host_key=args.accept_new_host_key,
                connect_timeout=args.connect_timeout, boards_dir=args.boards_dir,
                toolchain=args.toolchain)


def _run_one(args, console, host) -> int:
    from ..device.report import render_summary
    from ..device.session import deploy

    progress = DeployProgress()
    try:
        result = deploy(host=host, on_event=progress, **_deploy_kwargs(args))
    finally:
        progress.close()
    render_summary(console, result.summary)
    for what, path in (("trace", result.trace_path), ("summary", result.summary_path),
                       ("outputs", result.outputs_dir)):
        if path is not None:
            console.print(f"{what}: {path}", markup=False, soft_wrap=True)
    return 0


def _median(entry) -> str:
    lat = entry.result.summary.get("latency_ms", {}) if entry.result else {}
    return f"{lat['median']:.3f}" if "median" in lat else "-"


def _run_fleet(args, console, hosts) -> int:
    from ..device.fleet import deploy_fleet

    def on_done(entry) -> None:
        if entry.ok:
            console.print(f"ok   {entry.host}: median {_median(entry)} ms", markup=False,
                          soft_wrap=True)
        else:
            console.print(f"FAIL {entry.host}: {entry.error}", markup=False, soft_wrap=True)

    entries = deploy_fleet(hosts, jobs=args.jobs, on_done=on_done, **_deploy_kwargs(args))
    table = Table(title=f"{args.model} on {len(entries)} hosts ({args.board})")
    for col in ("host", "status", "median ms", "runs/s", "trace"):
        table.add_column(col, justify="right" if col in ("median ms", "runs/s") else "left")
    for e in entries:
        if e.ok:
            tput = e.result.summary.get("throughput_per_s")
            table.add_row(e.host, "ok", _median(e), f"{tput:.1f}" if tput else "-",
                          str(e.result.trace_path or "-"))
        else:
            table.add_row(e.host, f"failed: {type(e.error).__name__}", "-", "-", "-")
    console.print(table)
    failed = sum(not e.ok for e in entries)
    if failed:
        console.print(f"{failed} of {len(entries)} hosts failed", markup=False)
    return 1 if failed else 0


def run(args, console) -> int:
    from ..device.fleet import read_hosts_file

    hosts = list(args.host)
    if args.hosts:
        hosts += read_hosts_file(args.hosts)
    if args.hosts or len(hosts) > 1:
        return _run_fleet(args, console, hosts)
    return _run_one(args, console, hosts[0] if hosts else None)
