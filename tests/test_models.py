"""Whole networks built by the tests, exported from PyTorch, compared with onnxruntime."""
import numpy as np
import onnxruntime as ort
import pytest
import torch

import tinyedge
from tinyedge.reference import run as reference_run

from nets import export, mobilenet_v2, randomize_bn, resnet18

# Float32 sums over thousands of products in a different order: 1e-4 of the output's range (the
# issue's bound) leaves room for that and nothing more.
RTOL = 1e-4


def rel_err(got, want):
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-6))


def ort_run(path, x):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


NETS = {
    "mobilenet_v2": (lambda: mobilenet_v2(num_classes=100), (1, 3, 96, 96), 13),
    "mobilenet_v2_opset9": (lambda: mobilenet_v2(num_classes=10, width=0.5), (1, 3, 64, 64), 9),
    "resnet18": (lambda: resnet18(num_classes=100, width=32), (1, 3, 64, 64), 13),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_network_matches_onnxruntime(name, tmp_path):
    make, shape, opset = NETS[name]
    torch.manual_seed(0)
    model = randomize_bn(make())
    onnx_path = export(model, shape, tmp_path / f"{name}.onnx", opset=opset)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want = ort_run(onnx_path, x)

    result = tinyedge.build(onnx_path, tmp_path / f"{name}.tem")
    m = tinyedge.load(result.path)
    assert [i.shape for i in m.inputs] == [shape]
    got = m.run([x])[0]
    assert got.shape == want.shape
    assert rel_err(got, want) <= RTOL, f"C runtime vs onnxruntime: {rel_err(got, want):.2e}"
    ref = reference_run(result.graph, [x])[0]
    assert rel_err(ref, want) <= RTOL, f"numpy reference vs onnxruntime: {rel_err(ref, want):.2e}"


def test_mobilenet_layout_is_nhwc_inside(tmp_path):
    """The NCHW boundary costs at most one transpose in and none out (the pool makes it 1-D)."""
    model = randomize_bn(mobilenet_v2(num_classes=10, width=0.35))
    path = export(model, (1, 3, 32, 32), tmp_path / "m.onnx")
    graph = tinyedge.build(path, tmp_path / "m.tem").graph
    ops = [n.op for n in graph.nodes]
    assert ops.count("transpose") <= 1, ops
    assert "mul" not in ops and "clip" not in ops, "BatchNorm and ReLU6 should be folded into the convs"
