"""Calibration samples: load them from an .npz file or an image folder and check them.

The result is always {input name: float32 array (num_samples, *input_shape)}: one sample has the
model input's exact shape (batch 1 included), so the range collector feeds it to the graph as is.
Every problem with the data is a CalibrationError whose one line says which input and what is wrong.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import CalibrationError

InputSpec = tuple[str, tuple[int, ...], str]  # (name, shape, dtype) of one model input
Source = Union[str, os.PathLike, Mapping[str, np.ndarray]]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class ImagePreprocess:
    """How an image file becomes a model input.

    size: (height, width) to resize to before a center crop to the input's H, W; None resizes
    straight to the input's H, W. The pixel values x (0..255) become (x * scale - mean) / std per
    channel (mean and std hold one value or one per channel, in the order of `channels`), in
    `channels` order ("rgb" or "bgr"), laid out as `layout` ("nchw" or "nhwc")."""

    size: Optional[tuple[int, int]] = None
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    channels: str = "rgb"
    layout: str = "nchw"
    scale: float = 1 / 255


def load_calibration(source: Source, inputs: Sequence[InputSpec],
                     preprocess: Optional[ImagePreprocess] = None,
                     limit: Optional[int] = None) -> dict[str, np.ndarray]:
    """Load and check calibration samples for a model with the given inputs.

    source: an .npz file (one array per input, keyed by input name; a single-input model also
    accepts one array under any key), an .npy file (single-input models), a dict of arrays
    (checked like an .npz), or a folder of .jpg/.jpeg/.png/.bmp images (single-input models,
    loaded in file-name order and preprocessed per `preprocess`; None: values x / 255, RGB, the
    layout read from the input's shape; ignored for arrays). An array's first axis counts samples;
    each sample has the input's shape, with or without its leading batch dimension of 1. limit
    keeps the first `limit` samples. Returns {name: float32 array (num_samples, *input_shape)}.
    Raises CalibrationError. A constant input is not an error: the range logic widens every range
    to include 0 and gives a zero-width range a minimum width (calibration.qparams_from_range)."""
    inputs = [(name, tuple(int(d) for d in shape), str(dtype)) for name, shape, dtype in inputs]
    if not inputs:
        raise CalibrationError("the model has no inputs to calibrate")
    for name, _, dtype in inputs:
        if dtype != "float32":
            raise CalibrationError(f"input '{name}' is {dtype}; calibration feeds float32 "
                                   f"inputs only")
    if limit is not None and limit < 1:
        raise CalibrationError(f"calibration sample limit must be at least 1, got {limit}")
    if isinstance(source, Mapping):
        arrays = _match_names(dict(source), [n for n, _, _ in inputs], "a dict")
    else:
        path = Path(source)
        if not path.exists():
            raise CalibrationError(f"calibration data '{path}' does not exist")
        if path.is_dir():
            return _load_image_folder(path, inputs, preprocess, limit)
        arrays = _match_names(_read_array_file(path), [n for n, _, _ in inputs], f"'{path}'")
    shaped = {name: _shaped(name, arrays[name], shape) for name, shape, _ in inputs}
    _check_counts(shaped)
    return {name: _finite_float32(name, a[:limit]) for name, a in shaped.items()}


def _read_array_file(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz (by key) or .npy (under its file stem) file."""
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return {path.stem: data}
        with data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise CalibrationError(f"cannot read '{path}' as .npz or .npy: {e}") from e


def _match_names(arrays: dict, names: list[str], where: str) -> dict:
    """arrays keyed by input name; one array under any key also serves a single-input model."""
    if len(names) == 1 and len(arrays) == 1:
        return {names[0]: next(iter(arrays.values()))}
    missing = [n for n in names if n not in arrays]
    unknown = [k for k in arrays if k not in names]
    if missing or unknown:
        raise CalibrationError(f"calibration arrays {sorted(arrays)} (from {where}) do not match "
                               f"the model's inputs {names}: missing {missing}, unknown {unknown}")
    return arrays


def _shaped(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    """One input's samples as a float array (N, *shape), checked for dtype and shape."""
    a = np.asarray(value)
    if a.dtype.kind != "f":
        raise CalibrationError(f"input '{name}': calibration data is {a.dtype}, not float; convert "
                               f"and normalize it as the model expects its input")
    batchless = shape[1:] if shape[:1] == (1,) else None
    if a.ndim >= 1 and a.shape[1:] == shape:
        return a
    if batchless is not None and a.ndim >= 1 and a.shape[1:] == batchless:
        return a.reshape((a.shape[0],) + shape)
    accepted = f"(N, {', '.join(map(str, shape))})"
    if batchless is not None:
        accepted += f" or (N, {', '.join(map(str, batchless))})"
    raise CalibrationError(f"input '{name}': calibration data has shape {tuple(a.shape)}, "
                           f"expected {accepted}")


def _finite_float32(name: str, a: np.ndarray) -> np.ndarray:
    """a as contiguous float32, refused when empty or holding NaN or Inf."""
    if a.shape[0] == 0:
        raise CalibrationError(f"input '{name}': the calibration set is empty (0 samples)")
    with np.errstate(over="ignore"):  # a float64 value beyond float32 becomes inf: reported below
        a = np.ascontiguousarray(a, dtype=np.float32)
    _check_finite(name, a)
    return a


def _check_finite(name: str, a: np.ndarray) -> None:
    nan = int(np.count_nonzero(np.isnan(a)))
    inf = int(np.count_nonzero(np.isinf(a)))
    if nan or inf:
        bad = np.flatnonzero(~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1))
        shown = ", ".join(map(str, bad[:5])) + (", ..." if bad.size > 5 else "")
        raise CalibrationError(f"input '{name}': calibration data holds {nan} NaN and {inf} Inf "
                               f"values (in float32; samples {shown})")


def _check_counts(samples: dict[str, np.ndarray]) -> None:
    counts = {name: a.shape[0] for name, a in samples.items()}
    if len(set(counts.values())) > 1:
        raise CalibrationError(f"calibration inputs have different sample counts: {counts}")


# -- image folders ---------------------------------------------------------------------------------

def _image_layout(name: str, shape: tuple[int, ...], preprocess: Optional[ImagePreprocess]) -> str:
    """nchw or nhwc: preprocess's choice, else read from the shape (the axis holding 1 or 3)."""
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[0] != 1):
        raise CalibrationError(f"input '{name}' has shape {shape}; an image folder feeds inputs "
                               f"of shape (1, C, H, W), (1, H, W, C), (C, H, W) or (H, W, C)")
    chw = shape[-3:]
    if preprocess is not None:
        if preprocess.layout not in ("nchw", "nhwc"):
            raise CalibrationError(f"image layout '{preprocess.layout}' is not supported; use "
                                   f"'nchw' or 'nhwc'")
        layout = preprocess.layout
    elif chw[0] in (1, 3) and chw[2] not in (1, 3):
        layout = "nchw"
    elif chw[2] in (1, 3) and chw[0] not in (1, 3):
        layout = "nhwc"
    else:
        raise CalibrationError(f"input '{name}' has shape {shape}: cannot tell its channel axis; "
                               f"pass an ImagePreprocess with layout 'nchw' or 'nhwc'")
    channels = chw[0] if layout == "nchw" else chw[2]
    if channels not in (1, 3):
        raise CalibrationError(f"input '{name}' has {channels} channels in layout {layout} "
                               f"(shape {shape}); images give 1 (grayscale) or 3 (color)")
    return layout


def _check_preprocess(p: ImagePreprocess, channels: int) -> None:
    if p.channels not in ("rgb", "bgr"):
        raise CalibrationError(f"image channel order '{p.channels}' is not supported; use 'rgb' "
                               f"or 'bgr'")
    for what, values in (("mean", p.mean), ("std", p.std)):
        if len(values) not in (1, channels):
            raise CalibrationError(f"image {what} {tuple(values)} has {len(values)} values; "
                                   f"give 1 or {channels} (one per channel)")
    if not all(np.isfinite(p.std)) or any(s == 0 for s in p.std):
        raise CalibrationError(f"image std {tuple(p.std)} must be finite and non-zero")
    if p.size is not None and (len(p.size) != 2 or min(p.size) < 1):
        raise CalibrationError(f"image size {p.size} must be (height, width), both at least 1")


def _load_image_folder(folder: Path, inputs: list[InputSpec],
                       preprocess: Optional[ImagePreprocess], limit: Optional[int]) -> dict:
    if len(inputs) != 1:
        raise CalibrationError(f"an image folder calibrates single-input models; this model has "
                               f"inputs {[n for n, _, _ in inputs]}: use an .npz file")
    name, shape, _ = inputs[0]
    layout = _image_layout(name, shape, preprocess)
    p = preprocess or ImagePreprocess(layout=layout)
    chw = shape[-3:]
    channels, height, width = chw if layout == "nchw" else (chw[2], chw[0], chw[1])
    _check_preprocess(p, channels)
    size = tuple(p.size) if p.size is not None else (height, width)
    if size[0] < height or size[1] < width:
        raise CalibrationError(f"input '{name}': image size {size} is smaller than the input's "
                               f"(height, width) {(height, width)}; the crop cannot fill it")
    files = sorted(f for f in folder.iterdir()
                   if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CalibrationError(f"calibration folder '{folder}' holds no images "
                               f"({', '.join(IMAGE_SUFFIXES)})")
    files = files[:limit] if limit is not None else files
    samples = np.empty((len(files),) + shape, np.float32)
    for i, f in enumerate(files):
        hwc = _read_image(f, channels, size, (height, width), p)
        samples[i] = (hwc.transpose(2, 0, 1) if layout == "nchw" else hwc).reshape(shape)
    _check_finite(name, samples)
    return {name: samples}


def _read_image(path: Path, channels: int, size: tuple[int, int], crop: tuple[int, int],
                p: ImagePreprocess) -> np.ndarray:
    """One image as float32 (H, W, C): resized to size, center-cropped to crop, normalized."""
    from PIL import Image, UnidentifiedImageError  # only image folders need Pillow

    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if img.size != (size[1], size[0]):  # Pillow sizes are (width, height)
                img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(img, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise CalibrationError(f"cannot read image '{path}': {e}") from e
    pixels = pixels.reshape(size[0], size[1], channels)
    top, left = (size[0] - crop[0]) // 2, (size[1] - crop[1]) // 2
    pixels = pixels[top:top + crop[0], left:left + crop[1]]
    if p.channels == "bgr":
        pixels = pixels[..., ::-1]
    mean = np.asarray(p.mean, np.float32)
    std = np.asarray(p.std, np.float32)
    return (pixels * np.float32(p.scale) - mean) / std
