"""The NEON float32 kernels under qemu against the host's reference kernels, around their tiles.

te_conv2d_f32_1x1_4x8__neon, te_conv2d_f32_kxk_4x8__neon, te_fully_connected_f32_4x8__neon and
te_matmul_f32_4x8__neon are the 4x8 GEMM of gemm_f32_4x8.h (4 rows, 8 output channels, inputs 4 k
at a time; tails of 4 channels, then 1, of single rows, and of k mod 4 inputs). The depthwise
kernels have their own sweep (test_neon_f32_dw.py).
The KxK conv runs each output row's interior pixels as one GEMM per window row (or per tap, when
groups or column dilation break the (kx, ic) run) and each border pixel alone with its clipped taps.
The sweep walks channel, row, pixel and k counts below, at and above those tiles, strides 1 and 2,
dilations, groups, pads that put windows over every border and wholly into the padding, batch 2,
fused clamps, and matmul batch dims that broadcast on either side with b constant or computed at
run time. Every case is one branch of a single model (its own input and output), so each CPU model
costs one emulated run: the pi4 runner under Cortex-A72, pi5 under Cortex-A76 and armv7-linux under
Cortex-A15. The trace says which kernel ran each branch: a shape outside the kernels'
specializations (a conv weight computed at run time) must fall back to te_conv2d_f32__ref.
"""
from __future__ import annotations

import numpy as np
import pytest

from cross_helpers import cross_cache, run_emulated, runner
from test_kernels_compute import write
from tinyedge import runtime
from tinyedge.ir import Graph

# Tolerance of a NEON float kernel against te_*_f32__ref, in units in the last place: zero. The
# NEON kernels vectorize across output channels and register-block across rows/pixels, but each
# output still takes its terms one at a time in the reference's order (bias, then k or (ky, kx)
# ascending, padding adding no term), with a separate multiply and add (no FMA; the build passes
# -ffp-contract=off), and clamp by compare-and-select as te_clampf. The KxK conv splits a sum over
# several GEMM calls, but the running value is float32 in registers and in memory alike, so the
# split changes nothing. So the sums round identically and the outputs are bit-identical; a looser
# bound would hide a changed summation order.
FLOAT_TOLERANCE_ULPS = 0

BOARDS = {"pi4": "cortex-a72", "pi5": "cortex-a76", "armv7-linux": "cortex-a15"}
REF = "te_conv2d_f32__ref"
KXK = "te_conv2d_f32_kxk_4x8__neon"
NO_CLAMP = (float("-inf"), float("inf"))
RELU6 = (0.0, 6.0)

# 1x1 conv: (batch, in channels, out channels, stride, h, w, pads, clamp). Pixels per image
# (h * w / stride^2) and out channels around 4 and 8.
POINTWISE = [
    (1, 1, 1, 1, 1, 1, (0, 0, 0, 0), NO_CLAMP),
    (1, 3, 4, 1, 1, 3, (0, 0, 0, 0), NO_CLAMP),   # 3 rows: no full 4-row tile
    (1, 8, 8, 1, 2, 2, (0, 0, 0, 0), NO_CLAMP),   # one 4x8 tile exactly
    (1, 5, 9, 1, 3, 3, (0, 0, 0, 0), RELU6),      # 9 rows, 9 channels: 8 + 1
    (2, 17, 12, 1, 3, 2, (0, 0, 0, 0), NO_CLAMP),  # 8 + 4 channels, batch 2
    (1, 16, 15, 1, 5, 1, (0, 0, 0, 0), RELU6),    # 8 + 4 + 3
    (1, 4, 3, 1, 4, 4, (0, 0, 0, 0), NO_CLAMP),   # only the scalar column tail
    (1, 7, 17, 2, 5, 7, (0, 0, 0, 0), NO_CLAMP),  # strided: each output row its own GEMM
    (2, 9, 8, 2, 4, 9, (0, 0, 0, 0), RELU6),
    (1, 32, 24, 1, 4, 5, (0, 0, 0, 0), NO_CLAMP),  # MobileNet-like widths
    (1, 4, 8, 1, 3, 3, (1, 0, 0, 1), NO_CLAMP),   # padded 1x1: the KxK kernel's
]
# General conv: (batch, in channels, out channels, kernel, stride, dilation, group, h, w, pads,
# clamp). Interior runs of 1..9 pixels, k per GEMM call (kw * ci, or ci) below and above 4.
GENERAL = [
    (1, 3, 8, (3, 3), (2, 2), (1, 1), 1, 9, 9, (0, 0, 1, 1), RELU6),   # MobileNet's stem, "same"
    (1, 3, 16, (3, 3), (1, 1), (1, 1), 1, 5, 7, (1, 1, 1, 1), NO_CLAMP),
    (2, 5, 9, (3, 3), (1, 1), (1, 1), 1, 6, 6, (0, 0, 0, 0), NO_CLAMP),  # no border: all interior
    (1, 1, 2, (3, 3), (1, 1), (1, 1), 1, 4, 4, (1, 1, 1, 1), NO_CLAMP),  # k = 3 per call: scalar
    (1, 8, 13, (5, 5), (1, 1), (1, 1), 1, 7, 11, (2, 2, 2, 2), RELU6),  # 8 + 4 + 1 channels
    (1, 4, 12, (2, 3), (2, 1), (1, 1), 1, 6, 5, (0, 1, 1, 1), NO_CLAMP),  # asymmetric window
    (1, 6, 17, (3, 3), (1, 1), (2, 2), 1, 9, 9, (2, 2, 2, 2), NO_CLAMP),  # dilated rows
    (1, 4, 8, (3, 3), (1, 2), (1, 2), 1, 5, 10, (1, 2, 1, 2), RELU6),   # column dilation: per tap
    (1, 8, 12, (3, 3), (1, 1), (1, 1), 2, 5, 6, (1, 1, 1, 1), NO_CLAMP),  # 2 groups of 6 outputs
    (1, 12, 24, (3, 3), (2, 2), (1, 1), 3, 7, 7, (1, 1, 1, 1), RELU6),  # 3 groups of 8
    (1, 4, 8, (3, 3), (1, 1), (1, 1), 4, 4, 5, (1, 1, 1, 1), NO_CLAMP),  # channel multiplier 2
    (1, 5, 7, (3, 3), (1, 1), (1, 1), 1, 2, 2, (3, 3, 3, 3), NO_CLAMP),  # windows wholly in pads
    (1, 16, 32, (3, 3), (1, 1), (1, 1), 1, 10, 13, (1, 1, 1, 1), RELU6),  # runs of 11 pixels
    (1, 7, 5, (1, 3), (1, 1), (1, 1), 1, 3, 8, (0, 1, 0, 1), NO_CLAMP),
]
# Matmul: (a shape, b shape, b constant). Batch dims broadcast as numpy's.
MATMUL = [
    ((1, 1), (1, 1), True),
    ((3, 5), (5, 4), True),
    ((4, 7), (7, 8), False),
    ((5, 9), (9, 17), True),      # 4 + 1 rows, 8 + 8 + 1 columns, k 4 + 4 + 1
    ((9, 33), (33, 13), False),   # 8 + 4 + 1 columns
    ((2, 3, 4, 6), (6, 12), True),  # b shared by every batch
    ((2, 1, 5, 8), (3, 8, 12), False),  # both sides broadcast
    ((4, 3), (2, 3, 20), False),  # a shared
    ((2, 6, 3), (2, 3, 2), False),  # only the scalar column tail
]
# Fully connected: (rows, k, n, clamp).
DENSE = [
    (1, 1, 1, NO_CLAMP),
    (1, 16, 10, NO_CLAMP),
    (3, 5, 4, RELU6),
    (4, 7, 8, NO_CLAMP),
    (5, 9, 17, NO_CLAMP),
    (9, 33, 13, RELU6),
]


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def sweep_model() -> tuple[Graph, dict[str, np.ndarray], dict[str, str]]:
    """One graph with a branch per case; its feeds; output name -> the kernel that must run it."""
    rng = np.random.default_rng(20)
    g, feeds, expect = Graph(), {}, {}

    def branch(name, x_shape, op, consts, attrs, kernel):
        x = g.add_input(f"x_{name}", x_shape)
        feeds[x] = rand(rng, *x_shape)
        names = [g.add_const(f"{name}_{i}", c) for i, c in enumerate(consts)]
        (y,) = g.add_node(op, [x, *names], attrs, name=name, outputs=[f"y_{name}"])
        expect[y] = kernel

    for i, (n, c, o, s, h, w, pads, (lo, hi)) in enumerate(POINTWISE):
        kernel = "te_conv2d_f32_1x1_4x8__neon" if not any(pads) else KXK
        branch(f"pw{i}", (n, h, w, c), "conv2d", [rand(rng, o, 1, 1, c), rand(rng, o)],
               dict(strides=(s, s), pads=pads, act_min=lo, act_max=hi), kernel)
    for i, (n, c, o, k, s, d, grp, h, w, pads, (lo, hi)) in enumerate(GENERAL):
        consts = [rand(rng, o, *k, c // grp)] + ([rand(rng, o)] if i % 3 != 1 else [])
        branch(f"cv{i}", (n, h, w, c), "conv2d", consts,
               dict(strides=s, dilations=d, pads=pads, group=grp, act_min=lo, act_max=hi), KXK)
    for i, (a_shape, b_shape, b_const) in enumerate(MATMUL):
        a = g.add_input(f"x_mm{i}", a_shape)
        feeds[a] = rand(rng, *a_shape)
        if b_const:
            b = g.add_const(f"mm{i}_b", rand(rng, *b_shape))
        else:
            b = g.add_input(f"b_mm{i}", b_shape)
            feeds[b] = rand(rng, *b_shape)
        (y,) = g.add_node("matmul", [a, b], {}, name=f"mm{i}", outputs=[f"y_mm{i}"])
        expect[y] = "te_matmul_f32_4x8__neon"
    for i, (m, k, n, (lo, hi)) in enumerate(DENSE):
        consts = [rand(rng, n, k)] + ([rand(rng, n)] if i % 2 == 0 else [])  # with and without bias
        branch(f"fc{i}", (m, k), "fully_connected", consts, dict(act_min=lo, act_max=hi),
               "te_fully_connected_f32_4x8__neon")
    # A weight computed at run time: the NEON kernels pack at load, so they decline it.
    x, wt = g.add_input("x_rtw", (1, 3, 3, 8)), g.add_input("w_rtw", (8, 1, 1, 8))
    feeds[x], feeds[wt] = rand(rng, 1, 3, 3, 8), rand(rng, 8, 1, 1, 8)
    (y,) = g.add_node("conv2d", [x, wt], {}, name="rtw", outputs=["y_rtw"])
    expect[y] = REF
    g.outputs = list(expect)
    return g, feeds, expect


def trace_kernels(stdout: str) -> dict[str, str]:
    """Node name -> kernel from the records of a `--trace -` run (docs/trace.md)."""
    kernels = {}
    for line in stdout.splitlines():
        if line[:1].isdigit():
            fields = line.split("\t")
            kernels[fields[2]] = fields[4]
    return kernels


def ulps_apart(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Distance in units in the last place of float32 values (on the ordered integer line)."""
    def ordered(a):
        i = a.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(got) - ordered(want))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The sweep model, its input files and the runner arguments that feed them."""
    out = tmp_path_factory.mktemp("neon_f32")
    graph, feeds, expect = sweep_model()
    path = write(graph, out / "sweep.tem")
    args = []
    for name, value in feeds.items():
        np.save(out / f"{name}.npy", value)
        args += ["--input", f"{name}={out / f'{name}.npy'}"]
    host = runtime.load(path)
    want = dict(zip([o.name for o in host.outputs], host.run([feeds[i.name] for i in host.inputs])))
    return path, args, expect, want


@pytest.mark.parametrize("board_name", BOARDS)
def test_neon_f32_kernels_match_reference(board_name, sweep, request, tmp_path):
    board, exe = runner(board_name, "zig", cross_cache(request.config))
    path, args, expect, want = sweep
    done = run_emulated(board, exe, path, *args, "--output-dir", tmp_path, "--iters", "1",
                        "--warmup", "0", "--trace", "-", cpu=BOARDS[board_name])
    assert done.returncode == 0, f"{board_name} under -cpu {BOARDS[board_name]}: {done.stderr}"

    ran = trace_kernels(done.stdout)
    wrong = {y[2:]: (ran.get(y[2:]), k) for y, k in expect.items() if ran.get(y[2:]) != k}
    assert not wrong, f"node: (kernel that ran, kernel expected): {wrong}"
    for name, ref in want.items():
        got = np.load(tmp_path / f"{name}.npy")
        assert got.shape == ref.shape and got.dtype == ref.dtype
        ulps = ulps_apart(got, ref)
        bad = np.flatnonzero(ulps.ravel() > FLOAT_TOLERANCE_ULPS)
        assert bad.size == 0, (f"{name} ({ran[name[2:]]}): {bad.size} of {got.size} values off, "
                               f"first at flat index {bad[0]}: got {got.ravel()[bad[0]]!r}, "
                               f"want {ref.ravel()[bad[0]]!r}; worst {ulps.max()} ulps")
