"""One model in two forms, for tests/test_int8_vs_onnxruntime.py: an ONNX model in QDQ form
(QuantizeLinear/DequantizeLinear around a float op, int8 weights with per-channel scales, an int32
bias) and the tinyedge INT8 IR graph with the same scales and zero points (quantize -> INT8 op ->
dequantize). onnxruntime fuses the QDQ groups into its integer kernels (QLinearConv, QLinearAdd,
...); `Case.ort_ops` names the kernel each case must be fused into, so a test can check that
onnxruntime really ran integer arithmetic.

Spatial ops are NCHW in ONNX and NHWC in the IR; `Case.nchw` says that inputs and outputs are
transposed at the boundary. Inputs are drawn on the input's quantization grid (s * (q - z)), so
that quantizing them is exact on both sides and the comparison sees only the op's own arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tinyedge.ir import Graph, QuantParams

OPSET = 21


@dataclass
class Case:
    """One op in both forms, with float inputs (IR layout) and the output's quantization scale."""

    name: str
    model: onnx.ModelProto
    graph: Graph
    inputs: list[np.ndarray]
    out_scale: float
    ort_ops: set[str]  # op types that must appear in onnxruntime's optimized graph
    nchw: bool = False


@dataclass
class Builder:
    """Both graphs of a case, built side by side: ONNX nodes and initializers, and the IR graph."""

    rng: np.random.Generator
    nchw: bool = False
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    onnx_inputs: list = field(default_factory=list)
    graph: Graph = field(default_factory=Graph)
    values: list = field(default_factory=list)

    # -- shared helpers ---------------------------------------------------------------------------
    def init(self, name: str, array: np.ndarray) -> str:
        """An ONNX initializer (a shape, pads or scales input)."""
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def qdq(self, src: str, name: str, scale: float, zp: int) -> str:
        """QuantizeLinear then DequantizeLinear of the float tensor src (ONNX side)."""
        s = self.init(f"{name}.s", np.float32(scale))
        z = self.init(f"{name}.z", np.int8(zp))
        self.nodes += [helper.make_node("QuantizeLinear", [src, s, z], [f"{name}.q"]),
                       helper.make_node("DequantizeLinear", [f"{name}.q", s, z], [f"{name}.dq"])]
        return f"{name}.dq"

    def _dequantize(self, name: str, axis=None) -> None:
        """DequantizeLinear of the initializers name.q, name.s, name.z into name.dq."""
        attrs = {} if axis is None else {"axis": axis}
        self.nodes.append(helper.make_node("DequantizeLinear", [f"{name}.{p}" for p in "qsz"],
                                           [f"{name}.dq"], **attrs))

    def _onnx_shape(self, shape):
        return (shape[0], shape[3], shape[1], shape[2]) if self.nchw and len(shape) == 4 else shape

    # -- activations ------------------------------------------------------------------------------
    def input(self, name: str, shape: tuple[int, ...], scale: float, zp: int) -> tuple[str, str]:
        """A float graph input quantized with (scale, zp); returns (onnx name, IR int8 name).
        Its values are random points of the quantization grid."""
        q = self.rng.integers(-128, 128, shape)
        self.values.append((np.float32(scale) * (q - zp).astype(np.float32)).astype(np.float32))
        self.onnx_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                              self._onnx_shape(shape)))
        x = self.graph.add_input(name, shape)
        (xq,) = self.graph.add_node("quantize", [x], name=f"{name}.quantize", dtype="int8")
        self.graph.tensors[xq].quant = qparams(scale, zp)
        return self.qdq(name, name, scale, zp), xq

    def op(self, onnx_op: str, onnx_inputs: list[str], ir_op: str, ir_inputs: list[str],
           ir_attrs: dict, scale: float, zp: int, name: str = "y", **onnx_attrs) -> tuple[str, str]:
        """The op on both sides, its output quantized with (scale, zp)."""
        self.nodes.append(helper.make_node(onnx_op, onnx_inputs, [f"{name}.f"], **onnx_attrs))
        (y,) = self.graph.add_node(ir_op, ir_inputs, ir_attrs, name=name)
        self.graph.tensors[y].quant = qparams(scale, zp)
        return self.qdq(f"{name}.f", name, scale, zp), y

    # -- constants --------------------------------------------------------------------------------
    def weight(self, name: str, q: np.ndarray, scales: np.ndarray,
               onnx_q: np.ndarray) -> tuple[str, str]:
        """An int8 weight (IR layout q, ONNX layout onnx_q), zero points 0: per channel (axis 0 on
        both sides: IR OHWI or [N, K], ONNX OIHW or [N, K]) or, with one scale, per tensor."""
        n = len(scales)
        per_channel = n > 1
        self.init(f"{name}.q", onnx_q.astype(np.int8))
        if per_channel:
            self.init(f"{name}.s", scales.astype(np.float32))
            self.init(f"{name}.z", np.zeros(n, np.int8))
        else:
            self.init(f"{name}.s", np.float32(scales[0]))
            self.init(f"{name}.z", np.int8(0))
        self._dequantize(name, axis=0 if per_channel else None)
        w = self.graph.add_const(name, q.astype(np.int8))
        self.graph.tensors[w].quant = QuantParams(scales.astype(np.float32), np.zeros(n, np.int32),
                                                  axis=0 if per_channel else None)
        return f"{name}.dq", w

    def bias(self, name: str, q: np.ndarray, scales: np.ndarray) -> tuple[str, str]:
        """An int32 bias with scales s_x * s_w[c] (ONNX's DequantizeLinear; no record in the IR)."""
        self.init(f"{name}.q", q.astype(np.int32))
        self.init(f"{name}.s", scales.astype(np.float32))
        self.init(f"{name}.z", np.zeros(len(q), np.int32))
        self._dequantize(name, axis=0)
        return f"{name}.dq", self.graph.add_const(name, q.astype(np.int32))

    def qconst(self, name: str, q: np.ndarray, scale: float, zp: int) -> tuple[str, str]:
        """An int8 constant with per-tensor parameters (a matmul operand, an add operand...)."""
        self.init(f"{name}.q", q.astype(np.int8))
        self.init(f"{name}.s", np.float32(scale))
        self.init(f"{name}.z", np.int8(zp))
        self._dequantize(name)
        c = self.graph.add_const(name, q.astype(np.int8))
        self.graph.tensors[c].quant = qparams(scale, zp)
        return f"{name}.dq", c

    # -- the end ----------------------------------------------------------------------------------
    def finish(self, name: str, outputs: tuple[str, str], out_scale: float,
               ort_ops: set[str]) -> Case:
        """Dequantize the output on both sides and return the case."""
        onnx_out, ir_out = outputs
        (y,) = self.graph.add_node("dequantize", [ir_out], name="output", dtype="float32")
        self.graph.outputs = [y]
        self.graph.validate()
        shape = self._onnx_shape(self.graph.tensors[y].shape)
        self.nodes.append(helper.make_node("Identity", [onnx_out], ["output"]))
        g = helper.make_graph(self.nodes, name, self.onnx_inputs,
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
                              self.inits)
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 10
        onnx.checker.check_model(model)
        return Case(name, model, self.graph, self.values, out_scale, ort_ops, self.nchw)


def qparams(scale: float, zp: int) -> QuantParams:
    """Per-tensor parameters."""
    return QuantParams(np.array([scale], np.float32), np.array([zp], np.int32))


__all__ = ["Builder", "Case", "OPSET", "qparams"]
