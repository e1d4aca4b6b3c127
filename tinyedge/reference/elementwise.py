"""Element-wise ops in float32: binary arithmetic with broadcasting and a fused clamp, prelu, and
the unary activations with their ONNX formulas.

Division by zero and exp overflow follow IEEE float32 (inf, nan, 0) without numpy warnings: the
golden model computes what the C kernels compute, it does not judge the data.
"""
from __future__ import annotations

import numpy as np

from .fused import clamp


def add(a, b, *, act_min, act_max):
    """a + b with broadcasting, fused clamp."""
    return clamp(np.add(a, b), act_min, act_max)


def sub(a, b, *, act_min, act_max):
    """a - b with broadcasting, fused clamp."""
    return clamp(np.subtract(a, b), act_min, act_max)


def mul(a, b, *, act_min, act_max):
    """a * b with broadcasting, fused clamp."""
    return clamp(np.multiply(a, b), act_min, act_max)


def div(a, b, *, act_min, act_max):
    """a / b with broadcasting (IEEE: x/0 is +-inf, 0/0 is nan), fused clamp."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return clamp(np.divide(a, b), act_min, act_max)


def prelu(x, slope):
    """x where x >= 0, else slope * x; slope broadcasts to x."""
    return np.where(x < 0, x * slope, x)


def clip(x, *, min, max):  # noqa: A002 - the op table's attribute names
    """min(max(x, min), max); when min > max every element becomes max (as ONNX Clip)."""
    return np.minimum(np.maximum(x, np.float32(min)), np.float32(max))


def leaky_relu(x, *, alpha):
    """x where x >= 0, else alpha * x."""
    return np.where(x < 0, x * np.float32(alpha), x)


def sigmoid(x):
    """1 / (1 + exp(-x)); exp overflows to inf for x < -88, which gives the right 0."""
    with np.errstate(over="ignore"):
        return np.float32(1) / (np.float32(1) + np.exp(-x))


def tanh(x):
    """tanh(x)."""
    return np.tanh(x)


def hard_sigmoid(x, *, alpha, beta):
    """max(0, min(1, alpha * x + beta))."""
    return np.clip(x * np.float32(alpha) + np.float32(beta), np.float32(0), np.float32(1))


def hard_swish(x):
    """x * max(0, min(1, x / 6 + 1 / 2)) (ONNX HardSwish: HardSigmoid with alpha 1/6, beta 1/2)."""
    with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as in C
        return x * hard_sigmoid(x, alpha=1 / 6, beta=0.5)


KERNELS = {"add": add, "sub": sub, "mul": mul, "div": div, "prelu": prelu, "clip": clip,
           "leaky_relu": leaky_relu, "sigmoid": sigmoid, "tanh": tanh, "hard_sigmoid": hard_sigmoid,
           "hard_swish": hard_swish}
