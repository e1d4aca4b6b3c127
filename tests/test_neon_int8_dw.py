"""The NEON INT8 depthwise 3x3 and 5x5 kernels under qemu are bit-exact with the numpy reference.

Every case is one depthwise conv2d node; all of them sit side by side in one INT8 graph (an input
and an output per case), so each runner is one tinyedge-run call under qemu-user: pi4 (`-cpu
cortex-a72`, plain NEON), pi5 (`-cpu cortex-a76`, with the dot product, which has no depthwise
kernel of its own) and armv7-linux (`qemu-arm -cpu cortex-a15`, 32-bit NEON), built with zig, and
pi4 built with Debian's gcc. Each output must equal
tinyedge.reference (numpy, docs/quantization.md) byte for byte, and the runner's trace must name
the kernel the case is for, so a case that silently fell back to the reference kernel fails.

The kernels take 16 channels per step, then 8, then a scalar tail; interior pixels read the input
in place, border pixels a strip of their window rows padded with z_x, and z_x is folded into the
bias (so sums wrap modulo 2^32 on the way). The sweep walks channels 2..48 around 8 and 16, odd
widths, strides 1 and 2 per axis, symmetric, lopsided, none and wide pads, images smaller than the
window, zero points over all of int8, per-channel and per-tensor weights, fused clamps (an
inverted one included), multipliers from below 2^-32 to above 1 (a left shift), accumulators at
the edge of int32 with z_x at both ends, two images and nodes split into several tasks. Nodes
outside the kernels' specialization (a dilated window, stride 3, a 7x7 window, channel
multiplier 2) must run the reference kernel.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from cross_helpers import cross_cache, run_emulated, runner
from test_kernels_compute import CLAMPS
from test_kernels_int8_compute import (INT32_MAX, assert_equal_int8, int8_values, int8_weights,
                                       int32_bias, layer_params, qp, weight_qp)
from tinyedge import reference
from tinyedge.format.writer import write_tem
from tinyedge.ir import Graph
from tinyedge.plan import plan_memory

# Board -> the qemu CPU model it is tested on.
BOARDS = {"pi4": "cortex-a72", "pi5": "cortex-a76", "armv7-linux": "cortex-a15"}
# (board, toolchain) of each runner the cases run on.
RUNS = [("pi4", "zig"), ("pi5", "zig"), ("armv7-linux", "zig"), ("pi4", "gcc")]
KERNELS = {3: "te_dwconv3x3_s8_c16__neon", 5: "te_dwconv5x5_s8_c16__neon"}
REF_CONV = "te_conv2d_s8__ref"


@dataclass(frozen=True)
class Case:
    """One depthwise conv2d node: NHWC input shape, window, and quantization."""

    x_shape: tuple             # (n, h, w, c)
    k: int = 3
    strides: tuple = (1, 1)
    pads: tuple = (1, 1, 1, 1)  # top, left, bottom, right
    dilations: tuple = (1, 1)
    multiplier: int = 1        # output channels per input channel
    bias: bool = True
    per_channel: bool = True
    clamp: str = "none"
    z_x: int = 0
    z_y: int = 0
    exponent: Optional[float] = None  # log2 of the first channel's multiplier; None: typical
    edge_bias: bool = False    # biases at the largest magnitude the overflow proof allows

    @property
    def kernel(self) -> str:
        """The kernel every NEON board must pick for this node."""
        fits = (self.dilations == (1, 1) and self.multiplier == 1 and
                all(s in (1, 2) for s in self.strides))
        return KERNELS.get(self.k, REF_CONV) if fits else REF_CONV

    @property
    def id(self) -> str:
        return (f"dw{self.k}x{self.k}-x{'x'.join(map(str, self.x_shape))}-s{self.strides[0]}"
                f"{self.strides[1]}-p{''.join(map(str, self.pads))}-d{self.dilations[0]}"
                f"-m{self.multiplier}-z{self.z_x},{self.z_y}-{self.clamp}"
                f"{'' if self.exponent is None else f'-e{self.exponent:g}'}"
                f"{'-edge' if self.edge_bias else ''}{'' if self.per_channel else '-pt'}")


def dw(h: int, w: int, c: int, k: int = 3, n: int = 1, pads: Optional[tuple] = None, **kw) -> Case:
    """A depthwise case, 'same' pads by default."""
    return Case((n, h, w, c), k, pads=(k // 2,) * 4 if pads is None else pads, **kw)


CASES = [
    # 3x3: channels around 8 and 16 (tails of 1..15 channels), stride 1 rows of odd and even
    # widths (pairs and a single left over), every pad style.
    dw(1, 1, 2, z_x=-128),  # one channel would be a plain conv (group 1), not depthwise
    dw(5, 5, 7, z_x=3, z_y=-9, clamp="relu6"),
    dw(6, 7, 8, strides=(2, 2), z_x=-60),
    dw(7, 6, 9, strides=(1, 2), pads=(0, 1, 2, 0), z_x=127, per_channel=False),
    dw(4, 9, 16, strides=(2, 1), pads=(2, 0, 0, 2), z_x=-5, bias=False),
    dw(8, 8, 17, strides=(2, 2), pads=(0, 0, 1, 1), z_x=40, clamp="relu"),
    dw(3, 3, 24, pads=(0, 0, 0, 0), z_x=-128, exponent=-40.0),
    dw(2, 1, 5, pads=(2, 2, 2, 2), z_x=9, exponent=4.0),
    dw(9, 10, 32, strides=(2, 2), z_x=-128, z_y=-128, clamp="relu6"),
    dw(5, 4, 15, z_x=127, edge_bias=True, exponent=-26.5),
    dw(6, 11, 23, z_x=-17, z_y=5, clamp="inverted"),
    dw(7, 12, 25, pads=(1, 0, 1, 2), z_x=100, z_y=-50),
    dw(5, 13, 31, pads=(0, 2, 1, 0), z_x=-1),
    dw(4, 14, 33, z_x=77, z_y=127, per_channel=False, clamp="relu"),
    dw(9, 9, 40, strides=(1, 2), z_x=0, exponent=1.0),
    dw(11, 11, 40, strides=(2, 1), pads=(0, 0, 0, 0), z_x=-90, z_y=20),
    dw(6, 9, 48, n=2, z_x=12, clamp="relu6"),
    dw(20, 20, 40, z_x=-33),  # several tasks
    dw(3, 12, 16, pads=(1, 1, 1, 1), z_x=127, edge_bias=True, exponent=-26.5),
    dw(4, 6, 24, strides=(2, 1), z_x=-128, edge_bias=True, exponent=-26.5),
    # 5x5: the same sweep around its window.
    dw(1, 1, 3, k=5, z_x=-128),
    dw(3, 2, 8, k=5, z_x=50, clamp="relu"),
    dw(5, 5, 9, k=5, pads=(0, 0, 0, 0), z_x=-7, per_channel=False),
    dw(7, 9, 16, k=5, strides=(2, 2), z_x=127, z_y=-128),
    dw(8, 11, 17, k=5, strides=(1, 2), pads=(2, 0, 1, 3), z_x=-64, clamp="relu6"),
    dw(9, 12, 24, k=5, strides=(2, 1), pads=(0, 2, 2, 0), z_x=5, bias=False),
    dw(6, 13, 31, k=5, z_x=-100, z_y=30, clamp="inverted"),
    dw(10, 10, 32, k=5, strides=(2, 2), pads=(1, 1, 2, 2), z_x=33, exponent=-40.0),
    dw(4, 7, 33, k=5, z_x=1, exponent=3.0),
    dw(6, 15, 40, k=5, z_x=-128, z_y=-1),
    dw(6, 6, 15, k=5, z_x=127, edge_bias=True, exponent=-26.5),
    dw(7, 7, 32, k=5, z_x=-128, edge_bias=True, exponent=-26.5),
    dw(5, 8, 24, k=5, n=2, pads=(4, 4, 4, 4), z_x=-20),  # windows mostly in the padding
    dw(20, 20, 48, k=5, z_x=70, clamp="relu"),           # several tasks
    # Outside the specializations: the reference kernel runs.
    dw(6, 6, 6, dilations=(2, 2), pads=(2, 2, 2, 2), z_x=3),
    dw(9, 9, 8, strides=(3, 3), z_x=-3),
    dw(8, 8, 4, k=7, z_x=-7),
    dw(5, 5, 4, multiplier=2, z_x=11),
]


def typical_exponent(k: int) -> float:
    """The multiplier exponent that maps the spread of a k * k-term sum of int8 products (about
    128 * 73 * k) to about 40, so most outputs are neither clamped nor zero."""
    return float(np.log2(40.0 / (128 * 73 * k)))


def edge_biases(w: np.ndarray, z_x: int) -> np.ndarray:
    """Per-channel biases of alternating sign at the bound the kernels' prepare accepts:
    |bias| + reach(z_x) * sum |w| = 2^31 - 1."""
    reach = max(128 + z_x, 127 - z_x)
    limit = INT32_MAX - reach * np.abs(w.reshape(w.shape[0], -1).astype(np.int64)).sum(axis=1)
    return (limit * np.where(np.arange(w.shape[0]) % 2 == 0, 1, -1)).astype(np.int32)


def add_case(g: Graph, i: int, case: Case) -> dict:
    """Add the case's input, weights and node to g (tensor names suffixed with i); return its
    input feed."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    c = case.x_shape[3]
    cout = c * case.multiplier
    w_shape = (cout, case.k, case.k, 1)
    s_x, s_w, s_y = layer_params(rng, cout, typical_exponent(case.k) if case.exponent is None
                                 else case.exponent)
    w = int8_weights(rng, w_shape)
    if case.edge_bias:  # full-scale weights, so the bias' room is what is left of int32
        w = np.where(rng.random(w.shape) < 0.5, -127, 127).astype(np.int8)
    x = int8_values(rng, case.x_shape)
    g.add_input(f"x{i}", x.shape, "int8")
    g.tensors[f"x{i}"].quant = qp(s_x, case.z_x)
    order = [f"x{i}", g.add_const(f"w{i}", w)]
    g.tensors[order[1]].quant = weight_qp(s_w, case.per_channel)
    if case.bias:
        if case.edge_bias:
            bias = edge_biases(w, case.z_x)
        elif case.exponent is None:  # of the size of the products' sum
            spread = 128 * 73 * case.k
            bias = rng.integers(-spread, spread, cout, endpoint=True).astype(np.int32)
        else:
            bias = int32_bias(rng, cout)
        order.append(g.add_const(f"b{i}", bias))
    attrs = dict(strides=case.strides, dilations=case.dilations, pads=case.pads, group=c,
                 **CLAMPS[case.clamp])
    (y,) = g.add_node("conv2d", order, attrs, name=f"dw{i}")
    g.tensors[y].quant = qp(s_y, case.z_y)
    g.outputs.append(y)
    return {f"x{i}": x}


@dataclass
class Prepared:
    """The graph of every case on disk, its inputs and what the numpy reference computed."""

    model: Path
    inputs: dict      # name -> .npy path
    want: list        # reference outputs, one per case
    output_names: list


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    """Every case in one graph, written, with its inputs and reference outputs, once a module."""
    out = tmp_path_factory.mktemp("neon_int8_dw")
    g = Graph()
    feeds = {}
    for i, case in enumerate(CASES):
        feeds.update(add_case(g, i, case))
    g.validate()
    model = out / "dw_cases.tem"
    write_tem(g, plan_memory(g), model, {"name": "neon_int8_dw_test"})
    inputs = {}
    for name, value in feeds.items():
        inputs[name] = out / f"{name}.npy"
        np.save(inputs[name], value)
    return Prepared(model, inputs, reference.run(g, feeds), list(g.outputs))


@pytest.fixture(scope="module")
def cache(request) -> Path:
    """The suite's cache of runner builds (cross_helpers)."""
    return cross_cache(request.config)


TRACE_RECORD = re.compile(r"^\d+\t\d+\t")


@pytest.mark.parametrize("board_name,toolchain", RUNS)
def test_neon_int8_depthwise_kernels_match_reference(board_name, toolchain, prepared, cache,
                                                      tmp_path):
    """Every case on one runner: the expected kernel ran, and its bytes equal the reference's."""
    board, exe = runner(board_name, toolchain, cache)
    args = [a for name, path in prepared.inputs.items() for a in ("--input", f"{name}={path}")]
    done = run_emulated(board, exe, prepared.model, *args, "--output-dir", tmp_path, "--iters", "1",
                        "--warmup", "0", "--trace", "-", cpu=BOARDS[board_name])
    assert done.returncode == 0, f"under qemu -cpu {BOARDS[board_name]}: {done.stderr}"
    kernels = {rec[2]: rec[4] for rec in (line.split("\t") for line in done.stdout.splitlines()
                                          if TRACE_RECORD.match(line))}
    failures = []
    for i, case in enumerate(CASES):
        kernel = kernels.get(f"dw{i}")
        if kernel != case.kernel:
            failures.append(f"{case.id}: kernel {kernel}, expected {case.kernel}")
            continue
        got = np.load(tmp_path / f"{prepared.output_names[i]}.npy")
        try:
            assert_equal_int8(got, prepared.want[i])
        except AssertionError as e:
            failures.append(f"{case.id} ({kernel}): {e}")
    where = f"{len(failures)} of {len(CASES)} cases on {board_name} ({toolchain})"
    assert not failures, f"{where}:\n" + "\n".join(failures)
