"""Frontends: read source models into the IR. ONNX today (`load_onnx`)."""
from .onnx import load_onnx

__all__ = ["load_onnx"]
