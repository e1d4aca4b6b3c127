"""Measure a .tem model on a data set: top-1 accuracy and agreement with a reference model."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .errors import InputError, TinyEdgeError


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays taken as flat vectors (1.0 when both are zero)."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(a @ b / (na * nb))


def as_float(out: np.ndarray, info) -> np.ndarray:
    """A model output as float32: INT8 outputs are dequantized with their scale and zero point."""
    if info.scale is None:
        return out.astype(np.float32)
    return (np.float32(info.scale) * (out.astype(np.int32) - info.zero_point)).astype(np.float32)


def to_input(x: np.ndarray, info) -> np.ndarray:
    """One float sample as the model wants it: INT8 inputs are quantized with their parameters."""
    if info.scale is None:
        return x.astype(info.dtype).reshape(info.shape)
    from .quantize.fixed_point import quantize_value

    return quantize_value(x, info.scale, info.zero_point).astype(np.int8).reshape(info.shape)


@dataclass
class EvalResult:
    """Metrics over a data set; reference metrics per output name."""

    samples: int
    top1: Optional[float] = None
    cosine: dict = field(default_factory=dict)  # output name -> mean cosine similarity
    max_error: dict = field(default_factory=dict)  # output name -> max |model - reference|
    reference: Optional[str] = None


class _Reference:
    """A model to compare against: a .tem (C runtime) or an .onnx (onnxruntime when installed,
    else tinyedge's numpy reference executor on the imported float graph)."""

    def __init__(self, path: Path):
        self.path = path
        if path.suffix == ".tem":
            from .runtime import load

            model = load(path)
            self.kind = "tinyedge C runtime"
            self.run = lambda feeds: [as_float(o, i) for o, i in zip(model.run(feeds), model.outputs)]
            return
        if path.suffix != ".onnx":
            raise TinyEdgeError(f"--reference {path}: expected a .onnx or .tem file")
        if not path.is_file():
            raise TinyEdgeError(f"--reference {path}: no such file")
        try:
            import onnxruntime as ort

            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self.kind = f"onnxruntime {ort.__version__}"
            self.run = lambda feeds: sess.run(None, feeds)
        except ImportError:
            from .compiler import compile_graph, import_model
            from .reference import run

            graph, _ = compile_graph(import_model(path))
            self.kind = "tinyedge numpy reference"
            self.run = lambda feeds: run(graph, feeds)


def evaluate(model_path: str | os.PathLike, data: str | os.PathLike,
             labels: Optional[str | os.PathLike] = None,
             reference: Optional[str | os.PathLike] = None,
             progress: Optional[Callable[[int, int], None]] = None) -> EvalResult:
    """Run every sample of `data` (.npz, one array per input, first axis = samples) through the
    model; top-1 accuracy of the first output against `labels` (.npy of class indices) and, against
    `reference`, the mean cosine similarity and max absolute error of every output."""
    from .quantize.calib_data import load_calibration
    from .runtime import load

    model = load(model_path)
    float_inputs = [(i.name, i.shape, "float32") for i in model.inputs]
    samples = load_calibration(data, float_inputs)
    n = len(next(iter(samples.values())))
    y = None
    if labels is not None:
        y = np.load(labels).reshape(-1)
        if len(y) != n:
            raise InputError(f"--labels {labels}: {len(y)} labels for {n} samples")
    ref = _Reference(Path(reference)) if reference is not None else None
    result = EvalResult(samples=n, reference=ref.kind if ref else None)
    correct, cos_sum = 0, {}
    for k in range(n):
        feeds = {i.name: to_input(samples[i.name][k], i) for i in model.inputs}
        outs = [as_float(o, i) for o, i in zip(model.run(feeds), model.outputs)]
        if y is not None:
            correct += int(np.argmax(outs[0]) == y[k])
        if ref is not None:
            want = ref.run({i.name: samples[i.name][k].reshape(i.shape) for i in model.inputs})
            for info, got, w in zip(model.outputs, outs, want):
                cos_sum[info.name] = cos_sum.get(info.name, 0.0) + cosine(got, w)
                err = float(np.abs(got - np.asarray(w, np.float32)).max())
                result.max_error[info.name] = max(result.max_error.get(info.name, 0.0), err)
        if progress:
            progress(k + 1, n)
    if y is not None:
        result.top1 = correct / n
    result.cosine = {k: v / n for k, v in cos_sum.items()}
    return result
