"""Work done by one op: multiply-accumulates, for summaries and profiles."""
from __future__ import annotations

import numpy as np


def macs(op: str, input_shapes, output_shapes, attrs: dict) -> int:
    """Multiply-accumulates of one run of the op (0 for ops that do no multiply-accumulate)."""
    out = int(np.prod(output_shapes[0], dtype=np.int64))
    if op == "conv2d":
        _, kh, kw, ci = input_shapes[1]
        return out * kh * kw * ci
    if op == "conv_transpose2d":
        ci, kh, kw, _ = input_shapes[1]
        n, h, w, _ = input_shapes[0]
        return n * h * w * ci * kh * kw * int(output_shapes[0][3]) // attrs["group"]
    if op == "fully_connected":
        return out * int(input_shapes[1][1])
    if op == "matmul":
        return out * int(input_shapes[0][-1])
    return 0
