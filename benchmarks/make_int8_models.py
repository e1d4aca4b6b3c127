"""Build the models of the INT8 benchmark from one Keras MobileNetV2 and one calibration set.

The network is make_mobilenetv2.py's MobileNetV2 (same seed, same weights, same BatchNorm
statistics) ending at its 1000 logits instead of the softmax. Why: with random weights the
softmax is almost flat (every probability below 1%), and an INT8 softmax outputs multiples of
1/256, so INT8 probabilities would be 0, 1/256 or 2/256 whatever the engine computed before them,
and comparing them with the float model would measure nothing. The softmax is 1000 exponentials,
nothing next to the 300 M multiply-accumulates of the convolutions, so the timing is unaffected.

One in-memory Keras model is written three times, so that every engine runs the very same network:
- mnv2.onnx: float, by tf2onnx with an NCHW input (make_mobilenetv2.write_onnx). tinyedge
  compiles it (float and INT8) and onnxruntime runs it as the float reference.
- mnv2_int8.tflite: TensorFlow's TFLite converter, full-integer post-training quantization
  with the calibration images as representative data set and TFLITE_BUILTINS_INT8 as the only op
  set (conversion fails rather than leave an op in float). Input and output stay float32: the model
  starts with QUANTIZE and ends with DEQUANTIZE, as a tinyedge INT8 model does by default, so all
  engines are fed and read alike.
- mnv2_int8_qdq.onnx: onnxruntime's quant_pre_process and quantize_static on the float ONNX
  model: QDQ format, weights QInt8 per channel, activations QUInt8 (or QInt8: --ort-activation),
  MinMax calibration (TFLite's and tinyedge's default too) on the same images.

The calibration images come from the benchmark as an .npz file holding one float32 array
(N, 224, 224, 3), NHWC; onnxruntime gets the same pixels as NCHW. A stamp (int8_models.json)
records the seed, a digest of the images and the activation type: the benchmark reuses the files
only when all three match.

This module needs TensorFlow, tf2onnx and onnxruntime (benchmarks/requirements.txt); like
make_mobilenetv2.py it imports them only inside the functions that use them.

    python benchmarks/make_int8_models.py --out-dir /tmp/mnv2 --calib /tmp/mnv2/calib.npz
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import make_mobilenetv2 as mnv2

FLOAT_ONNX_NAME = "mnv2.onnx"
TFLITE_INT8_NAME = "mnv2_int8.tflite"
ORT_INT8_NAME = "mnv2_int8_qdq.onnx"
STAMP_NAME = "int8_models.json"
# onnxruntime's activation type. Both are the same asymmetric 8-bit grid (a uint8 zero point is the
# int8 one plus 128), so the accuracy is the same; on x86-64 onnxruntime's U8S8 kernels (uint8
# activations, int8 weights) are its fast path: 3.2 ms against 5.2 ms for S8S8 on this network,
# single-threaded on an AVX512-VNNI Xeon.
ORT_ACTIVATIONS = ("uint8", "int8")


def model_paths(out_dir: str | os.PathLike) -> tuple[Path, Path, Path]:
    """(float ONNX, INT8 TFLite, INT8 QDQ ONNX) paths in out_dir."""
    out = Path(out_dir)
    return out / FLOAT_ONNX_NAME, out / TFLITE_INT8_NAME, out / ORT_INT8_NAME


def images_digest(images: np.ndarray) -> str:
    """A digest of the calibration images (shape, dtype and bytes)."""
    h = hashlib.sha256(f"{images.shape} {images.dtype}".encode())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()


def read_images(path: str | os.PathLike) -> np.ndarray:
    """The calibration images of an .npz file written by the benchmark: float32 (N, H, W, 3)."""
    with np.load(path, allow_pickle=False) as data:
        if len(data.files) != 1:
            raise SystemExit(f"{path}: expected one array of images, found {data.files}")
        images = data[data.files[0]]
    expected = (mnv2.INPUT_HW, mnv2.INPUT_HW, 3)
    if images.dtype != np.float32 or images.ndim != 4 or images.shape[1:] != expected:
        raise SystemExit(f"{path}: expected float32 (N, {', '.join(map(str, expected))}) images, "
                         f"found {images.dtype} {images.shape}")
    return images


def models_are_current(out_dir: str | os.PathLike, seed: int, digest: str,
                       ort_activation: str) -> bool:
    """Whether out_dir holds the three models, built by this module from this seed and images."""
    stamp = Path(out_dir) / STAMP_NAME
    if not (stamp.is_file() and all(p.is_file() for p in model_paths(out_dir))):
        return False
    try:
        meta = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    wanted = {"seed": seed, "calib_sha256": digest, "ort_activation": ort_activation,
              "onnx_opset": mnv2.ONNX_OPSET}
    return all(meta.get(k) == v for k, v in wanted.items())


def write_tflite_int8(model, path: Path, images_nhwc: np.ndarray) -> None:
    """Full-integer TFLite model (int8 ops only, float32 input and output) calibrated on images."""
    import tensorflow as tf

    def representative_data():
        for image in images_nhwc:
            yield [image[None]]

    def configure(converter) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_data
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32

    mnv2.write_tflite(model, path, configure)


class _ImagesReader:
    """onnxruntime's CalibrationDataReader protocol over an array of NCHW images."""

    def __init__(self, input_name: str, images_nchw: np.ndarray):
        self.input_name = input_name
        self.images = images_nchw
        self.next_index = 0

    def get_next(self):
        if self.next_index == len(self.images):
            return None
        image = self.images[self.next_index][None]
        self.next_index += 1
        return {self.input_name: image}

    def rewind(self) -> None:
        self.next_index = 0


def write_ort_qdq(onnx_path: Path, path: Path, images_nhwc: np.ndarray, activation: str) -> None:
    """QDQ model from onnxruntime's quantize_static: per-channel QInt8 weights, MinMax ranges."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = onnx.load(str(onnx_path), load_external_data=False).graph.input[0].name
    images_nchw = np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2))
    with tempfile.TemporaryDirectory(prefix="mnv2_ort_quant_") as tmp:
        # The preprocessing onnxruntime recommends before quantize_static (shape inference and
        # its basic graph optimizations), so that quantization sees the graph the session runs.
        # All shapes are static, so ONNX's own shape inference suffices (the symbolic one would
        # need sympy).
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(path), _ImagesReader(input_name, images_nchw),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8,
                        activation_type=QuantType.QUInt8 if activation == "uint8" else QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)


def build_int8_models(out_dir: str | os.PathLike, seed: int, calib_path: str | os.PathLike,
                      ort_activation: str) -> tuple[Path, Path, Path]:
    """Write the three models and the stamp into out_dir; return the model paths."""
    import onnxruntime
    import tensorflow as tf

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    onnx_path, tflite_int8, ort_int8 = model_paths(out_dir)
    images = read_images(calib_path)
    model = mnv2.make_keras_model(seed, classifier_activation=None)
    mnv2.write_onnx(model, onnx_path)
    write_tflite_int8(model, tflite_int8, images)
    write_ort_qdq(onnx_path, ort_int8, images, ort_activation)
    meta = {"network": "keras.applications.MobileNetV2 without the final softmax (logits out)",
            "seed": seed, "onnx_opset": mnv2.ONNX_OPSET, "calib_samples": int(images.shape[0]),
            "calib_sha256": images_digest(images), "ort_activation": ort_activation,
            "ort_weights": "int8 per channel", "tflite_io": "float32",
            "tensorflow": tf.__version__, "onnxruntime": onnxruntime.__version__}
    (Path(out_dir) / STAMP_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    return onnx_path, tflite_int8, ort_int8


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", required=True, help="folder for the three models and the stamp")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and statistics (default 0)")
    p.add_argument("--calib", required=True,
                   help=".npz file with one float32 (N, 224, 224, 3) array of calibration images")
    p.add_argument("--ort-activation", choices=ORT_ACTIVATIONS, default="uint8",
                   help="onnxruntime's activation type (default uint8: its fast path on x86-64)")
    args = p.parse_args(argv)
    for path in build_int8_models(args.out_dir, args.seed, args.calib, args.ort_activation):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
