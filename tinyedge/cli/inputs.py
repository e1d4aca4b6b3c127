"""Reading model inputs given on the command line (`--input x.npy`, `NAME=x.npy`, `x.npz`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


def _load_array(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"input file {p}: no such file")
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise InputError(f"input file {p}: not a .npy/.npz array file ({e})") from None


def read_inputs(items, model_inputs, seed: int = 0) -> dict:
    """Map each model input name to an array.

    items are `PATH.npy` (assigned to inputs in order), `NAME=PATH.npy`, or `PATH.npz` (arrays by
    input name). Inputs not given are filled with random values (standard normal, or uniform over the
    integer range for integer inputs) from `seed`."""
    names = [i.name for i in model_inputs]
    feeds: dict = {}
    positional = 0
    for item in items or []:
        name, sep, path = item.partition("=")
        if sep and name in names:
            feeds[name] = _load_array(path)
            continue
        arr = _load_array(item)
        if isinstance(arr, np.lib.npyio.NpzFile):
            unknown = [k for k in arr.files if k not in names]
            if unknown:
                raise InputError(f"{item}: arrays {unknown} match no input; inputs are {names}")
            feeds.update({k: arr[k] for k in arr.files})
            continue
        if sep:
            raise InputError(f"--input {item}: the model has no input '{name}'; inputs are {names}")
        if positional >= len(names):
            raise InputError(f"--input {item}: more input files than the model's {len(names)} inputs")
        feeds[names[positional]] = arr
        positional += 1
    rng = np.random.default_rng(seed)
    for info in model_inputs:
        if info.name not in feeds:
            dt = np.dtype(info.dtype)
            if dt.kind == "f":
                feeds[info.name] = rng.standard_normal(info.shape).astype(dt)
            else:
                lim = np.iinfo(dt)
                feeds[info.name] = rng.integers(lim.min, lim.max, info.shape, endpoint=True).astype(dt)
    return feeds
