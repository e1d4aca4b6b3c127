"""Parsing what tinyedge-run prints (docs/trace.md is the contract), line by line as it arrives.

stdout: the `model ...` line, the trace (`#tinyedge-trace v1` header, then one tab-separated record
per op per timed run), `wrote ...` lines, the `tinyedge-summary v1 ...` line; every other line is
ignored. stderr: progress (`warmup 3/10`, `iter 7/100`), `note: ...` and `tinyedge-run: ...` errors.

Strict where a wrong guess would give wrong numbers: a trace or summary of another version, a record
with the wrong number of fields, a non-number where a number belongs, a bad `\\xHH` escape, or records
out of run/op order raise DeployError naming the line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .errors import DeployError

TRACE_VERSION = "v1"
SUMMARY_VERSION = "v1"
TRACE_COLUMNS = ("iter", "op", "name", "ir_op", "kernel", "out_shape", "out_dtype", "macs", "bytes",
                 "ns")
# The keys a v1 summary always holds, in order, and their types (a later version only appends).
SUMMARY_KEYS = {"runs": int, "warmup": int, "threads": int, "ops": int, "min_ms": float,
                "median_ms": float, "p90_ms": float, "p99_ms": float, "max_ms": float,
                "mean_ms": float, "per_second": float, "load_ms": float, "arena_bytes": int,
                "peak_rss_kb": int}
MODEL_LINE = re.compile(r"^model (?P<path>.*): (?P<ops>\d+) ops, (?P<inputs>\d+) inputs?, "
                        r"(?P<outputs>\d+) outputs?, arena (?P<arena>\d+) bytes, "
                        r"loaded in (?P<load_ms>[0-9.]+) ms$")
PROGRESS_LINE = re.compile(r"^(warmup|iter) (\d+)/(\d+)$")
ESCAPE = re.compile(r"\\(x[0-9a-f]{2})?")


@dataclass
class TraceRecord:
    """One op of one timed run, as the runner measured it."""

    iter: int
    op: int
    name: str
    ir_op: str
    kernel: str
    out_shape: str
    out_dtype: str
    macs: int
    bytes: int
    ns: int


@dataclass
class Progress:
    """A progress line: `done` of `total` runs of a phase ("warmup" or "iter") are finished."""

    phase: str
    done: int
    total: int


def _shown(line: str) -> str:
    """A line as an error message shows it (escaped, cut to a readable length)."""
    text = repr(line)
    return text if len(text) <= 200 else text[:197] + "..."


def unescape(text: str, line: str) -> str:
    """Undo the trace's text escaping: `\\xHH` is the byte 0xHH (a backslash is always escaped)."""
    if "\\" not in text:
        return text

    def one(m: re.Match) -> str:
        if m.group(1) is None:
            raise DeployError(f"runner trace: a backslash not followed by xHH in line {_shown(line)}")
        return chr(int(m.group(1)[1:], 16))
    return ESCAPE.sub(one, text)


def _number(text: str, kind: type, what: str, line: str):
    try:
        value = kind(text)
    except ValueError:
        raise DeployError(f"runner output: {what} is {text!r}, not a{'n integer' if kind is int else ' number'}, "
                          f"in line {_shown(line)}") from None
    if kind is float and value != value:
        raise DeployError(f"runner output: {what} is NaN in line {_shown(line)}")
    return value


def parse_summary(line: str) -> dict:
    """The typed key=value pairs of a `tinyedge-summary v1 ...` line (keys a later runner appends are
    kept: an integer, a number or else the text)."""
    words = line.split(" ")
    if len(words) < 2 or words[0] != "tinyedge-summary":
        raise DeployError(f"runner output: not a summary line: {_shown(line)}")
    if words[1] != SUMMARY_VERSION:
        raise DeployError(f"runner output: summary version {words[1]!r}, this tinyedge reads "
                          f"{SUMMARY_VERSION}: rebuild the runner with this tinyedge "
                          f"(line {_shown(line)})")
    out: dict = {}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise DeployError(f"runner output: {word!r} is not key=value in the summary line "
                              f"{_shown(line)}")
        kind = SUMMARY_KEYS.get(key)
        if kind is not None:
            out[key] = _number(value, kind, f"summary {key}", line)
        else:
            for guess in (int, float, str):
                try:
                    out[key] = guess(value)
                    break
                except ValueError:
                    continue
    missing = [k for k in SUMMARY_KEYS if k not in out]
    if missing:
        raise DeployError(f"runner output: the summary line has no {missing[0]}= "
                          f"(line {_shown(line)})")
    if list(out)[:len(SUMMARY_KEYS)] != list(SUMMARY_KEYS):
        raise DeployError(f"runner output: the summary keys are not in the v1 order "
                          f"(line {_shown(line)})")
    return out


def parse_record(line: str) -> TraceRecord:
    """One tab-separated trace record line."""
    fields = line.split("\t")
    if len(fields) != len(TRACE_COLUMNS):
        raise DeployError(f"runner trace: {len(fields)} fields where {len(TRACE_COLUMNS)} "
                          f"({', '.join(TRACE_COLUMNS)}) belong, in line {_shown(line)}")
    values = {}
    for col, text in zip(TRACE_COLUMNS, fields):
        if col in ("iter", "op", "macs", "bytes", "ns"):
            if not text.isdigit():  # unsigned decimal, as the runner prints them
                raise DeployError(f"runner trace: {col} is {text!r}, not a count, in line "
                                  f"{_shown(line)}")
            values[col] = int(text)
        else:
            values[col] = unescape(text, line)
    return TraceRecord(**values)


@dataclass
class RunnerOutput:
    """What one run of tinyedge-run printed, fed line by line (no newline) as it arrives."""

    records: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    model_line: str = ""
    model: dict = field(default_factory=dict)  # from the model line: ops, inputs, outputs, arena...
    errors: list = field(default_factory=list)  # the `tinyedge-run: ...` lines
    notes: list = field(default_factory=list)  # the text of `note: ...` lines
    wrote: list = field(default_factory=list)  # the `wrote ...` lines (with --output-dir)
    other_stderr: list = field(default_factory=list)  # stderr lines of no known kind
    has_header: bool = False
    _pending: list = field(default_factory=list)  # records of the run in progress

    def feed_stdout(self, line: str) -> Optional[list]:
        """Take one stdout line; returns the records of a run once its last op arrives."""
        line = line.rstrip("\r")
        if line[:1].isdigit():
            return self._record(line)
        if line.startswith("#"):
            self._header(line)
        elif line.startswith("tinyedge-summary "):
            self.summary = parse_summary(line)
            if self._pending:
                raise DeployError(f"runner trace: run {self._pending[0].iter} ended after "
                                  f"{len(self._pending)} of {self._ops()} ops")
        elif line.startswith("model "):
            self._model(line)
        elif line.startswith("wrote "):
            self.wrote.append(line)
        return None

    def feed_stderr(self, line: str) -> Optional[Progress]:
        """Take one stderr line; returns a Progress for a progress line."""
        line = line.rstrip("\r")
        m = PROGRESS_LINE.match(line)
        if m:
            return Progress(m.group(1), int(m.group(2)), int(m.group(3)))
        if line.startswith("note: "):
            self.notes.append(line[len("note: "):])
        elif line.startswith("tinyedge-run: "):
            self.errors.append(line)
        elif line:
            self.other_stderr.append(line)
        return None

    def check_complete(self) -> None:
        """Raise DeployError unless a summary came and, with a trace, every op of every run."""
        if not self.summary:
            raise DeployError("runner output: no tinyedge-summary line (the runner stopped early)")
        if self.has_header:
            want = self.summary["runs"] * self.summary["ops"]
            if len(self.records) != want:
                raise DeployError(f"runner trace: {len(self.records)} records for "
                                  f"{self.summary['runs']} runs of {self.summary['ops']} ops "
                                  f"({want} expected)")

    # --- the parts -------------------------------------------------------------------------------

    def _header(self, line: str) -> None:
        first, _, rest = line.partition("\t")
        words = first.split(" ")
        if words[0] != "#tinyedge-trace":
            return  # another comment: ignored, as the contract allows
        if len(words) != 2 or words[1] != TRACE_VERSION:
            raise DeployError(f"runner trace: header {first!r}, this tinyedge reads "
                              f"'#tinyedge-trace {TRACE_VERSION}': rebuild the runner with this "
                              f"tinyedge")
        if tuple(rest.split("\t")) != TRACE_COLUMNS:
            raise DeployError(f"runner trace: header columns are not {', '.join(TRACE_COLUMNS)} "
                              f"in line {_shown(line)}")
        self.has_header = True

    def _model(self, line: str) -> None:
        self.model_line = line
        m = MODEL_LINE.match(line)
        if m is None:
            raise DeployError(f"runner output: malformed model line {_shown(line)}")
        self.model = {"path": m["path"], "ops": int(m["ops"]), "inputs": int(m["inputs"]),
                      "outputs": int(m["outputs"]), "arena_bytes": int(m["arena"]),
                      "load_ms": float(m["load_ms"])}

    def _ops(self) -> Optional[int]:
        return self.model.get("ops")

    def _record(self, line: str) -> Optional[list]:
        if not self.has_header:
            raise DeployError(f"runner trace: a record before the '#tinyedge-trace "
                              f"{TRACE_VERSION}' header: {_shown(line)}")
        n_ops = self._ops()
        if n_ops is None:
            raise DeployError(f"runner trace: a record before the 'model ...' line: {_shown(line)}")
        rec = parse_record(line)
        done_iters = self.records[-1].iter + 1 if self.records else 0
        want = (done_iters, len(self._pending))
        if (rec.iter, rec.op) != want:
            raise DeployError(f"runner trace: expected run {want[0]} op {want[1]}, got run "
                              f"{rec.iter} op {rec.op} in line {_shown(line)}")
        if rec.op >= n_ops:
            raise DeployError(f"runner trace: op {rec.op} but the model has {n_ops} ops, in line "
                              f"{_shown(line)}")
        self._pending.append(rec)
        if len(self._pending) == n_ops:
            done, self._pending = self._pending, []
            self.records.extend(done)
            return done
        return None


__all__ = ["RunnerOutput", "TraceRecord", "Progress", "parse_record", "parse_summary", "unescape",
           "TRACE_COLUMNS", "SUMMARY_KEYS"]
