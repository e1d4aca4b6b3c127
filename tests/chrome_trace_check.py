"""A strict checker of Chrome's Trace Event Format, JSON object form, as Perfetto and
chrome://tracing read it (the "Trace Event Format" document, Google, 2016 and later).

The perfetto package cannot be used here: its trace processor downloads a binary at run time. This
checks what the format requires and a little more that a careful writer keeps to:
- the file is one JSON object (no NaN or Infinity: it must round-trip with allow_nan=False) with
  `traceEvents` a list, `displayTimeUnit` "ms" or "ns" when present, `otherData` an object of
  scalars when present;
- every event is an object with `ph` a known phase, `name` a string, `pid` and `tid` integers;
- complete events (X): `ts` and `dur` finite numbers >= 0, `cat` a string when present;
- instant (i/I) and counter (C) events: `ts`; begin/end (B/E): `ts`, and per thread every E closes a B;
- metadata events (M): `name` one of process_name, process_labels, process_sort_index,
  thread_name, thread_sort_index, with `args.name` a string for the *_name ones, `args.labels` a
  string for process_labels and `args.sort_index` an integer for the *_sort_index ones;
- `args`, when present, an object whose values are JSON scalars, lists or objects.
check_trace returns the list of problems (empty when the trace is valid); assert_valid_trace raises
AssertionError listing the first few.
"""
from __future__ import annotations

import json
import math
from numbers import Real

PHASES = set("BEXiIbneCMsftPOND") | {"(", ")"}
METADATA = {"process_name": ("name", str), "thread_name": ("name", str),
            "process_labels": ("labels", str), "process_sort_index": ("sort_index", int),
            "thread_sort_index": ("sort_index", int)}
NEEDS_TS = set("BEXiICbnesft")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_time(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _check_event(i: int, e, problems: list, open_b: dict) -> None:
    where = f"traceEvents[{i}]"
    if not isinstance(e, dict):
        problems.append(f"{where}: not an object")
        return
    ph = e.get("ph")
    if ph not in PHASES:
        problems.append(f"{where}: ph {ph!r} is not a trace event phase")
        return
    if not isinstance(e.get("name"), str):
        problems.append(f"{where}: name must be a string, got {e.get('name')!r}")
    for key in ("pid", "tid"):
        if key in e and not _is_int(e[key]):
            problems.append(f"{where}: {key} must be an integer, got {e[key]!r}")
    if "pid" not in e:
        problems.append(f"{where}: no pid")
    if "tid" not in e and ph != "M":
        problems.append(f"{where}: no tid")
    if "args" in e and not isinstance(e["args"], dict):
        problems.append(f"{where}: args must be an object")
    if "cat" in e and not isinstance(e["cat"], str):
        problems.append(f"{where}: cat must be a string")
    if ph in NEEDS_TS or "ts" in e:
        if not _is_time(e.get("ts")):
            problems.append(f"{where}: ts must be a finite number >= 0, got {e.get('ts')!r}")
    if ph == "X" and not _is_time(e.get("dur")):
        problems.append(f"{where}: a complete event needs dur, a finite number >= 0, "
                        f"got {e.get('dur')!r}")
    if ph == "M":
        spec = METADATA.get(e.get("name"))
        if spec is None:
            problems.append(f"{where}: metadata event name {e.get('name')!r} is not one of "
                            f"{', '.join(METADATA)}")
        else:
            key, kind = spec
            value = (e.get("args") or {}).get(key)
            if not (_is_int(value) if kind is int else isinstance(value, kind)):
                problems.append(f"{where}: {e['name']} needs args.{key} ({kind.__name__})")
        if e.get("name") in ("thread_name", "thread_sort_index") and "tid" not in e:
            problems.append(f"{where}: {e['name']} needs a tid")
    if ph == "B":
        open_b.setdefault((e.get("pid"), e.get("tid")), []).append(i)
    if ph == "E":
        stack = open_b.get((e.get("pid"), e.get("tid")))
        if not stack:
            problems.append(f"{where}: an E event with no B event open on its thread")
        else:
            stack.pop()


def check_trace(obj) -> list[str]:
    """Every way `obj` (a parsed trace) breaks the Trace Event Format's object form."""
    problems: list[str] = []
    try:
        again = json.loads(json.dumps(obj, allow_nan=False))
    except (TypeError, ValueError) as e:
        return [f"not strict JSON (NaN, Infinity or a non-JSON value): {e}"]
    if not isinstance(again, dict):
        return ["a trace in object form is a JSON object"]
    events = again.get("traceEvents")
    if not isinstance(events, list):
        return ["traceEvents must be a list"]
    if "displayTimeUnit" in again and again["displayTimeUnit"] not in ("ms", "ns"):
        problems.append(f"displayTimeUnit must be 'ms' or 'ns', got {again['displayTimeUnit']!r}")
    other = again.get("otherData", {})
    if not isinstance(other, dict) or any(isinstance(v, (dict, list)) for v in other.values()):
        problems.append("otherData must be an object of scalar values")
    open_b: dict = {}
    for i, e in enumerate(events):
        _check_event(i, e, problems, open_b)
    for (pid, tid), stack in open_b.items():
        if stack:
            problems.append(f"B event traceEvents[{stack[-1]}] on pid {pid} tid {tid} never ends")
    return problems


def assert_valid_trace(obj) -> None:
    """Raise AssertionError naming the first problems when `obj` is not a valid trace."""
    problems = check_trace(obj)
    assert not problems, "invalid Chrome trace: " + "; ".join(problems[:5])


def load_trace(path) -> dict:
    """Read a trace file strictly: NaN and Infinity, which Python's json accepts, are refused."""
    def refuse(token):
        raise ValueError(f"{path}: {token} is not JSON")
    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=refuse)
