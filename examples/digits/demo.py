"""The tinyedge demo: train a small CNN, build it into float and INT8 .tem files, run both in C.

Prints each build's summary, then top-1 accuracy on the held-out digits, per-image latency and file
size for the float original (PyTorch), tinyedge float32 and tinyedge INT8 side by side, and how
closely the two tinyedge builds follow the original. Ends with `tinyedge deploy` of the INT8 model
to the emulated-pi4 board: the Pi 4 runner (cross-built with zig) run under qemu-user on this
machine, with the on-device benchmark's per-op table, as a deploy to a real board would print it.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as digits  # noqa: E402

import tinyedge  # noqa: E402
from tinyedge.cli import main as tinyedge_cli  # noqa: E402
from tinyedge.cli.fmt import human_bytes, stdout_console  # noqa: E402
from tinyedge.evaluate import as_float, to_input  # noqa: E402

CALIBRATION_SAMPLES = 256  # from the training split: the held-out digits stay unseen


def latency_ms(fn, warmup: int = 20, iters: int = 200) -> float:
    """Median wall time of fn() in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def run_all(model, x: np.ndarray) -> np.ndarray:
    """Float outputs of a loaded .tem model for every image of x (one at a time, as on a device)."""
    info_in, info_out = model.inputs[0], model.outputs[0]
    return np.concatenate([as_float(model.run([to_input(x[i:i + 1], info_in)])[0], info_out)
                           for i in range(len(x))])


def emulated_deploy(model: Path, out: Path, console: Console) -> None:
    """`tinyedge deploy MODEL --board emulated-pi4`: the same flow as to a Pi over SSH, run here."""
    console.rule("tinyedge deploy --board emulated-pi4 (the Pi 4 runner under qemu-user, no board)")
    if shutil.which("qemu-aarch64") is None:
        console.print("skipped: qemu-aarch64 is not installed (as root, `make demo` installs it; "
                      "otherwise: sudo apt-get install qemu-user)")
        return
    argv = ["deploy", str(model), "--board", "emulated-pi4", "--iters", "50", "--warmup", "5",
            "--trace", str(out / "trace.json"), "--summary-json", str(out / "summary.json")]
    console.print("$ tinyedge " + " ".join(argv), markup=False, soft_wrap=True)
    if tinyedge_cli(argv) != 0:
        sys.exit(1)
    console.print("(times are qemu's on this machine, not a Pi 4's; the trace opens in "
                  "https://ui.perfetto.dev)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default="build/demo", help="where the model files are written")
    args = p.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    console = stdout_console()

    with console.status("training the example CNN on scikit-learn's digits"):
        model, (x_tr, _, x_te, y_te) = digits.train()
        digits.export_onnx(model, out / "model.onnx")
    console.print(f"trained; exported [bold]{out / 'model.onnx'}[/]")

    builds = {}
    with console.status("building float32 and INT8 .tem files"):
        builds["float32"] = tinyedge.build(out / "model.onnx", out / "model.tem")
        calib = {"image": x_tr[:CALIBRATION_SAMPLES]}
        builds["int8"] = tinyedge.build(out / "model.onnx", out / "model_int8.tem", quantize="int8",
                                        calib=calib)
    for kind, r in builds.items():
        console.print(f"built [bold]{r.path}[/] ({kind}): {r.num_ops} ops ({r.graph.summary()}), "
                      f"file {human_bytes(r.file_size)}, arena {human_bytes(r.plan.arena_size)}")

    with torch.no_grad():
        torch.set_num_threads(1)
        ref = model(torch.from_numpy(x_te)).numpy()
        torch_ms = latency_ms(lambda: model(torch.from_numpy(x_te[:1])))
    onnx_size = (out / "model.onnx").stat().st_size
    t = Table("", "top-1 accuracy", "agrees with original", "latency / image", "file",
              title=f"{len(x_te)} held-out digits, one image at a time, one thread", title_justify="left")
    t.add_row("float original (PyTorch)", f"{(ref.argmax(1) == y_te).mean():.2%}", "",
              f"{torch_ms:.3f} ms", f"{human_bytes(onnx_size)} (.onnx)")
    for kind, r in builds.items():
        m = tinyedge.load(r.path)
        got = run_all(m, x_te)
        x0 = to_input(x_te[:1], m.inputs[0])
        t.add_row(f"tinyedge C runtime ({kind})", f"{(got.argmax(1) == y_te).mean():.2%}",
                  f"{(got.argmax(1) == ref.argmax(1)).mean():.2%}",
                  f"{latency_ms(lambda: m.run([x0])):.3f} ms", human_bytes(r.file_size))
    console.print(t)
    f32, i8 = builds["float32"], builds["int8"]
    console.print(f"INT8 file: {i8.file_size / f32.file_size:.0%} of the float32 file; "
                  f"per-layer quantization report: {i8.report_path}")
    emulated_deploy(i8.path, out, console)


if __name__ == "__main__":
    main()
