"""The `make demo` model in float32 and INT8 (issue 3, point 3): INT8 top-1 within one percentage
point of float on the held-out digits, and the INT8 file at most 30% of the float file."""
import sys
from pathlib import Path

import numpy as np

import tinyedge
from tinyedge.evaluate import as_float, to_input

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "digits"))
import demo  # noqa: E402
import train as digits  # noqa: E402


def accuracy(path, x, y) -> float:
    m = tinyedge.load(path)
    got = [as_float(m.run([to_input(x[i:i + 1], m.inputs[0])])[0], m.outputs[0]) for i in range(len(x))]
    return float((np.concatenate(got).argmax(1) == y).mean())


def test_int8_demo_model_keeps_accuracy_in_a_third_of_the_file(tmp_path):
    model, (x_tr, _, x_te, y_te) = digits.train()
    digits.export_onnx(model, tmp_path / "model.onnx")
    f32 = tinyedge.build(tmp_path / "model.onnx", tmp_path / "model.tem")
    i8 = tinyedge.build(tmp_path / "model.onnx", tmp_path / "int8.tem", quantize="int8",
                        calib={"image": x_tr[:demo.CALIBRATION_SAMPLES]})
    acc_f32, acc_i8 = accuracy(f32.path, x_te, y_te), accuracy(i8.path, x_te, y_te)
    assert acc_f32 > 0.95
    assert acc_i8 >= acc_f32 - 0.01, (acc_f32, acc_i8)
    assert i8.file_size <= 0.30 * f32.file_size, (i8.file_size, f32.file_size)


def test_demo_ends_with_an_emulated_deploy_and_its_per_op_table(tmp_path, capsys):
    """Issue 5, point 6: the demo's last step deploys the INT8 model to emulated-pi4 (the Pi 4
    runner under qemu-user, no SSH) and prints the on-device benchmark's per-op table."""
    import shutil

    import pytest
    from rich.console import Console

    if shutil.which("qemu-aarch64") is None:
        pytest.skip("qemu-aarch64 is not installed (apt-get install qemu-user; make test installs it)")
    model, (x_tr, _, _, _) = digits.train()
    digits.export_onnx(model, tmp_path / "model.onnx")
    i8 = tinyedge.build(tmp_path / "model.onnx", tmp_path / "int8.tem", quantize="int8",
                        calib={"image": x_tr[:demo.CALIBRATION_SAMPLES]})
    demo.emulated_deploy(i8.path, tmp_path, Console(width=160))
    out = capsys.readouterr().out
    assert "emulated-pi4 on local: 50 timed runs after 5 warm-up" in out
    assert "top 10 ops by median time" in out and "GMAC/s" in out
    for op in sorted(tinyedge.load(i8.path).ops, key=lambda o: -o.macs)[:3]:  # the costliest ops
        assert op.name in out
    assert "te_conv2d_s8_kxk_4x4c16__neon" in out  # the board's kernels, not the host's
    assert (tmp_path / "trace.json").is_file() and (tmp_path / "summary.json").is_file()
