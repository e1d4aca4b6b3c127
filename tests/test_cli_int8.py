"""`tinyedge build --quantize int8`, `eval` and `inspect` of INT8 files, and bad calibration data."""
import json

import numpy as np
import pytest

import tinyedge
from tinyedge.cli import main

from onnx_models import small_model


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture
def model(tmp_path):
    return small_model(tmp_path / "m.onnx")


def calib_file(path, x=None, **arrays):
    if x is not None:
        arrays["x"] = x
    np.savez(path, **arrays)
    return str(path)


def samples(n=16, shape=(1, 3, 8, 8), seed=0):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def build(model, out, *flags):
    return main(["build", str(model), "-o", str(out), *flags])


def test_quantize_without_calibration_is_refused(model, tmp_path, capsys):
    assert build(model, tmp_path / "q.tem", "--quantize", "int8") == 1
    line = one_error_line(capsys)
    assert "calibration data" in line and "--calib" in line
    assert not (tmp_path / "q.tem").exists()


def test_quantization_flags_need_quantize(model, tmp_path, capsys):
    assert build(model, tmp_path / "q.tem", "--float-layers", "conv") == 1
    assert "--quantize int8" in one_error_line(capsys)


def test_int8_build_report_inspect_run(model, tmp_path, capsys):
    calib = calib_file(tmp_path / "calib.npz", samples())
    out = tmp_path / "q.tem"
    assert build(model, out, "--quantize", "int8", "--calib", calib) == 0
    text = capsys.readouterr().out
    assert "SQNR" in text and "float" in text and str(out.with_suffix(".quant.json")) in text
    report = json.loads(out.with_suffix(".quant.json").read_text())
    assert {"layers", "model_bytes"} <= set(report)
    assert main(["inspect", str(out)]) == 0
    assert "int8" in capsys.readouterr().out
    x = samples(1, seed=5)[0]
    y = tinyedge.load(out).run([x])[0]
    assert y.dtype == np.float32 and y.shape == (1, 4)  # float edges by default


def test_io_int8_shows_scale_and_zero_point(model, tmp_path, capsys):
    out = tmp_path / "q.tem"
    assert build(model, out, "--quantize", "int8", "--calib",
                 calib_file(tmp_path / "c.npz", samples()), "--io", "int8") == 0
    m = tinyedge.load(out)
    for info in m.inputs + m.outputs:
        assert info.dtype == np.int8 and info.scale > 0 and -128 <= info.zero_point <= 127
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    assert "zero point" in capsys.readouterr().out


def test_eval_reports_accuracy_and_agreement(model, tmp_path, capsys):
    out = tmp_path / "q.tem"
    assert build(model, out, "--quantize", "int8", "--calib",
                 calib_file(tmp_path / "c.npz", samples())) == 0
    data = calib_file(tmp_path / "val.npz", samples(24, seed=9))
    labels = tmp_path / "labels.npy"
    np.save(labels, np.arange(24) % 4)
    capsys.readouterr()
    assert main(["eval", str(out), "--data", data, "--labels", str(labels),
                 "--reference", str(model)]) == 0
    text = capsys.readouterr().out
    assert "top-1 accuracy" in text and "cosine" in text and "max error" in text


@pytest.mark.parametrize("arrays, words", [
    (dict(x=samples(), nope=samples()), ["nope"]),
    (dict(x=samples(shape=(1, 3, 9, 9))), ["x", "(N, 1, 3, 8, 8)"]),
    (dict(x=samples(0)), ["empty"]),
    (dict(x=np.where(np.arange(16 * 192).reshape(samples().shape) == 5, np.nan, samples())), ["NaN"]),
])
def test_bad_calibration_data_is_one_clear_line(model, tmp_path, capsys, arrays, words):
    out = tmp_path / "q.tem"
    assert build(model, out, "--quantize", "int8", "--calib",
                 calib_file(tmp_path / "bad.npz", **arrays)) == 1
    line = one_error_line(capsys)
    for w in words:
        assert w in line, line
    assert not out.exists()


def test_unknown_float_layer_is_refused(model, tmp_path, capsys):
    assert build(model, tmp_path / "q.tem", "--quantize", "int8", "--calib",
                 calib_file(tmp_path / "c.npz", samples()), "--float-layers", "convv") == 1
    line = one_error_line(capsys)
    assert "convv" in line and "conv" in line.replace("convv", "")


def test_constant_calibration_input_builds(model, tmp_path):
    """A constant input has a zero-width range: documented fallback, a minimum width (not an error)."""
    out = tmp_path / "q.tem"
    assert build(model, out, "--quantize", "int8", "--calib",
                 calib_file(tmp_path / "c.npz", np.ones((8, 1, 3, 8, 8), np.float32))) == 0
    y = tinyedge.load(out).run([np.ones((1, 3, 8, 8), np.float32)])[0]
    assert np.isfinite(y).all()


def test_float_layers_stay_float(model, tmp_path):
    out = tmp_path / "q.tem"
    assert build(model, out, "--quantize", "int8", "--calib",
                 calib_file(tmp_path / "c.npz", samples()), "--float-layers", "conv") == 0
    ops = {op.name: op.kernel for op in tinyedge.load(out).ops}
    assert ops["conv"].endswith("_f32__ref") and "_s8_" in ops["fc"], ops
