"""Data movement: reshape, transpose, concat, pad, slice. These only rearrange elements, so they
keep any dtype (the ONNX frontend folds integer shape arithmetic through them)."""
from __future__ import annotations

import numpy as np

from ..ir.ops import PAD_MODES


def reshape(x: np.ndarray, *, shape) -> np.ndarray:
    """Same data, new static shape."""
    return x.reshape(shape)


def transpose(x: np.ndarray, *, perm) -> np.ndarray:
    """Permute the axes: out.shape[i] = x.shape[perm[i]]."""
    return np.transpose(x, perm)


def concat(*xs: np.ndarray, axis) -> np.ndarray:
    """Join the inputs along axis."""
    return np.concatenate(xs, axis=axis)


def pad(x: np.ndarray, *, pads, mode, value) -> np.ndarray:
    """Pad with pads = all begins then all ends (ONNX order); mode indexes PAD_MODES.

    Negative pads crop. As onnxruntime does, the crop comes first and the positive pads then apply
    to the cropped tensor (which matters for reflect and edge).
    """
    if not 0 <= mode < len(PAD_MODES):
        raise ValueError(f"pad: mode {mode} unknown; supported: "
                         + ", ".join(f"{i} {m}" for i, m in enumerate(PAD_MODES)))
    r = x.ndim
    begins, ends = pads[:r], pads[r:]
    x = x[tuple(slice(-min(b, 0), x.shape[i] + min(e, 0)) for i, (b, e) in
                enumerate(zip(begins, ends)))]
    widths = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
    name = PAD_MODES[mode]
    if name == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.asarray(value, x.dtype))
    return np.pad(x, widths, mode=name)


def slice_(x: np.ndarray, *, starts, ends, steps) -> np.ndarray:
    """x[starts:ends:steps], one normalized in-range triple per dim.

    Indices come from range(start, end, step), where an end of -1 with a negative step reaches down
    to index 0 included (a Python slice would read -1 as the last element).
    """
    index = [np.arange(s, e, k) for s, e, k in zip(starts, ends, steps)]
    return x[np.ix_(*index)] if index else x.copy()


KERNELS = {"reshape": reshape, "transpose": transpose, "concat": concat, "pad": pad,
           "slice": slice_}
