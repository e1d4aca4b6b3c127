"""The float32 NEON depthwise 3x3 and 5x5 kernels under qemu: bit-identical with te_conv2d_f32__ref.

Every case is one depthwise conv2d node; all of them sit side by side in one float graph (an input
and an output per case), so each runner is one tinyedge-run call under qemu-user: pi4 (`-cpu
cortex-a72`), pi5 (`-cpu cortex-a76`) and armv7-linux (`qemu-arm -cpu cortex-a15`, 32-bit NEON)
built with zig, and pi4 built with Debian's gcc and run with two threads. The reference is the host
runtime's portable kernel; outputs must be equal bit for bit (signed zeros included: padding adds
no term in the reference, so a kernel that added +0 * w for padded taps would turn -0 into +0), and
the runner's trace must name the kernel the case is for, so a case that silently fell back to the
reference kernel fails.

The kernels (kernels/neon/dwconv_f32_neon.h) take channels 16 at a time, then 8, 4 and a scalar
tail; interior pixels of rows whose window is inside take every tap unrolled, interior pixels of
rows whose window reaches into the top or bottom padding take one pass per window row (the
partial sum kept in the output), border columns take a clipped general path. The sweep walks
channel counts around 4, 8 and 16, strides 1 and 2 per axis, symmetric, lopsided, none and wide
pads (windows wholly in the padding), images narrower or shorter than the window, one-row inputs,
fused clamps (inverted, one-sided, upper bounds of -0 and +0), with and without bias, two images
and nodes split into several tasks. Nodes outside the specialization (a dilated window, stride 3,
a 7x7 window, a weight computed at run time) must run the reference kernel, and channel
multiplier 2 (a grouped conv, not a depthwise one) the general KxK NEON kernel.
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
from test_kernels_compute import CLAMPS, write
from tinyedge import runtime
from tinyedge.ir import Graph

BOARDS = {"pi4": "cortex-a72", "pi5": "cortex-a76", "armv7-linux": "cortex-a15"}
# (board, toolchain, threads) of each run of the cases.
RUNS = [("pi4", "zig", 1), ("pi5", "zig", 1), ("armv7-linux", "zig", 1), ("pi4", "gcc", 2)]
KERNELS = {3: "te_dwconv3x3_f32_c16__neon", 5: "te_dwconv5x5_f32_c16__neon"}
REF = "te_conv2d_f32__ref"
KXK = "te_conv2d_f32_kxk_4x8__neon"
# Fused clamps by name: the usual ones, and upper bounds of -0 and +0 (the kernels take an upper
# bound by FMIN on AArch64, and refuse -0, where FMIN(+0, -0) = -0 but the reference keeps +0).
CLAMP_ATTRS = {**CLAMPS, "upper-0": {"act_min": -1.0, "act_max": -0.0},
               "upper+0": {"act_min": -1.0, "act_max": 0.0}}


@dataclass(frozen=True)
class Case:
    """One depthwise conv2d node: NHWC input shape, window, stride, pads, clamp."""

    x_shape: tuple             # (n, h, w, c)
    k: int = 3
    strides: tuple = (1, 1)
    pads: tuple = (1, 1, 1, 1)  # top, left, bottom, right
    dilations: tuple = (1, 1)
    multiplier: int = 1        # output channels per input channel
    bias: bool = True
    clamp: str = "none"
    signed_zeros: bool = False  # zero input, bias -0, weights whose signs tell padding apart
    weight_const: bool = True

    @property
    def kernel(self) -> str:
        """The kernel every NEON board must pick for this node."""
        if self.multiplier != 1 and self.weight_const:
            return KXK  # not depthwise but grouped: the general conv kernel's
        fits = (self.dilations == (1, 1) and self.weight_const and self.clamp != "upper-0" and
                all(s in (1, 2) for s in self.strides))
        return KERNELS.get(self.k, REF) if fits else REF

    @property
    def id(self) -> str:
        return (f"dw{self.k}x{self.k}-x{'x'.join(map(str, self.x_shape))}-s{self.strides[0]}"
                f"{self.strides[1]}-p{''.join(map(str, self.pads))}-d{self.dilations[0]}"
                f"-m{self.multiplier}-{self.clamp}{'' if self.bias else '-nobias'}"
                f"{'-zeros' if self.signed_zeros else ''}{'' if self.weight_const else '-rtw'}")


def dw(h: int, w: int, c: int, k: int = 3, n: int = 1, pads: Optional[tuple] = None, **kw) -> Case:
    """A depthwise case, 'same' pads by default."""
    return Case((n, h, w, c), k, pads=(k // 2,) * 4 if pads is None else pads, **kw)


CASES = [
    # 3x3: channel counts whose groups are every mix of 16, 8, 4 and single channels.
    dw(3, 3, 1),
    dw(5, 4, 3, clamp="relu6"),                         # scalar tail only
    dw(5, 4, 4, pads=(0, 0, 0, 0)),                     # no padding: every pixel interior
    dw(7, 7, 5, strides=(2, 2), n=2),                   # 4 + 1, two images
    dw(8, 9, 8, strides=(2, 2), pads=(0, 0, 1, 1), clamp="relu6"),  # TF "same" stride 2
    dw(6, 7, 12, strides=(1, 2), pads=(2, 2, 2, 2)),    # 8 + 4; windows over every border
    dw(1, 6, 16, strides=(2, 1)),                       # one input row: passes only
    dw(2, 2, 17, pads=(3, 3, 3, 3)),                    # windows wholly in the padding
    dw(6, 6, 15, bias=False, clamp="relu"),             # 8 + 4 + 3, one-sided clamp
    dw(7, 6, 20, strides=(1, 2), pads=(0, 1, 2, 0)),    # 16 + 4, lopsided pads
    dw(4, 9, 24, strides=(2, 1), pads=(2, 0, 0, 2), bias=False),
    dw(9, 10, 28, strides=(2, 2), clamp="inverted"),    # 16 + 8 + 4
    dw(5, 13, 31, pads=(0, 2, 1, 0)),                   # 16 + 8 + 4 + 3
    dw(6, 6, 32, clamp="relu6"),
    dw(2, 1, 33, pads=(2, 2, 2, 2)),                    # narrower and shorter than the window
    dw(11, 11, 40, strides=(2, 1), pads=(0, 0, 0, 0)),
    dw(6, 9, 48, n=2, clamp="relu6"),
    dw(20, 20, 40),                                     # several tasks
    dw(4, 5, 9, signed_zeros=True),
    dw(4, 5, 20, signed_zeros=True, clamp="upper-0"),
    dw(4, 5, 20, signed_zeros=True, clamp="upper+0"),
    # 5x5: the same sweep around its window.
    dw(1, 1, 3, k=5),
    dw(3, 2, 8, k=5, clamp="relu"),
    dw(5, 5, 9, k=5, pads=(0, 0, 0, 0)),
    dw(7, 9, 16, k=5, strides=(2, 2)),
    dw(8, 11, 17, k=5, strides=(1, 2), pads=(2, 0, 1, 3), clamp="relu6"),
    dw(9, 12, 24, k=5, strides=(2, 1), pads=(0, 2, 2, 0), bias=False),
    dw(6, 13, 31, k=5, clamp="inverted"),
    dw(10, 10, 32, k=5, strides=(2, 2), pads=(1, 1, 2, 2)),
    dw(4, 7, 36, k=5),
    dw(5, 8, 24, k=5, n=2, pads=(4, 4, 4, 4)),          # windows mostly in the padding
    dw(1, 9, 20, k=5),                                  # one input row
    dw(20, 20, 48, k=5, clamp="relu"),                  # several tasks
    dw(6, 7, 5, k=5, signed_zeros=True),
    # Outside the specializations: the reference kernel runs.
    dw(6, 6, 6, dilations=(2, 2), pads=(2, 2, 2, 2)),
    dw(9, 9, 8, strides=(3, 3)),
    dw(8, 8, 4, k=7),
    dw(5, 5, 4, multiplier=2),
    dw(5, 5, 8, weight_const=False),
]


def signed_zero_weights(c: int, k: int) -> np.ndarray:
    """Weights for a zero input and a bias of -0: positive on the window's top row and left column,
    negative elsewhere. The top-left pixel's taps inside the input are all negative (products of
    -0, so the reference gives -0) and its padded taps are positive: adding +0 * w for those
    would give +0."""
    w = -np.ones((c, k, k, 1), np.float32)
    w[:, 0, :, :] = w[:, :, 0, :] = 1.0
    return w


def add_case(g: Graph, i: int, case: Case) -> dict:
    """Add the case's input, weights and node to g (tensor names suffixed with i); return its
    feeds."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    c = case.x_shape[3]
    cout = c * case.multiplier
    w_shape = (cout, case.k, case.k, 1)
    if case.signed_zeros:
        x = np.zeros(case.x_shape, np.float32)
        w = signed_zero_weights(cout, case.k)
        bias = np.full(cout, -0.0, np.float32)
    else:
        x = rng.standard_normal(case.x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        bias = rng.standard_normal(cout).astype(np.float32)
    feeds = {g.add_input(f"x{i}", x.shape): x}
    if case.weight_const:
        order = [f"x{i}", g.add_const(f"w{i}", w)]
    else:
        order = [f"x{i}", g.add_input(f"w{i}", w.shape)]
        feeds[order[1]] = w
    if case.bias:
        order.append(g.add_const(f"b{i}", bias))
    attrs = dict(strides=case.strides, dilations=case.dilations, pads=case.pads, group=c,
                 **CLAMP_ATTRS[case.clamp])
    (y,) = g.add_node("conv2d", order, attrs, name=f"dw{i}", outputs=[f"y{i}"])
    g.outputs.append(y)
    return feeds


@dataclass
class Prepared:
    """The graph of every case on disk, its inputs and the host reference kernel's outputs."""

    model: Path
    inputs: dict      # name -> .npy path
    want: dict        # output name -> the host's output


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    """Every case in one graph, written, with its inputs and reference outputs, once a module."""
    out = tmp_path_factory.mktemp("neon_f32_dw")
    g = Graph()
    feeds = {}
    for i, case in enumerate(CASES):
        feeds.update(add_case(g, i, case))
    model = write(g, out / "dw_cases.tem")
    inputs = {}
    for name, value in feeds.items():
        inputs[name] = out / f"{name}.npy"
        np.save(inputs[name], value)
    host = runtime.load(model)
    outputs = host.run([feeds[t.name] for t in host.inputs])
    return Prepared(Path(model), inputs, dict(zip([t.name for t in host.outputs], outputs)))


TRACE_RECORD = re.compile(r"^\d+\t\d+\t")


def first_difference(got: np.ndarray, want: np.ndarray) -> Optional[str]:
    """None when got and want are the same float32 bits; else where and how they differ."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"shape/dtype {got.shape} {got.dtype}, want {want.shape} {want.dtype}"
    bad = np.flatnonzero(got.view(np.uint32).ravel() != want.view(np.uint32).ravel())
    if bad.size == 0:
        return None
    j = bad[0]
    return (f"{bad.size} of {got.size} values differ, first at flat index {j}: got "
            f"{got.ravel()[j]!r}, want {want.ravel()[j]!r}")


@pytest.mark.parametrize("board_name,toolchain,threads", RUNS)
def test_neon_f32_depthwise_kernels_match_reference(board_name, toolchain, threads, prepared,
                                                    request, tmp_path):
    """Every case on one runner: the expected kernel ran, and its bits equal the reference's."""
    board, exe = runner(board_name, toolchain, cross_cache(request.config))
    args = [a for name, path in prepared.inputs.items() for a in ("--input", f"{name}={path}")]
    done = run_emulated(board, exe, prepared.model, *args, "--output-dir", tmp_path, "--iters", "1",
                        "--warmup", "0", "--threads", threads, "--trace", "-",
                        cpu=BOARDS[board_name])
    assert done.returncode == 0, f"under qemu -cpu {BOARDS[board_name]}: {done.stderr}"
    kernels = {rec[2]: rec[4] for rec in (line.split("\t") for line in done.stdout.splitlines()
                                          if TRACE_RECORD.match(line))}
    failures = []
    for i, case in enumerate(CASES):
        kernel = kernels.get(f"dw{i}")
        if kernel != case.kernel:
            failures.append(f"{case.id}: kernel {kernel}, expected {case.kernel}")
            continue
        diff = first_difference(np.load(tmp_path / f"y{i}.npy"), prepared.want[f"y{i}"])
        if diff:
            failures.append(f"{case.id} ({kernel}): {diff}")
    where = f"{len(failures)} of {len(CASES)} cases on {board_name} ({toolchain})"
    assert not failures, f"{where}:\n" + "\n".join(failures)
