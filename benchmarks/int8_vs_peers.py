"""INT8 MobileNetV2: tinyedge INT8 vs onnxruntime INT8 vs LiteRT INT8, single-threaded, interleaved.

Steps:
1. Images (synthetic_images.py): --calib-samples calibration images, the same for every INT8
   converter, and --eval-samples other images for the agreement check.
2. The peer models come from one Keras MobileNetV2 ending at its logits (make_int8_models.py, in a
   child process so that TensorFlow never lives in the timed process): the float ONNX model, a
   full-integer TFLite model with float input and output, and an onnxruntime QDQ model (weights
   int8 per channel, activations uint8 by default). Reused when seed, images and activation type
   match.
3. tinyedge compiles the float ONNX model twice (always, so the files reflect today's compiler):
   float, and INT8 with quantize="int8" and the same calibration images.
4. Agreement: onnxruntime runs the float ONNX model on the evaluation images as the reference
   (not timed); for every engine the cosine similarity of its logits with the reference's, their
   SQNR and the top-1 agreement.
5. Timing as in float_vs_peers.py (peers.py): rounds run every engine once, in an order that
   rotates from round to round; tinyedge's slow reference kernels run in fewer rounds, spread
   evenly, as many as fit into --time-budget each. Each timed call copies the input in, runs and
   copies the output out.
6. A table: median, p10, p90 latency, achieved GMAC/s, ratios of medians to onnxruntime INT8 and
   LiteRT INT8 (>1 means slower), file sizes.

    python benchmarks/int8_vs_peers.py --out-dir /tmp/mnv2_int8
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

import make_int8_models as int8_models
import peers
from peers import Engine
from synthetic_images import natural_images

TE_FP32, TE_INT8 = "tinyedge fp32", "tinyedge INT8"
ORT_INT8, LITERT_INT8 = "onnxruntime INT8", "LiteRT INT8"
BASELINES = [ORT_INT8, LITERT_INT8]
NHWC_ENGINES = {LITERT_INT8}  # the others take the ONNX model's NCHW input
CALIB_NAME = "calib.npz"
# tinyedge fp32 against the float reference: the limit of float_vs_peers.py (kernels that only add
# in another order land near 1e-6 of the largest logit).
FLOAT_RTOL = 1e-4
# Worst cosine similarity an INT8 engine may have with the float logits. onnxruntime and LiteRT
# reach 0.99 on this network (SQNR about 18 dB); a wrong scale, zero point or kernel anywhere
# falls far below.
INT8_MIN_COSINE = 0.97


def ensure_peer_models(out_dir: Path, calib_nhwc: np.ndarray, args, console) -> tuple[Path, ...]:
    """Reuse or build the float ONNX, INT8 TFLite and QDQ ONNX models (in a child process)."""
    paths = int8_models.model_paths(out_dir)
    digest = int8_models.images_digest(calib_nhwc)
    if not args.rebuild and int8_models.models_are_current(out_dir, args.seed, digest,
                                                           args.ort_activation):
        console.print(f"reusing {', '.join(p.name for p in paths)} in {out_dir} (seed {args.seed})")
        return paths
    calib_path = out_dir / CALIB_NAME
    np.savez(calib_path, images=calib_nhwc)
    console.print(f"building MobileNetV2 in Keras (seed {args.seed}) -> float ONNX, INT8 TFLite and "
                  f"INT8 QDQ ONNX in {out_dir}, calibrated on {len(calib_nhwc)} images ...")
    peers.run_child([sys.executable, str(Path(int8_models.__file__)), "--out-dir", str(out_dir),
                     "--seed", str(args.seed), "--calib", str(calib_path),
                     "--ort-activation", args.ort_activation], "building the INT8 peer models")
    return paths


def accepts_keyword(fn, name: str) -> bool:
    """Whether fn can be called with the keyword argument name."""
    params = inspect.signature(fn).parameters.values()
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def build_tinyedge(onnx_path: Path, tem_path: Path, console, **quantization) -> None:
    """tinyedge.build, timed; quantization holds the INT8 keywords (quantize=, calib=)."""
    import tinyedge

    if quantization and not accepts_keyword(tinyedge.build, "quantize"):
        raise SystemExit("this tinyedge's build() has no quantize keyword: it cannot make INT8 "
                         "models yet (--no-tinyedge-int8 times the others)")
    t0 = time.perf_counter()
    tinyedge.build(onnx_path, tem_path, **quantization)
    console.print(f"built {tem_path} in {time.perf_counter() - t0:.1f} s")


def make_tinyedge_engines(onnx_path: Path, out_dir: Path, calib_nchw: np.ndarray, x_nchw,
                          args, console) -> tuple[list[Engine], int]:
    """Build and load tinyedge fp32 and INT8 (unless turned off); the engines and the model's MACs."""
    from tinyedge.errors import TinyEdgeError

    engines, macs = [], 0
    try:
        fp32_path = out_dir / onnx_path.with_suffix(".tem").name
        build_tinyedge(onnx_path, fp32_path, console)
        engine, model = peers.load_tinyedge(TE_FP32, fp32_path, x_nchw, console)
        engines.append(engine)
        macs = sum(op.macs for op in model.ops)
        if not args.no_tinyedge_int8:
            int8_path = out_dir / (onnx_path.stem + "_int8.tem")
            # One calibration sample has the model input's shape, batch 1 included.
            calib = {model.inputs[0].name: calib_nchw[:, None]}
            build_tinyedge(onnx_path, int8_path, console, quantize="int8", calib=calib)
            engine, _ = peers.load_tinyedge(TE_INT8, int8_path, x_nchw, console)
            engines.append(engine)
    except TinyEdgeError as e:
        raise SystemExit(f"tinyedge could not build or load {onnx_path}: {e}\n"
                         "(--no-tinyedge-int8 or --no-tinyedge time the others)") from None
    return engines, macs


def in_layout(engine: Engine, images_nhwc: np.ndarray) -> np.ndarray:
    """The images laid out as the engine's model takes them."""
    if engine.name in NHWC_ENGINES:
        return images_nhwc
    return np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2))


def logits_of(engine: Engine, images_nhwc: np.ndarray) -> np.ndarray:
    """(N, classes) float32 outputs of the engine, one image at a time."""
    images = in_layout(engine, images_nhwc)
    return np.stack([np.asarray(engine.infer(images[i:i + 1]), np.float32).reshape(-1)
                     for i in range(len(images))])


def agreement_row(name: str, out: np.ndarray, ref: np.ndarray) -> dict:
    """Cosine similarities per image, SQNR over all, top-1 agreement and the verdict."""
    cos = (out * ref).sum(axis=1) / (np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1))
    noise = float(((out - ref) ** 2).sum())
    sqnr = 10.0 * np.log10(float((ref ** 2).sum()) / noise) if noise > 0 else None  # None: exact
    rel_diff = float(np.abs(out - ref).max() / np.abs(ref).max())
    if name == TE_FP32:
        ok, rule = rel_diff <= FLOAT_RTOL, f"max |diff| <= {FLOAT_RTOL:g} of max |logit|"
    else:
        ok, rule = float(cos.min()) >= INT8_MIN_COSINE, f"worst cosine >= {INT8_MIN_COSINE}"
    return {"engine": name, "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
            "sqnr_db": sqnr, "max_rel_diff": rel_diff,
            "top1_same": int((out.argmax(axis=1) == ref.argmax(axis=1)).sum()),
            "images": int(len(ref)), "ok": bool(ok), "rule": rule}


def check_agreement(engines: list[Engine], onnx_path: Path, images_nhwc: np.ndarray,
                    console) -> list[dict]:
    """Every engine's logits against the float model's (onnxruntime, not timed) on the images."""
    reference = peers.make_ort("onnxruntime fp32", onnx_path, None)
    ref = logits_of(reference, images_nhwc)
    rows = [agreement_row(e.name, logits_of(e, images_nhwc), ref) for e in engines]
    table = Table("engine", "cosine mean", "cosine worst", "SQNR dB", "max |diff| rel.", "top-1 same",
                  "agrees", title=f"logits vs the float model (onnxruntime fp32) on {len(ref)} "
                                  f"evaluation images")
    for r in rows:
        table.add_row(r["engine"], f"{r['cosine_mean']:.4f}", f"{r['cosine_min']:.4f}",
                      "exact" if r["sqnr_db"] is None else f"{r['sqnr_db']:.1f}",
                      f"{r['max_rel_diff']:.2g}",
                      f"{r['top1_same']}/{r['images']}",
                      "yes" if r["ok"] else f"[red]NO ({r['rule']})[/]")
    console.print(table)
    return rows


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", help="folder for the models and calib.npz; peer models are reused "
                                     "when they were built from the same seed and images "
                                     "(default: a temporary folder, removed at the end)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights and of the images (default 0)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the peer models even if current")
    p.add_argument("--calib-samples", type=int, default=32,
                   help="calibration images, the same for every INT8 converter (default 32)")
    p.add_argument("--eval-samples", type=int, default=8,
                   help="images of the agreement check, none of them a calibration image (default 8)")
    p.add_argument("--ort-activation", choices=int8_models.ORT_ACTIVATIONS, default="uint8",
                   help="onnxruntime's activation type (default uint8, its fast path on x86-64; "
                        "int8 is the same grid shifted by 128)")
    peers.add_timing_args(p, "onnxruntime and LiteRT")
    p.add_argument("--no-tinyedge", action="store_true",
                   help="time only onnxruntime and LiteRT (e.g. while the runtime is not built)")
    p.add_argument("--no-tinyedge-int8", action="store_true",
                   help="leave out tinyedge INT8 (e.g. while its quantizer or kernels are missing)")
    p.add_argument("--json", metavar="PATH", help="also write the results here as JSON")
    args = p.parse_args(argv)
    peers.check_timing_args(p, args)
    if args.calib_samples < 1 or args.eval_samples < 1:
        p.error("--calib-samples and --eval-samples must be at least 1")
    return args


def describe_setup(args, console) -> dict:
    """Print and return how each INT8 engine was made (for the table's readers and the JSON)."""
    setup = {
        "network": "Keras MobileNetV2 1.0, 224x224x3, random weights (seed "
                   f"{args.seed}), ending at the 1000 logits",
        "calibration": f"{args.calib_samples} synthetic photographs, MinMax ranges, the same for all",
        ORT_INT8: f"quantize_static QDQ, weights int8 per channel, activations {args.ort_activation} "
                  "(asymmetric, per tensor), float32 input and output",
        LITERT_INT8: "TFLite converter full-integer (TFLITE_BUILTINS_INT8), weights int8 per "
                     "channel, activations int8, float32 input and output",
        TE_INT8: "tinyedge.build(quantize='int8'), weights int8 per channel, activations int8, "
                 "float32 input and output",
    }
    for key, text in setup.items():
        console.print(f"[bold]{key}[/]: {text}")
    return setup


def run_benchmark(args, out_dir: Path, console) -> int:
    """Prepare the models in out_dir, check them, time them, print; the exit status."""
    calib = natural_images(args.calib_samples, args.seed, "calibration")
    evaluation = natural_images(args.eval_samples, args.seed, "evaluation")
    onnx_path, tflite_int8, ort_int8 = ensure_peer_models(out_dir, calib, args, console)
    x_nhwc = evaluation[:1]
    x_nchw = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))
    engines, macs = [], 0
    if not args.no_tinyedge:
        calib_nchw = np.ascontiguousarray(calib.transpose(0, 3, 1, 2))
        engines, macs = make_tinyedge_engines(onnx_path, out_dir, calib_nchw, x_nchw, args, console)
    engines += [peers.make_ort(ORT_INT8, ort_int8, x_nchw),
                peers.make_litert(LITERT_INT8, tflite_int8, x_nhwc)]
    setup = describe_setup(args, console)
    console.print(peers.machine_line())
    agreement = check_agreement(engines, onnx_path, evaluation, console)
    peers.measure(engines, args, console)
    rows = peers.summarize(engines, BASELINES, macs)
    peers.print_table(rows, BASELINES, "MobileNetV2 INT8 (logits), 1x224x224x3, single-threaded, "
                                       "interleaved", console, with_files=False)
    console.print("files: " + ", ".join(f"{e.name} {e.model_path.name}" for e in engines))
    if macs:
        console.print(f"{macs / 1e6:.0f} M multiply-accumulates per run (tinyedge's count)")
    agree = all(r["ok"] for r in agreement)
    if args.json:
        result = {"cpu": peers.cpu_name(), "setup": setup, "agree": agree, "agreement": agreement,
                  "macs": macs or None, "results": rows}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {args.json}")
    if not agree:
        console.print("[red]an engine disagrees with the float model: its latency above is of a "
                      "wrong model[/]")
    return 0 if agree else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    console = peers.make_console()
    if args.out_dir:
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return run_benchmark(args, out_dir, console)
    with tempfile.TemporaryDirectory(prefix="tinyedge_bench_int8_") as tmp:
        return run_benchmark(args, Path(tmp), console)


if __name__ == "__main__":
    sys.exit(main())
