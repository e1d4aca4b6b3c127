"""The NEON INT8 matrix-product kernels (1x1 and KxK conv2d, fully connected) and add under qemu are
bit-exact with the portable reference kernels (the depthwise ones: test_neon_int8_dw.py).

Each case is a one-op INT8 graph (the helpers of test_kernels_int8_compute.py) written as a .tem
file. The host runs it with `tinyedge.load(...).run` (x86: the reference kernels or, on a CPU with
AVX2, the AVX2 ones; both checked bit for bit against the numpy reference elsewhere); tinyedge-run, cross-built with zig, runs it under
qemu-user on three CPU models: pi4 (`-cpu cortex-a72`, plain NEON), pi5 (`-cpu cortex-a76`, with the
dot product) and armv7-linux (`qemu-arm -cpu cortex-a15`, 32-bit NEON). Every output must be equal
byte for byte, and the runner's trace must name the kernel the case is for, so a case that silently
fell back to the reference kernel fails.

The sweeps walk sizes around each kernel's tile: the matrix product takes 4 rows (2 on armv7) by 4
output channels by 16 inputs per step (then 8, then a scalar tail), rows left over one at a time,
and tasks take blocks of rows by 16 channels; the KxK kernel copies blocks of 8 output pixels'
windows (padded to a multiple of 8 values) and packs weights whose window is not a multiple of 8;
the add kernel takes 8 elements. So rows 1..9 and many, channels below, at and above 4, 8 and 16
and their multiples, odd counts, windows 1x1 to 7x7 and non-square, strides 1 and 2 in each
direction, dilation, symmetric and lopsided pads, images smaller than the window, two images, zero
points over all of int8, per-channel and per-tensor weights, fused clamps, multipliers from below
2^-32 to above 1, accumulators at the edge of int32, nodes split into several tasks. Add cases set
either input's scale the larger. Nodes outside the kernels' specializations (a grouped conv that is
not depthwise, an add that broadcasts) must fall back to the reference kernel. A gcc-built Pi 5
runner must carry and pick the dot-product kernels too.
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
def gemm_kernels(op: str) -> dict:
    """A matrix-product kernel's name per board: the 4x4 tile on aarch64 (SDOT on pi5), 2x4 on armv7."""
    return {"pi4": f"te_{op}_4x4c16__neon", "pi5": f"te_{op}_4x4c16__neon_dot",
            "armv7-linux": f"te_{op}_2x4c16__neon"}


EXPECTED = {
    "conv1x1": gemm_kernels("conv2d_s8_1x1"),
    "kxk": gemm_kernels("conv2d_s8_kxk"),
    "fc": gemm_kernels("fully_connected_s8"),
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


def kxk(h: int, w: int, c: int, o: int, k=(3, 3), n: int = 1, pads=None, **kw) -> Case:
    """A one-group conv of window k over n images; 'same' pads (k // 2 on each side) by default."""
    pads = (k[0] // 2, k[1] // 2, k[0] // 2, k[1] // 2) if pads is None else pads
    return Case("kxk", (n, h, w, c), (o, *k, c), pads=pads, **kw)


def fc(lead: tuple, k: int, n: int, **kw) -> Case:
    return Case("fc", (*lead, k), (n, k), **kw)


def add(shape: tuple, b_shape: Optional[tuple] = None, **kw) -> Case:
    """An add; exponent is log2(s_b / s_a) here. Fewer than 8 elements (the NEON kernel refuses
    rows shorter than its step) or a b_shape that broadcasts is a fallback case (broadcasting
    adds: test_neon_int8_matmul_add.py)."""
    family = "add" if b_shape is None and np.prod(shape) >= 8 else "add_fallback"
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
    conv1x1(7, 24, 20, z_x=-9, z_y=3, clamp="relu6"),   # 4 rows + 3 left over, 16 + 4 channels
    conv1x1(8, 16, 33, z_x=100, per_channel=False),
    conv1x1(196, 24, 36, z_x=-128, clamp="relu6"),      # two tasks of row by channel blocks
    conv1x1(49, 160, 18, z_x=-60, z_y=10),              # 7x7 pixels, 10 steps of 16
    # KxK: windows 1x1 (strided, padded) to 7x7 and non-square, window sizes kh*kw*c below, at and
    # above 8 and 16 (packed or in place), pixel counts around the 8-pixel block and the 4-row
    # tile, strides, dilation, pads of every style, images smaller than the window.
    kxk(1, 1, 2, 1, z_x=-128, z_y=127),  # one channel in and out would be a depthwise conv
    kxk(5, 5, 3, 8, strides=(2, 2), z_x=-128, clamp="relu6"),           # MobileNetV2's stem
    kxk(9, 8, 3, 32, strides=(2, 2), pads=(0, 0, 1, 1), z_x=5, z_y=-7),  # TF-style stem pads
    kxk(4, 4, 8, 4, pads=(0, 0, 0, 0), z_x=127),                         # 2x2 outputs, k = 72
    kxk(6, 5, 2, 5, k=(1, 3), z_x=-3, per_channel=False),                # k = 6 < 8
    kxk(5, 6, 16, 9, k=(3, 1), strides=(1, 2), z_x=40, bias=False),
    kxk(7, 7, 5, 13, k=(5, 5), z_x=-77, clamp="relu"),
    kxk(8, 9, 4, 6, k=(7, 7), strides=(2, 1), pads=(3, 0, 1, 2), z_x=64, exponent=-40.0),
    kxk(7, 6, 6, 7, dilations=(2, 2), pads=(2, 2, 2, 2), z_x=-30, exponent=3.0),
    kxk(6, 6, 3, 4, dilations=(1, 3), pads=(0, 1, 2, 3), z_x=9, clamp="inverted"),
    kxk(2, 1, 7, 3, k=(3, 3), pads=(2, 2, 2, 2), z_x=-1),               # image smaller than window
    kxk(5, 5, 6, 4, k=(1, 1), strides=(2, 2), z_x=3),                    # 1x1 strided
    kxk(3, 4, 9, 10, k=(1, 1), pads=(1, 0, 0, 1), z_x=-5, z_y=-128),     # 1x1 padded
    kxk(5, 7, 17, 17, n=2, z_x=20, z_y=-20, clamp="relu6"),
    kxk(4, 5, 24, 6, z_x=127, edge_bias=True, exponent=-26.5),
    kxk(3, 3, 5, 8, pads=(1, 1, 1, 1), z_x=-128, edge_bias=True, exponent=-26.5),  # packed rows
    kxk(14, 14, 8, 24, strides=(2, 2), z_x=-40),                         # several tasks
    # fully connected: rows 1..5, K around 8 and 16, N around 4.
    fc((1,), 1, 1, z_x=-128),
    fc((2,), 8, 3, z_x=7, clamp="relu"),
    fc((3,), 15, 4, z_x=-9, per_channel=False),
    fc((1, 4), 16, 5, z_x=127, bias=False),
    fc((5,), 17, 8, z_x=-31, exponent=2.0),
    fc((2, 3), 40, 10, z_x=0, clamp="relu6"),
    fc((1,), 100, 13, z_x=-128, edge_bias=True, exponent=-26.5),
    fc((9,), 33, 21, z_x=50, z_y=-3, clamp="relu6"),
    fc((1,), 640, 250, z_x=-7),                          # two tasks of channel blocks
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
    Case("fallback", (1, 5, 5, 6), (4, 3, 3, 3), pads=(1, 1, 1, 1), group=2, z_x=3),  # 2 groups
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



def test_gcc_pi5_runner_picks_the_dot_kernels(prepared, request, tmp_path):
    """Debian's gcc 12 compiles the dot-product files for -march=armv8.2-a+dotprod tuned for the
    board (targets.py; -mcpu=<cpu>+dotprod cannot inline vdotq_s32 on CPUs without it), so its Pi 5
    runner carries them: under -cpu cortex-a76 the trace names the dot-product kernel of each
    matrix-product family and the bytes equal the host's."""
    board, exe = runner("pi5", "gcc", cross_cache(request.config))
    items = [p for family in ("conv1x1", "kxk", "fc")
             for p in [p for p in prepared if p.case.family == family][:2]]
    for i, item in enumerate(items):
        kernel, outputs = run_on_board(board, exe, BOARDS["pi5"], item, tmp_path / f"out{i}")
        assert kernel == EXPECTED[item.case.family]["pi5"], f"{item.case.id}: kernel {kernel}"
        for got, want in zip(outputs, item.want):
            assert_equal_int8(got, want)
