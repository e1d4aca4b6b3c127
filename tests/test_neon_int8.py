"""The NEON INT8 kernels under qemu are bit-exact with the portable reference kernels.

Each case is a one-op INT8 graph (the helpers of test_kernels_int8_compute.py) written as a .tem
file. The host runs it with `tinyedge.load(...).run` (x86: the reference kernels, themselves checked
bit for bit against the numpy reference elsewhere); tinyedge-run, cross-built with zig, runs it under
qemu-user on three CPU models: pi4 (`-cpu cortex-a72`, plain NEON), pi5 (`-cpu cortex-a76`, with the
dot product) and armv7-linux (`qemu-arm -cpu cortex-a15`, 32-bit NEON). Every output must be equal
byte for byte, and the runner's trace must name the kernel the case is for, so a case that silently
fell back to the reference kernel fails.

The sweeps walk sizes around each kernel's tile: the 1x1 convolution and fully connected kernels
take 2 rows by 4 output channels by 16 inputs per step (then 8, then a scalar tail), the depthwise
3x3 kernel 8 channels per step (then a scalar tail), the add kernel 8 elements; so rows 1..5, channels below, at and above 4,
8 and 16 and their multiples, odd counts, strides 1 and 2 in each direction, symmetric and lopsided
pads, images smaller than the window, zero points over all of int8, per-channel and per-tensor
weights, fused clamps, multipliers from below 2^-32 to above 1, accumulators at the edge of int32.
Add cases set either input's scale the larger. Nodes outside a kernel's specialization (a strided or
dilated window, a 5x5 depthwise, an add that broadcasts) must fall back to the reference kernel.
"""
from __future__ import annotations

import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

import tinyedge
from cross_helpers import cross_cache, run_emulated, runner
from test_kernels_compute import CLAMPS
from test_kernels_int8_compute import (INT32_MAX, assert_equal_int8, int8_values, int8_weights,
                                       int32_bias, layer_params, one_op_graph, qp, weight_qp)
from tinyedge.format.writer import write_tem
from tinyedge.plan import plan_memory

# Board -> the qemu CPU model it is tested on.
BOARDS = {"pi4": "cortex-a72", "pi5": "cortex-a76", "armv7-linux": "cortex-a15"}
REF_CONV = "te_conv2d_s8__ref"
# The kernel each board must pick for a case of each family (pi5 has the dot product).
EXPECTED = {
    "conv1x1": {"pi4": "te_conv2d_s8_1x1_2x4c16__neon", "pi5": "te_conv2d_s8_1x1_2x4c16__neon_dot",
                "armv7-linux": "te_conv2d_s8_1x1_2x4c16__neon"},
    "dw3x3": dict.fromkeys(BOARDS, "te_dwconv3x3_s8_c8__neon"),
    "fc": dict.fromkeys(BOARDS, "te_fully_connected_s8_2x4c16__neon"),
    "add": dict.fromkeys(BOARDS, "te_add_s8_c8__neon"),
    "fallback": dict.fromkeys(BOARDS, REF_CONV),
    "add_fallback": dict.fromkeys(BOARDS, "te_add_s8__ref"),
}


@dataclass(frozen=True)
class Case:
    """One graph to run: its family (EXPECTED's key), shapes and quantization."""

    family: str
    x_shape: tuple
    w_shape: tuple             # OHWI (conv2d), [N, K] (fully_connected), the second input (add)
    strides: tuple = (1, 1)
    pads: tuple = (0, 0, 0, 0)
    dilations: tuple = (1, 1)
    group: int = 1
    bias: bool = True
    per_channel: bool = True
    clamp: str = "none"
    z_x: int = 0
    z_y: int = 0
    exponent: Optional[float] = None  # log2 of the first channel's multiplier; None: typical_exponent
    edge_bias: bool = False    # biases at the largest magnitude the overflow proof allows
    seed: int = 0

    @property
    def id(self) -> str:
        return (f"{self.family}-x{'x'.join(map(str, self.x_shape))}-w{'x'.join(map(str, self.w_shape))}"
                f"-s{self.strides[0]}{self.strides[1]}-p{''.join(map(str, self.pads))}"
                f"-z{self.z_x},{self.z_y}{'' if self.exponent is None else f'-e{self.exponent:g}'}"
                f"{'-edge' if self.edge_bias else ''}")


def conv1x1(p: int, c: int, o: int, n: int = 1, **kw) -> Case:
    """A pointwise conv over n images of p = h * w pixels (h the smallest factor above 1)."""
    h = next((f for f in range(2, p + 1) if p % f == 0), 1)
    return Case("conv1x1", (n, h, p // h, c), (o, 1, 1, c), **kw)


def dw3x3(h: int, w: int, c: int, strides=(1, 1), pads=(1, 1, 1, 1), **kw) -> Case:
    return Case("dw3x3", (1, h, w, c), (c, 3, 3, 1), strides=strides, pads=pads, group=c, **kw)


def fc(lead: tuple, k: int, n: int, **kw) -> Case:
    return Case("fc", (*lead, k), (n, k), **kw)


def add(shape: tuple, b_shape: Optional[tuple] = None, **kw) -> Case:
    """An add; exponent is log2(s_b / s_a) here. A b_shape that broadcasts is a fallback case."""
    family = "add" if b_shape is None else "add_fallback"
    return Case(family, shape, shape if b_shape is None else b_shape, **kw)


CASES = [
    # 1x1 conv: rows (pixels) 1..5 and many, inputs around 8 and 16, outputs around 4.
    conv1x1(1, 1, 1, z_x=-128, z_y=127),
    conv1x1(2, 7, 3, z_x=5, clamp="relu"),
    conv1x1(3, 8, 4, z_x=-3, per_channel=False),
    conv1x1(4, 15, 5, z_x=127, z_y=-128, clamp="relu6"),
    conv1x1(5, 16, 8, z_x=-77, bias=False),
    conv1x1(6, 17, 9, z_x=33, exponent=-40.0),
    conv1x1(9, 31, 13, z_x=-1, exponent=3.0),
    conv1x1(10, 33, 16, n=2, z_x=64, clamp="inverted"),
    conv1x1(25, 48, 24, z_x=-128, z_y=-20, clamp="relu6"),
    conv1x1(49, 96, 17, z_x=12, exponent=-16.0),
    conv1x1(3, 40, 7, z_x=-128, edge_bias=True, exponent=-26.5),
    conv1x1(4, 24, 6, z_x=127, edge_bias=True, exponent=-26.5),
    # depthwise 3x3: channels around 8, strides 1 and 2 per axis, pads symmetric, lopsided, none,
    # images smaller than the window.
    dw3x3(1, 1, 1, z_x=-128),
    dw3x3(5, 5, 7, z_x=3, z_y=-9, clamp="relu6"),
    dw3x3(6, 7, 8, strides=(2, 2), z_x=-60),
    dw3x3(7, 6, 9, strides=(1, 2), pads=(0, 1, 2, 0), z_x=127, per_channel=False),
    dw3x3(4, 9, 16, strides=(2, 1), pads=(2, 0, 0, 2), z_x=-5, bias=False),
    dw3x3(8, 8, 17, strides=(2, 2), pads=(0, 0, 1, 1), z_x=40, clamp="relu"),
    dw3x3(3, 3, 24, pads=(0, 0, 0, 0), z_x=-128, exponent=-40.0),
    dw3x3(2, 1, 5, pads=(2, 2, 2, 2), z_x=9, exponent=4.0),
    dw3x3(9, 10, 32, strides=(2, 2), z_x=-128, z_y=-128, clamp="relu6"),
    dw3x3(5, 4, 15, z_x=127, edge_bias=True, exponent=-26.5),
    # fully connected: rows 1..5, K around 8 and 16, N around 4.
    fc((1,), 1, 1, z_x=-128),
    fc((2,), 8, 3, z_x=7, clamp="relu"),
    fc((3,), 15, 4, z_x=-9, per_channel=False),
    fc((1, 4), 16, 5, z_x=127, bias=False),
    fc((5,), 17, 8, z_x=-31, exponent=2.0),
    fc((2, 3), 40, 10, z_x=0, clamp="relu6"),
    fc((1,), 100, 13, z_x=-128, edge_bias=True, exponent=-26.5),
    # add: elements around the 8 per step; either input's scale the larger, equal scales.
    add((1,), z_x=-128, z_y=127, exponent=0.0),
    add((7,), z_x=5, z_y=-3, exponent=1.5, clamp="relu"),
    add((8,), z_x=127, z_y=-128, exponent=-2.0),
    add((1, 3, 3), z_x=-20, z_y=9, exponent=0.3, clamp="relu6"),
    add((2, 4, 2), z_x=64, z_y=0, exponent=-0.7),
    add((1, 5, 5, 3), z_x=-1, z_y=-100, exponent=6.0),
    add((1, 4, 4, 16), z_x=0, z_y=40, exponent=-3.0),
    add((1, 6, 6, 13), z_x=-70, z_y=-5, exponent=0.0, clamp="relu"),
    add((3,), z_x=2, z_y=1, exponent=-6.0, clamp="inverted"),
    # Outside the specializations: the reference kernel runs, with the same bytes.
    Case("fallback", (1, 5, 5, 6), (4, 1, 1, 6), strides=(2, 2), z_x=3),        # 1x1 stride 2
    Case("fallback", (1, 6, 6, 6), (6, 3, 3, 1), dilations=(2, 2), pads=(2, 2, 2, 2), group=6),
    Case("fallback", (1, 6, 6, 4), (4, 5, 5, 1), pads=(2, 2, 2, 2), group=4, z_x=-7),  # 5x5
    add((2, 3, 5), (3, 1), z_x=11, exponent=0.5),                                     # broadcast
]


def edge_biases(w: np.ndarray, z_x: int) -> np.ndarray:
    """Per-channel biases of alternating sign at the bound the kernels' prepare accepts:
    |bias| + reach(z_x) * sum |w| = 2^31 - 1."""
    reach = max(128 + z_x, 127 - z_x)
    limit = INT32_MAX - reach * np.abs(w.reshape(w.shape[0], -1).astype(np.int64)).sum(axis=1)
    return (limit * np.where(np.arange(w.shape[0]) % 2 == 0, 1, -1)).astype(np.int32)


def typical_exponent(w_shape: tuple) -> float:
    """The multiplier exponent that spreads a case's outputs over the int8 range: a sum of k
    products of uniform int8 values has a standard deviation near 128 * 73 * sqrt(k), mapped to
    about 40 (so most outputs are neither clamped nor zero, and every bit of the sum matters)."""
    k = int(np.prod(w_shape[1:]))
    return float(np.log2(40.0 / (128 * 73 * np.sqrt(k))))


def typical_bias(rng: np.random.Generator, w_shape: tuple, channels: int) -> np.ndarray:
    """Biases of the size of the products' sum (a larger one would only clamp the outputs)."""
    spread = int(128 * 73 * np.sqrt(np.prod(w_shape[1:])))
    return rng.integers(-spread, spread, channels, endpoint=True).astype(np.int32)


def build_add(case: Case, rng: np.random.Generator, path: Path) -> dict:
    """An add case: s_a random, s_b = s_a * 2^exponent, s_y about the sum's range over 256, and
    input b's zero point the one that centres the outputs on z_y (as far as int8 allows), so that
    few of them clamp."""
    s_a = float(np.float32(2.0 ** rng.uniform(-8, 2)))
    s_b = float(np.float32(s_a * 2.0 ** case.exponent))
    s_y = float(np.float32((s_a + s_b) * rng.uniform(0.7, 1.6)))
    a, b = int8_values(rng, case.x_shape), int8_values(rng, case.w_shape)
    z_b = int(np.clip(round((case.z_y * s_y - s_a * case.z_x) / s_b), -128, 127))
    g = one_op_graph("add", {"a": (a, qp(s_a, case.z_x)), "b": (b, qp(s_b, z_b))}, {}, ["a", "b"],
                     dict(CLAMPS[case.clamp]), qp(s_y, case.z_y))
    g.validate()
    write_tem(g, plan_memory(g), path, {"name": "neon_int8_test"})
    return {"a": a, "b": b}


def build_case(case: Case, path: Path) -> dict:
    """Write the case's graph to path; return its input feeds."""
    rng = np.random.default_rng([case.seed, zlib.crc32(case.id.encode())])
    if case.family.startswith("add"):
        return build_add(case, rng, path)
    cout = case.w_shape[0]
    exponent = typical_exponent(case.w_shape) if case.exponent is None else case.exponent
    s_x, s_w, s_y = layer_params(rng, cout, exponent)
    w = int8_weights(rng, case.w_shape)
    if case.edge_bias:  # full-scale weights, so the bias' room is what is left of int32
        w = np.where(rng.random(w.shape) < 0.5, -127, 127).astype(np.int8)
    consts = {"weight": (w, weight_qp(s_w, case.per_channel))}
    if case.bias:
        if case.edge_bias:
            bias = edge_biases(w, case.z_x)
        elif case.exponent is None:
            bias = typical_bias(rng, case.w_shape, cout)
        else:
            bias = int32_bias(rng, cout)
        consts["bias"] = (bias, None)
    x = int8_values(rng, case.x_shape)
    if case.family == "fc":
        op, attrs = "fully_connected", dict(CLAMPS[case.clamp])
    else:
        op = "conv2d"
        attrs = dict(strides=case.strides, dilations=case.dilations, pads=case.pads,
                     group=case.group, **CLAMPS[case.clamp])
    g = one_op_graph(op, {"x": (x, qp(s_x, case.z_x))}, consts,
                     ["x", "weight", "bias" if case.bias else None], attrs, qp(s_y, case.z_y))
    g.validate()
    write_tem(g, plan_memory(g), path, {"name": "neon_int8_test"})
    return {"x": x}


@dataclass
class Prepared:
    """A case on disk and what the host computed for it."""

    case: Case
    model: Path
    inputs: dict      # name -> .npy path
    want: list        # host outputs
    output_names: list


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> list[Prepared]:
    """Every case written and run on the host once for the module."""
    out = tmp_path_factory.mktemp("neon_int8")
    cases = []
    for i, case in enumerate(CASES):
        model = out / f"case{i}.tem"
        feeds = build_case(case, model)
        host = tinyedge.load(model)
        inputs = {}
        for name, value in feeds.items():
            inputs[name] = out / f"case{i}_{name}.npy"
            np.save(inputs[name], value)
        want = host.run([feeds[info.name] for info in host.inputs])
        cases.append(Prepared(case, model, inputs, want, [info.name for info in host.outputs]))
    return cases


@pytest.fixture(scope="module")
def runners(request) -> dict:
    """Board name -> (board, runner path), built with zig into the suite's cache."""
    cache = cross_cache(request.config)
    return {name: runner(name, "zig", cache) for name in BOARDS}


TRACE_RECORD = re.compile(r"^\d+\t\d+\t")


def run_on_board(board, exe: Path, cpu: str, item: Prepared, out_dir: Path) -> tuple[str, list]:
    """Run one case under qemu; return the kernel its trace names and its outputs."""
    args = [a for name, path in item.inputs.items() for a in ("--input", f"{name}={path}")]
    done = run_emulated(board, exe, item.model, *args, "--output-dir", out_dir, "--iters", "1",
                        "--warmup", "0", "--trace", "-", cpu=cpu)
    assert done.returncode == 0, f"{item.case.id} under qemu -cpu {cpu}: {done.stderr}"
    records = [line.split("\t") for line in done.stdout.splitlines() if TRACE_RECORD.match(line)]
    assert len(records) == 1, f"{item.case.id}: expected one trace record, got {done.stdout}"
    return records[0][4], [np.load(out_dir / f"{name}.npy") for name in item.output_names]


@pytest.mark.parametrize("board_name", BOARDS)
def test_neon_int8_kernels_match_reference(board_name, prepared, runners, tmp_path):
    """Every case on one board: the expected NEON kernel ran, and its bytes equal the host's."""
    board, exe = runners[board_name]
    cpu = BOARDS[board_name]

    def one(i: int) -> tuple[int, str, list]:
        return (i, *run_on_board(board, exe, cpu, prepared[i], tmp_path / f"out{i}"))

    failures = []
    with ThreadPoolExecutor(max_workers=2) as pool:  # qemu processes: the machine has 2 cores
        for i, kernel, outputs in pool.map(one, range(len(prepared))):
            item = prepared[i]
            want_kernel = EXPECTED[item.case.family][board_name]
            if kernel != want_kernel:
                failures.append(f"{item.case.id}: kernel {kernel}, expected {want_kernel}")
                continue
            for got, want in zip(outputs, item.want):
                try:
                    assert_equal_int8(got, want)
                except AssertionError as e:
                    failures.append(f"{item.case.id} ({kernel}): {e}")
    assert not failures, f"{len(failures)} of {len(prepared)} cases on {board_name}:\n" + \
        "\n".join(failures)

