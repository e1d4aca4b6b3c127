"""The tinyedge demo: train a small CNN, build it into a .tem file, run it with the C runtime.

Prints the build summary, then top-1 accuracy of the float original (PyTorch) and of tinyedge on the
held-out digits, how often they agree, the largest logit difference, and per-image latency.
"""
from __future__ import annotations

import argparse
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
from tinyedge.cli.fmt import human_bytes  # noqa: E402


def latency_ms(fn, x, warmup: int = 20, iters: int = 200) -> float:
    """Median wall time of fn(x) in milliseconds."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default="build/demo", help="where the model files are written")
    args = p.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    console = Console(highlight=False)

    with console.status("training the example CNN on scikit-learn's digits"):
        model, (_, _, x_te, y_te) = digits.train()
        digits.export_onnx(model, out / "model.onnx")
    console.print(f"trained; exported [bold]{out / 'model.onnx'}[/]")

    result = tinyedge.build(out / "model.onnx", out / "model.tem")
    console.print(f"built [bold]{result.path}[/]: {result.num_ops} ops ({result.graph.summary()}), "
                  f"{result.num_params:,} parameters, file {human_bytes(result.file_size)}, "
                  f"arena {human_bytes(result.plan.arena_size)}")

    m = tinyedge.load(result.path)
    with torch.no_grad():
        ref = model(torch.from_numpy(x_te)).numpy()
    got = np.concatenate([m.run([x_te[i:i + 1]])[0] for i in range(len(x_te))])

    t = Table("", "top-1 accuracy", "latency / image", title=f"{len(x_te)} held-out digits",
              title_justify="left")
    with torch.no_grad():
        torch.set_num_threads(1)
        torch_ms = latency_ms(lambda x: model(torch.from_numpy(x)), x_te[:1])
    te_ms = latency_ms(lambda x: m.run([x]), x_te[:1])
    t.add_row("float original (PyTorch)", f"{(ref.argmax(1) == y_te).mean():.2%}", f"{torch_ms:.3f} ms")
    t.add_row("tinyedge C runtime (fp32)", f"{(got.argmax(1) == y_te).mean():.2%}", f"{te_ms:.3f} ms")
    console.print(t)
    console.print(f"predictions agree on {(got.argmax(1) == ref.argmax(1)).mean():.2%} of images; "
                  f"largest logit difference {np.abs(got - ref).max():.2e}")


if __name__ == "__main__":
    main()
