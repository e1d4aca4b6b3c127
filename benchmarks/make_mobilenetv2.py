"""Build one MobileNetV2 in Keras and write it as model.tflite and model.onnx with identical weights.

The network is keras.applications.MobileNetV2 (224x224x3, alpha 1.0, 1000-class top with softmax)
with random weights: nothing is downloaded. Random BatchNorm statistics alone would leave every
activation near zero and the softmax flat, which hides errors; so the statistics are first measured on
a batch of random images (one training-mode pass with momentum 0) and then perturbed per channel, and
gamma / beta are random. Every layer then sees activations of order one, some ReLU6s clip at 6, and
the BatchNorms fold into non-trivial scales and shifts.

The same in-memory Keras model feeds both converters:
- TFLite: exported as a SavedModel (batch fixed at 1) and converted by TensorFlow's TFLite converter
  (float32, no optimizations).
- ONNX: traced by tf.function and converted by tf2onnx, with the input turned to NCHW
  (`inputs_as_nchw`) so that the ONNX model is fed like any other ONNX vision model.

This module needs TensorFlow and tf2onnx (benchmarks/requirements.txt). It imports them only inside
the functions that use them, so `models_are_current` is cheap to call from the benchmark process.

    python benchmarks/make_mobilenetv2.py --out-dir /tmp/mnv2
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

INPUT_NAME = "input"
INPUT_HW = 224
NUM_CLASSES = 1000
ONNX_OPSET = 17
TFLITE_NAME = "model.tflite"
ONNX_NAME = "model.onnx"
STAMP_NAME = "models.json"

# Batch of random images whose statistics become the BatchNorm moving statistics.
CALIBRATION_BATCH = 8
# Per-channel perturbation of the measured statistics: mean += N(0, MEAN_JITTER) * std, and
# variance *= U(VAR_SCALE): enough that no folded scale is exactly gamma and no shift exactly beta.
MEAN_JITTER = 0.1
VAR_SCALE = (0.7, 1.4)
GAMMA_RANGE = (0.5, 2.0)
BETA_STD = 0.5


def models_are_current(out_dir: str | os.PathLike, seed: int) -> bool:
    """Whether out_dir holds both model files, written by this builder with this seed."""
    out = Path(out_dir)
    stamp = out / STAMP_NAME
    if not (stamp.is_file() and (out / TFLITE_NAME).is_file() and (out / ONNX_NAME).is_file()):
        return False
    try:
        meta = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("seed") == seed and meta.get("onnx_opset") == ONNX_OPSET


def make_keras_model(seed: int, classifier_activation: str | None = "softmax"):
    """MobileNetV2 with random weights (from seed) and calibrated, perturbed BatchNorm statistics.

    classifier_activation=None ends the network at the logits (the weights are the same: the
    final activation has none)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNetV2(input_shape=(INPUT_HW, INPUT_HW, 3), alpha=1.0,
                                           include_top=True, weights=None, classes=NUM_CLASSES,
                                           classifier_activation=classifier_activation)
    _set_batchnorm_statistics(model, np.random.default_rng(seed))
    return model


def _set_batchnorm_statistics(model, rng) -> None:
    import keras
    import numpy as np

    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for bn in bns:
        c = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(*GAMMA_RANGE, c).astype(np.float32))
        bn.beta.assign(rng.normal(0.0, BETA_STD, c).astype(np.float32))
        # With momentum 0 one training-mode pass replaces the moving statistics by the batch's,
        # layer after layer, each measured on the already-normalized output of the layers before.
        bn.momentum = 0.0
    images = rng.uniform(-1.0, 1.0, (CALIBRATION_BATCH, INPUT_HW, INPUT_HW, 3)).astype(np.float32)
    model(images, training=True)
    for bn in bns:
        c = bn.gamma.shape[0]
        mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
        bn.moving_mean.assign(mean + rng.normal(0.0, MEAN_JITTER, c).astype(np.float32) * np.sqrt(var))
        bn.moving_variance.assign(var * rng.uniform(*VAR_SCALE, c).astype(np.float32))
        bn.momentum = 0.99  # Keras' default, so the saved model looks like any other


def _input_spec():
    import tensorflow as tf

    return tf.TensorSpec((1, INPUT_HW, INPUT_HW, 3), tf.float32, name=INPUT_NAME)


def write_tflite(model, path: Path, configure=None) -> None:
    """Convert the Keras model to a .tflite file (batch 1) at path: float32, no optimizations,
    unless configure(converter) sets options first (make_int8_models.py: full-integer INT8)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="mnv2_savedmodel_") as saved:
        model.export(saved, format="tf_saved_model", input_signature=[_input_spec()], verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if configure is not None:
            configure(converter)
        path.write_bytes(converter.convert())


def write_onnx(model, path: Path) -> None:
    """Convert the Keras model to an ONNX file (NCHW input, batch 1) at path with tf2onnx."""
    import tensorflow as tf
    import tf2onnx

    spec = _input_spec()
    forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    tf2onnx.convert.from_function(forward, input_signature=[spec], opset=ONNX_OPSET,
                                  inputs_as_nchw=[INPUT_NAME], output_path=str(path))


def build_models(out_dir: str | os.PathLike, seed: int) -> tuple[Path, Path]:
    """Write model.tflite, model.onnx and models.json into out_dir; return the two model paths."""
    import tensorflow as tf
    import tf2onnx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = make_keras_model(seed)
    tflite_path, onnx_path = out / TFLITE_NAME, out / ONNX_NAME
    write_tflite(model, tflite_path)
    write_onnx(model, onnx_path)
    meta = {"network": "keras.applications.MobileNetV2", "input": [1, INPUT_HW, INPUT_HW, 3],
            "seed": seed, "onnx_opset": ONNX_OPSET, "onnx_input_layout": "NCHW",
            "tflite_input_layout": "NHWC", "tensorflow": tf.__version__,
            "tf2onnx": tf2onnx.__version__}
    (out / STAMP_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    return tflite_path, onnx_path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", required=True, help="folder for model.tflite, model.onnx, models.json")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and statistics (default 0)")
    args = p.parse_args(argv)
    tflite_path, onnx_path = build_models(args.out_dir, args.seed)
    for path in (tflite_path, onnx_path):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
