"""The AVX2 INT8 kernels (1x1 and KxK conv2d, fully connected, depthwise 3x3 and 5x5) on this
x86-64 machine are bit-exact with the portable reference kernels and the numpy reference.

Each matrix-product case is a one-op INT8 graph (built as test_neon_int8.py builds its cases, from
the helpers of test_kernels_int8_compute.py) written as a .tem file and loaded twice with the C
runtime: as `tinyedge.load` loads it (every ISA the CPU has: the AVX2 kernel must be the one
chosen, by name) and with te_options.isa_mask restricted to the reference kernels (themselves
checked bit for bit against the numpy reference in test_kernels_int8_compute.py). The outputs must
be equal byte for byte, with one thread and with two (tasks split the rows and channels). The
depthwise cases are the nodes of one graph, compared with tinyedge.reference (numpy). The host
runner (tinyedge-run built by tinyedge.cross for the host) must pick the same kernels and write the
same bytes as with `--isa ref`.

The sweeps walk sizes around the kernels' tiles. The matrix product takes 3 rows by 8 output
channels by 8 inputs per step (the last k mod 8 inputs in a zero-padded step), rows left over in a
2- or 1-row tile, tasks of row blocks of one 8-channel tile, and the KxK kernel copies blocks of 12
output pixels' windows. So rows 1..13 and many, channels below, at and above 8 and 16, inputs from
1 to past 32 with every remainder mod 8, windows 1x1 to 7x7 and non-square, strides, dilation,
every pad style, images smaller than the window, zero points over all of int8, per-channel and per-
tensor weights, fused clamps (an inverted one included), multipliers from below 2^-32 (every output
z_y) to above 1 (a positive shift), accumulators at the edge of int32, with a positive shift too
(the left shift saturates). The depthwise kernels take 16 channels per step, then 8, then a scalar
tail, over test_neon_int8_dw.py's sweep. Nodes outside the specializations must fall back to the
reference kernel.
"""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tinyedge
from test_kernels_int8_compute import assert_equal_int8
from test_neon_int8 import Case, build_case, conv1x1, fc, kxk
from test_neon_int8_dw import CASES as NEON_DW_CASES
from test_neon_int8_dw import add_case, dw
from tinyedge import reference
from tinyedge.format.writer import write_tem
from tinyedge.ir import Graph
from tinyedge.plan import plan_memory

runtime = pytest.importorskip("tinyedge.runtime", reason="the C runtime extension is not built")
from tinyedge._runtime import ffi, lib  # noqa: E402


def cpu_has_avx2() -> bool:
    """What te_cpu_isas asks for: AVX2 and FMA (Linux: the flags /proc/cpuinfo lists)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


pytestmark = pytest.mark.skipif(not cpu_has_avx2(),
                                reason="this CPU has no AVX2 and FMA (or is not x86-64): the AVX2 "
                                       "kernels are never chosen here")

REF_CONV = "te_conv2d_s8__ref"
EXPECTED = {
    "conv1x1": "te_conv2d_s8_1x1_3x8c8__avx2",
    "fc": "te_fully_connected_s8_3x8c8__avx2",
    "kxk": "te_conv2d_s8_kxk_3x8c8__avx2",
    "fallback": REF_CONV,
}

CASES = [
    # 1x1 conv: pixels 1..10 (the 3-row tile and 2 or 1 rows left over), inputs with every
    # remainder mod 8, outputs around 8 and 16.
    conv1x1(1, 1, 1, z_x=-128, z_y=127),
    conv1x1(2, 7, 3, z_x=5, clamp="relu"),
    conv1x1(3, 8, 8, z_x=-3, per_channel=False),
    conv1x1(4, 9, 7, z_x=127, z_y=-128, clamp="relu6"),
    conv1x1(5, 15, 9, z_x=-77, bias=False),
    conv1x1(6, 16, 15, z_x=33, exponent=-40.0),
    conv1x1(7, 17, 16, z_x=-1, exponent=3.0),
    conv1x1(8, 23, 17, z_x=64, clamp="inverted"),
    conv1x1(9, 31, 24, n=3, z_x=-128, z_y=-20, clamp="relu6"),
    conv1x1(10, 33, 33, n=2, z_x=12, exponent=-16.0),
    conv1x1(11, 2, 5, z_x=90, z_y=4),
    conv1x1(13, 4, 12, z_x=-50, exponent=0.5),
    conv1x1(49, 96, 17, z_x=12, exponent=-16.0),
    conv1x1(3, 40, 7, z_x=-128, edge_bias=True, exponent=-26.5),
    conv1x1(4, 24, 6, z_x=127, edge_bias=True, exponent=-26.5),
    conv1x1(5, 13, 11, z_x=-128, edge_bias=True, exponent=-26.5),
    conv1x1(4, 19, 9, z_x=-128, edge_bias=True, exponent=4.0),  # the left shift saturates
    conv1x1(196, 24, 36, z_x=-128, clamp="relu6"),      # several tasks of rows by channels
    conv1x1(49, 160, 18, z_x=-60, z_y=10),
    conv1x1(64, 3, 40, z_x=7, per_channel=False, clamp="relu"),
    # KxK: windows 1x1 (strided, padded) to 7x7 and non-square, window sizes kh*kw*c with every
    # remainder mod 8, pixel counts around the 12-pixel im2col block and the 3-row tile, strides,
    # dilation, pads of every style, images smaller than the window.
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
    kxk(4, 3, 1, 17, k=(3, 3), z_x=11, z_y=2),                           # 12 pixels, k = 9
    kxk(5, 5, 17, 17, n=2, z_x=20, z_y=-20, clamp="relu6"),
    kxk(4, 5, 24, 6, z_x=127, edge_bias=True, exponent=-26.5),
    kxk(3, 3, 5, 8, pads=(1, 1, 1, 1), z_x=-128, edge_bias=True, exponent=-26.5),
    kxk(14, 14, 8, 24, strides=(2, 2), z_x=-40),                         # several tasks
    kxk(3, 5, 4, 10, z_x=-128, edge_bias=True, exponent=2.0),            # saturating left shift
    # fully connected: rows 1..7, K with every remainder mod 8, N around 8 and 16.
    fc((1,), 1, 1, z_x=-128),
    fc((2,), 8, 3, z_x=7, clamp="relu"),
    fc((3,), 15, 8, z_x=-9, per_channel=False),
    fc((1, 4), 16, 9, z_x=127, bias=False),
    fc((5,), 17, 16, z_x=-31, exponent=2.0),
    fc((2, 3), 40, 10, z_x=0, clamp="relu6"),
    fc((7,), 5, 17, z_x=100, z_y=-100),
    fc((1,), 100, 13, z_x=-128, edge_bias=True, exponent=-26.5),
    fc((9,), 33, 21, z_x=50, z_y=-3, clamp="relu6"),
    fc((1,), 1280, 250, z_x=-7),                         # MobileNetV2's classifier: several tasks
    fc((4,), 62, 31, z_x=-100, exponent=-40.0),
    fc((2,), 27, 12, z_x=127, edge_bias=True, exponent=1.0),     # the left shift saturates
    # Outside the specializations: the reference kernel runs, with the same bytes.
    Case("fallback", (1, 5, 5, 6), (4, 3, 3, 3), pads=(1, 1, 1, 1), group=2, z_x=3),  # 2 groups
]


def load_ref_only(path: Path) -> tinyedge.runtime.Model:
    """The model loaded with te_options.isa_mask = the reference ISA only."""
    options = ffi.new("te_options *")
    options.threads = 1
    options.isa_mask = 1 << lib.TE_ISA_REF
    out = ffi.new("te_model **")
    err = ffi.new("char[]", 512)
    status = lib.te_model_load_file(os.fsencode(str(path)), options, out, err, 512)
    assert status == lib.TE_OK, ffi.string(err).decode()
    return tinyedge.runtime.Model(out[0], str(path))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> list:
    """Every case written once for the module: (case, model path, feeds)."""
    out = tmp_path_factory.mktemp("avx2_int8")
    cases = []
    for i, case in enumerate(CASES):
        path = out / f"case{i}.tem"
        cases.append((case, path, build_case(case, path)))
    return cases


@pytest.mark.parametrize("threads", [1, 2])
def test_avx2_kernels_match_reference(written, threads):
    """Every case: the expected kernel ran, and its bytes equal the reference kernel's."""
    failures = []
    for case, path, feeds in written:
        model = tinyedge.load(path, threads=threads)
        ref = load_ref_only(path)
        assert ref.ops[0].kernel.endswith("__ref"), ref.ops
        if model.ops[0].kernel != EXPECTED[case.family]:
            failures.append(f"{case.id}: kernel {model.ops[0].kernel}, expected "
                            f"{EXPECTED[case.family]}")
            continue
        order = [feeds[info.name] for info in model.inputs]
        for got, want in zip(model.run(order), ref.run(order)):
            try:
                assert_equal_int8(got, want)
            except AssertionError as e:
                failures.append(f"{case.id} ({model.ops[0].kernel}): {e}")
    assert not failures, f"{len(failures)} of {len(written)} cases:\n" + "\n".join(failures)


def test_host_runner_picks_avx2_and_matches_isa_ref(written, request, tmp_path):
    """tinyedge-run for the host (built with the AVX2 folder's flags) names the AVX2 kernels in its
    trace and writes the same bytes as with --isa ref."""
    from cross_helpers import cross_cache
    from tinyedge.boards import load_board
    from tinyedge.cross import ToolchainError, build_runner

    try:
        exe = build_runner(load_board("host"), cache=cross_cache(request.config)).path
    except ToolchainError as e:
        pytest.skip(f"no host C compiler: {e}")
    picked = [w for w in written if w[0].family != "fallback"][::4]
    for case, path, feeds in picked:
        inputs = []
        for name, value in feeds.items():
            np.save(tmp_path / f"{name}.npy", value)
            inputs += ["--input", f"{name}={tmp_path / f'{name}.npy'}"]
        outputs = {}
        for isa in ("all", "ref"):
            out_dir = tmp_path / f"{path.stem}-{isa}"
            done = subprocess.run([str(exe), str(path), *inputs, "--output-dir", str(out_dir),
                                   "--iters", "1", "--warmup", "0", "--trace", "-", "--isa", isa],
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{case.id} --isa {isa}: {done.stderr}"
            kernels = [line.split("\t")[4] for line in done.stdout.splitlines()
                       if line[:1].isdigit()]
            want_kernel = EXPECTED[case.family] if isa == "all" else None
            assert len(kernels) == 1 and (kernels[0] == want_kernel or
                                          (isa == "ref" and kernels[0].endswith("__ref"))), \
                (case.id, isa, kernels)
            outputs[isa] = sorted(out_dir.glob("*.npy"))
        assert [p.name for p in outputs["all"]] == [p.name for p in outputs["ref"]]
        for got, want in zip(outputs["all"], outputs["ref"]):
            assert_equal_int8(np.load(got), np.load(want))


# Depthwise: test_neon_int8_dw.py's sweep (channels 2..48 around the 16- and 8-channel steps and
# the scalar tail, strides, every pad style, images smaller than the window, 3x3 and 5x5, and
# nodes outside the specialization), plus MobileNetV2-sized layers.
DW_CASES = NEON_DW_CASES + [
    dw(14, 14, 96, strides=(2, 2), pads=(0, 0, 1, 1), z_x=-128, clamp="relu6"),
    dw(7, 7, 160, z_x=5, z_y=-3, clamp="relu6"),
    dw(10, 9, 57, k=5, n=2, z_x=-2, exponent=0.7),
    dw(5, 4, 27, z_x=127, edge_bias=True, exponent=3.0),          # the left shift saturates
]


def dw_kernel(case) -> str:
    """The kernel this machine must pick: the NEON suite's choice, with AVX2 for NEON."""
    return case.kernel.replace("__neon", "__avx2")


@pytest.mark.parametrize("threads", [1, 2])
def test_avx2_depthwise_matches_numpy_reference(tmp_path, threads):
    """Every depthwise case as one node of one graph: the expected kernel ran, and its bytes equal
    the numpy reference's (tinyedge.reference)."""
    g = Graph()
    feeds = {}
    for i, case in enumerate(DW_CASES):
        feeds.update(add_case(g, i, case))
    g.validate()
    path = tmp_path / "dw_cases.tem"
    write_tem(g, plan_memory(g), path, {"name": "avx2_int8_dw_test"})
    model = tinyedge.load(path, threads=threads)
    want = reference.run(g, feeds)
    got = model.run([feeds[info.name] for info in model.inputs])
    failures = []
    for i, case in enumerate(DW_CASES):
        if model.ops[i].kernel != dw_kernel(case):
            failures.append(f"{case.id}: kernel {model.ops[i].kernel}, expected {dw_kernel(case)}")
            continue
        try:
            assert_equal_int8(got[i], want[i])
        except AssertionError as e:
            failures.append(f"{case.id} ({model.ops[i].kernel}): {e}")
    assert not failures, f"{len(failures)} of {len(DW_CASES)} cases:\n" + "\n".join(failures)
