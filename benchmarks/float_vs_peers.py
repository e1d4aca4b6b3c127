"""Float MobileNetV2: tinyedge vs onnxruntime vs LiteRT, single-threaded, interleaved, same weights.

Steps:
1. model.tflite and model.onnx come from one Keras MobileNetV2 (make_mobilenetv2.py), built in a
   child process so that TensorFlow, its thread pools and its own copy of TFLite never live in the
   timed process. Files already in --out-dir from the same seed are reused.
2. model.tem is compiled from model.onnx with tinyedge.build (always, so it reflects today's compiler).
3. All three run once on the same image; outputs are compared with LiteRT's.
4. Timing: every engine is warmed up, then rounds run each engine once, in an order that rotates
   from round to round, so that drift of the machine (other processes, frequency) touches all of
   them alike. tinyedge may take part in fewer rounds (--tinyedge-iters), spread evenly over all.
   Each timed call copies the input in, runs the model and copies the output out.
5. A table: median, p10, p90 latency, ratios of medians (>1 means slower than the peer), file sizes.

Single-threaded means: onnxruntime with intra_op_num_threads=1, inter_op_num_threads=1, sequential
execution; the LiteRT Interpreter with num_threads=1 and its default XNNPACK delegate; tinyedge with
threads=1.

    python benchmarks/float_vs_peers.py --out-dir /tmp/mnv2
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

import make_mobilenetv2 as mnv2
import peers
from peers import Engine

ORT, LITERT, TINYEDGE = "onnxruntime", "LiteRT", "tinyedge"
BASELINES = [ORT, LITERT]
# Largest allowed |output - LiteRT output|, relative to max |LiteRT output|. Float32 kernels that
# add in another order move MobileNetV2's outputs by about 1e-6 relative (onnxruntime vs LiteRT);
# a wrong kernel moves them by far more than 1e-4.
AGREEMENT_RTOL = 1e-4


def make_tinyedge(onnx_path: Path, tem_path: Path, image_nchw: np.ndarray, console) -> Engine:
    """Compile model.onnx to model.tem and load it with the C runtime, one thread."""
    import tinyedge

    t0 = time.perf_counter()
    tinyedge.build(onnx_path, tem_path)
    console.print(f"built {tem_path} in {time.perf_counter() - t0:.1f} s")
    # The .tem keeps the ONNX model's boundary layout, so it takes the same NCHW image as onnxruntime.
    engine, _ = peers.load_tinyedge(TINYEDGE, tem_path, image_nchw, console)
    return engine


def ensure_peer_models(out_dir: Path, seed: int, rebuild: bool, console) -> tuple[Path, Path]:
    """Reuse or build model.tflite / model.onnx in out_dir (building runs in a child process)."""
    paths = out_dir / mnv2.TFLITE_NAME, out_dir / mnv2.ONNX_NAME
    if not rebuild and mnv2.models_are_current(out_dir, seed):
        console.print(f"reusing {paths[0]} and {paths[1]} (seed {seed})")
        return paths
    console.print(f"building MobileNetV2 in Keras (seed {seed}) -> TFLite and ONNX in {out_dir} ...")
    peers.run_child([sys.executable, str(Path(mnv2.__file__)), "--out-dir", str(out_dir),
                     "--seed", str(seed)], "building the peer models")
    return paths


def check_agreement(engines: list[Engine], console) -> bool:
    """Run each engine once and compare its output with LiteRT's; True when all agree."""
    outputs = {e.name: np.asarray(e.run(), dtype=np.float32).reshape(-1) for e in engines}
    ref = outputs[LITERT]
    scale = float(np.abs(ref).max())
    table = Table("engine", "max |diff| vs LiteRT", "relative", "top-1", "agrees",
                  title=f"one input, {ref.size} outputs, max |LiteRT output| = {scale:.4g}")
    ok = True
    for name, out in outputs.items():
        if name == LITERT:
            continue
        diff = float(np.abs(out - ref).max())
        agrees = out.shape == ref.shape and diff <= AGREEMENT_RTOL * scale
        ok &= agrees
        top1 = f"{int(out.argmax())} vs {int(ref.argmax())}"
        table.add_row(name, f"{diff:.3g}", f"{diff / scale:.2g}", top1,
                      "yes" if agrees else f"[red]NO (limit {AGREEMENT_RTOL:g})[/]")
    console.print(table)
    return ok


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", help="folder for model.tflite, model.onnx, model.tem; reused when "
                                     "it already holds peer models of the same seed (default: a "
                                     "temporary folder, removed at the end)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the input (default 0)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the peer models even if present")
    peers.add_timing_args(p, "onnxruntime and LiteRT")
    p.add_argument("--no-tinyedge", action="store_true",
                   help="time only onnxruntime and LiteRT (e.g. while the runtime is not built)")
    p.add_argument("--json", metavar="PATH", help="also write the results here as JSON")
    args = p.parse_args(argv)
    peers.check_timing_args(p, args)
    return args


def run_benchmark(args, out_dir: Path, console) -> int:
    """Prepare the three models in out_dir, check them, time them, print; the exit status."""
    tflite_path, onnx_path = ensure_peer_models(out_dir, args.seed, args.rebuild, console)
    image_nhwc = np.random.default_rng(args.seed).uniform(
        -1.0, 1.0, (1, mnv2.INPUT_HW, mnv2.INPUT_HW, 3)).astype(np.float32)
    image_nchw = np.ascontiguousarray(image_nhwc.transpose(0, 3, 1, 2))
    engines = [peers.make_ort(ORT, onnx_path, image_nchw),
               peers.make_litert(LITERT, tflite_path, image_nhwc)]
    if not args.no_tinyedge:
        from tinyedge.errors import TinyEdgeError

        try:
            engines.append(make_tinyedge(onnx_path, out_dir / "model.tem", image_nchw, console))
        except TinyEdgeError as e:
            raise SystemExit(f"tinyedge could not build or load {onnx_path}: {e}\n"
                             "(--no-tinyedge times only onnxruntime and LiteRT)") from None
    console.print(peers.machine_line())
    agree = check_agreement(engines, console)
    peers.measure(engines, args, console)
    rows = peers.summarize(engines, BASELINES)
    peers.print_table(rows, BASELINES, "MobileNetV2 fp32, 1x224x224x3, single-threaded, interleaved",
                      console)
    if args.json:
        result = {"cpu": peers.cpu_name(), "agree": agree, "results": rows}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {args.json}")
    if not agree:
        console.print("[red]outputs disagree with LiteRT: the latencies above are of a wrong model[/]")
    return 0 if agree else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    console = peers.make_console()
    if args.out_dir:
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return run_benchmark(args, out_dir, console)
    with tempfile.TemporaryDirectory(prefix="tinyedge_bench_") as tmp:
        return run_benchmark(args, Path(tmp), console)


if __name__ == "__main__":
    sys.exit(main())
