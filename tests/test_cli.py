"""The `tinyedge` command line: every command, and one clear line for each kind of bad input."""
import numpy as np
import pytest

from tinyedge import __version__
from tinyedge.cli import COMMANDS, main

from onnx_models import small_model


@pytest.fixture
def tem(tmp_path):
    out = tmp_path / "small.tem"
    assert main(["build", str(small_model(tmp_path / "small.onnx")), "-o", str(out)]) == 0
    return out


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and __version__ in capsys.readouterr().out


@pytest.mark.parametrize("cmd", [c.__name__.rsplit(".", 1)[1] for c in COMMANDS])
def test_help_on_every_command(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0 and "usage: tinyedge " + cmd in capsys.readouterr().out


def test_build_prints_summary(tmp_path, capsys):
    out = tmp_path / "m.tem"
    assert main(["build", str(small_model(tmp_path / "m.onnx")), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("ops", "parameters", "file size", "arena"):
        assert word in text
    assert out.stat().st_size > 0


def test_inspect_lists_everything(tem, capsys):
    assert main(["inspect", str(tem)]) == 0
    text = capsys.readouterr().out
    for word in ("x", "y", "conv2d", "fully_connected", "weight", "arena", "lower bound", "NCHW"):
        assert word in text, word


def test_run_random_and_saved_inputs(tem, tmp_path, capsys):
    assert main(["run", str(tem)]) == 0
    assert "y" in capsys.readouterr().out
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    for spec in (str(tmp_path / "x.npy"), f"x={tmp_path / 'x.npy'}"):
        out = tmp_path / "out.npz"
        assert main(["run", str(tem), "--input", spec, "--output", str(out)]) == 0
        import tinyedge
        np.testing.assert_array_equal(np.load(out)["y"], tinyedge.load(tem).run([x])[0])


def test_bench(tem, capsys):
    assert main(["bench", str(tem), "--iters", "3", "--warmup", "1"]) == 0
    assert "median" in capsys.readouterr().out


def test_ops_lists_the_op_table(capsys):
    assert main(["ops"]) == 0
    assert "conv2d" in capsys.readouterr().out


def test_wrong_input_shape(tem, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 8, 9), np.float32))
    assert main(["run", str(tem), "--input", str(tmp_path / "bad.npy")]) == 1
    line = one_error_line(capsys)
    assert "'x'" in line and "(1, 3, 8, 8)" in line and "(1, 3, 8, 9)" in line


def test_wrong_input_dtype(tem, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 8, 8), np.float64))
    assert main(["run", str(tem), "--input", str(tmp_path / "bad.npy")]) == 1
    line = one_error_line(capsys)
    assert "'x'" in line and "float32" in line and "float64" in line


def test_missing_input_in_python(tem):
    import tinyedge
    from tinyedge.errors import InputError

    with pytest.raises(InputError, match="'x'"):
        tinyedge.load(tem).run({})


def test_unknown_input_name(tem, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 8, 8), np.float32))
    assert main(["run", str(tem), "--input", f"nope={tmp_path / 'x.npy'}"]) == 1
    assert "nope" in one_error_line(capsys)


def test_missing_model_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.tem")]) == 1
    assert "missing.tem" in one_error_line(capsys)


def test_not_a_tem_file(tmp_path, capsys):
    p = tmp_path / "notes.tem"
    p.write_text("hello, this is not a model\n" * 10)
    assert main(["run", str(p)]) == 1
    line = one_error_line(capsys)
    assert "notes.tem" in line and "magic" in line.lower()


def test_unsupported_onnx_op(tmp_path, capsys):
    src = small_model(tmp_path / "erf.onnx", op="Erf")
    assert main(["build", str(src), "-o", str(tmp_path / "erf.tem")]) == 1
    line = one_error_line(capsys)
    assert "Erf" in line and "'act'" in line and "erf.onnx" in line
    assert not (tmp_path / "erf.tem").exists()


def test_bad_input_shape_flag(tmp_path, capsys):
    src = small_model(tmp_path / "m.onnx")
    assert main(["build", str(src), "--input-shape", "x=1,3,a"]) == 1
    assert "--input-shape" in one_error_line(capsys)
