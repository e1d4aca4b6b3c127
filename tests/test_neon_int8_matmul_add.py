"""The NEON INT8 matmul and broadcasting add under qemu are bit-exact with the reference kernels.

te_matmul_s8_4x8__neon packs b as int16 (b - z_b) with columns rounded up to 8 and takes 4 rows by
8 columns by 8 k per step (then single rows, single k, and padding columns computed but not
stored); te_add_s8_c8__neon walks the reference's collapsed broadcast loop and runs 8 elements per
step along a row where each input either steps by one (a same-shape add, a per-channel vector
against an NHWC tensor) or stays on one value (a scalar, a per-pixel value over channels), then a
scalar tail. The sweep walks rows, k and columns below, at and above those tiles, batch dims that
broadcast on either side, b constant or computed at run time, zero points over all of int8,
either add input's scale the larger, fused clamps, and every broadcast pattern the add accepts.
Patterns it refuses (rows shorter than 8 elements) and a matmul whose packed b exceeds the
kernel's scratch limit must run the reference kernel: the trace names the kernel of every branch.

Every case is one branch of a single model, so each CPU model costs one emulated run: pi4 under
Cortex-A72, pi5 under Cortex-A76 and armv7-linux under Cortex-A15. The host's outputs (the x86
reference kernels) are also checked against the numpy reference executor, the golden model.
"""
from __future__ import annotations

import numpy as np
import pytest

from cross_helpers import cross_cache, run_emulated, runner
from test_kernels_compute import CLAMPS
from test_kernels_int8_compute import assert_equal_int8, int8_values, output_scale, qp
from test_neon_f32 import trace_kernels
from tinyedge import reference, runtime
from tinyedge.format.writer import write_tem
from tinyedge.ir import Graph
from tinyedge.plan import plan_memory

BOARDS = {"pi4": "cortex-a72", "pi5": "cortex-a76", "armv7-linux": "cortex-a15"}
MATMUL_NEON, MATMUL_REF = "te_matmul_s8_4x8__neon", "te_matmul_s8__ref"
ADD_NEON, ADD_REF = "te_add_s8_c8__neon", "te_add_s8__ref"

# Matmul: (a shape, b shape, b constant, z_a, z_b, z_y, kernel).
MATMUL = [
    ((1, 1), (1, 1), True, -128, 127, 0, MATMUL_NEON),
    ((3, 5), (5, 4), True, 5, -3, 10, MATMUL_NEON),        # below every tile
    ((4, 8), (8, 8), False, 127, -128, -128, MATMUL_NEON),  # one 4x8x8 step exactly
    ((5, 9), (9, 17), True, -20, 0, 127, MATMUL_NEON),     # 4 + 1 rows, 8 + 1 k, 8 + 8 + 1 columns
    ((9, 33), (33, 13), False, 0, 64, -7, MATMUL_NEON),
    ((2, 3, 4, 16), (16, 12), True, -1, 1, 3, MATMUL_NEON),  # b shared by every batch
    ((2, 1, 5, 24), (3, 24, 7), False, 33, -90, 0, MATMUL_NEON),  # both sides broadcast
    ((4, 3), (2, 3, 20), False, -128, -128, 50, MATMUL_NEON),  # a shared
    ((6, 200), (200, 10), True, 127, 127, -100, MATMUL_NEON),  # long k, zero points at the edge
    ((2, 512), (512, 264), True, 3, -4, 0, MATMUL_REF),   # packed b 270 KB: over the limit
]
# Add: (a shape, b shape, z_a, z_y, log2(s_b / s_a), clamp, kernel).
ADD = [
    ((1, 6, 6, 13), (1, 6, 6, 13), -70, -5, 0.0, "relu", ADD_NEON),  # same shape: one row
    ((1, 4, 4, 24), (24,), 11, 0, 0.5, "none", ADD_NEON),            # per-channel vector
    ((1, 3, 3, 13), (1, 1, 1, 13), -128, 127, -2.0, "relu6", ADD_NEON),  # rows of 8 + 5
    ((1, 5, 5, 8), (1,), 127, -128, 3.0, "none", ADD_NEON),          # a scalar b
    ((1,), (2, 3, 9), 5, 9, -0.7, "inverted", ADD_NEON),             # a scalar a
    ((1, 4, 4, 16), (1, 4, 4, 1), -1, 40, 6.0, "none", ADD_NEON),    # per pixel over channels
    ((3, 1, 16), (1, 5, 16), 64, -20, -6.0, "relu", ADD_NEON),       # both broadcast
    ((4, 1), (1, 9), 0, 0, 1.5, "none", ADD_NEON),                   # column + row
    ((2, 3, 5), (3, 1), 11, 2, 0.5, "none", ADD_REF),                # rows of 5: refused
    ((6, 3), (6, 1), -9, 1, 0.0, "relu", ADD_REF),                   # rows of 3
    ((1, 7), (1,), 20, -3, -1.0, "none", ADD_REF),                   # one row of 7
]


def set_quant(g: Graph, name: str, scale: float, zero_point: int) -> None:
    g.tensors[name].quant = qp(scale, zero_point)


def matmul_branch(g: Graph, rng, i: int, case, feeds: dict) -> str:
    """One matmul branch; outputs about centred on z_y and spread over int8."""
    a_shape, b_shape, b_const, z_a, z_b, z_y, _ = case
    s_a, s_b = (float(np.float32(2.0 ** rng.uniform(-8, 2))) for _ in range(2))
    k = a_shape[-1]
    exponent = float(np.log2(40.0 / (128 * 73 * np.sqrt(k))))
    a = g.add_input(f"a_mm{i}", a_shape, "int8")
    feeds[a] = int8_values(rng, a_shape)
    set_quant(g, a, s_a, z_a)
    b_value = int8_values(rng, b_shape)
    if b_const:
        b = g.add_const(f"mm{i}_b", b_value)
    else:
        b = g.add_input(f"b_mm{i}", b_shape, "int8")
        feeds[b] = b_value
    set_quant(g, b, s_b, z_b)
    (y,) = g.add_node("matmul", [a, b], {}, name=f"mm{i}", outputs=[f"y_mm{i}"])
    set_quant(g, y, output_scale(s_a, s_b, exponent), z_y)
    return y


def add_branch(g: Graph, rng, i: int, case, feeds: dict) -> str:
    """One add branch: s_b = s_a * 2^exponent, s_y about the sum's range over 256, and b's zero
    point the one that centres the outputs on z_y (as test_neon_int8.build_add)."""
    a_shape, b_shape, z_a, z_y, exponent, clamp, _ = case
    s_a = float(np.float32(2.0 ** rng.uniform(-8, 2)))
    s_b = float(np.float32(s_a * 2.0 ** exponent))
    s_y = float(np.float32((s_a + s_b) * rng.uniform(0.7, 1.6)))
    z_b = int(np.clip(round((z_y * s_y - s_a * z_a) / s_b), -128, 127))
    a, b = g.add_input(f"a_add{i}", a_shape, "int8"), g.add_input(f"b_add{i}", b_shape, "int8")
    feeds[a], feeds[b] = int8_values(rng, a_shape), int8_values(rng, b_shape)
    set_quant(g, a, s_a, z_a)
    set_quant(g, b, s_b, z_b)
    (y,) = g.add_node("add", [a, b], dict(CLAMPS[clamp]), name=f"add{i}", outputs=[f"y_add{i}"])
    set_quant(g, y, s_y, z_y)
    return y


def sweep_model() -> tuple[Graph, dict, dict]:
    """One graph with a branch per case; its feeds; output name -> the kernel that must run it."""
    rng = np.random.default_rng(44)
    g, feeds, expect = Graph(), {}, {}
    for i, case in enumerate(MATMUL):
        expect[matmul_branch(g, rng, i, case, feeds)] = case[-1]
    for i, case in enumerate(ADD):
        expect[add_branch(g, rng, i, case, feeds)] = case[-1]
    g.outputs = list(expect)
    g.validate()
    return g, feeds, expect


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The sweep model on disk, the runner arguments that feed it, and the host's outputs."""
    out = tmp_path_factory.mktemp("neon_int8_matmul_add")
    graph, feeds, expect = sweep_model()
    path = out / "sweep.tem"
    write_tem(graph, plan_memory(graph), path, {"name": "neon_int8_matmul_add"})
    args = []
    for name, value in feeds.items():
        np.save(out / f"{name}.npy", value)
        args += ["--input", f"{name}={out / f'{name}.npy'}"]
    host = runtime.load(str(path))
    got = host.run([feeds[i.name] for i in host.inputs])
    want = dict(zip([o.name for o in host.outputs], got))
    return graph, feeds, path, args, expect, want


def test_host_matches_numpy_reference(sweep):
    """The host's outputs, which the boards must reproduce, are the golden model's."""
    graph, feeds, _, _, _, want = sweep
    golden = reference.run(graph, feeds)
    for name, value in zip(graph.outputs, golden):
        assert_equal_int8(want[name], value)


@pytest.mark.parametrize("board_name", BOARDS)
def test_neon_int8_matmul_add_match_reference(board_name, sweep, request, tmp_path):
    board, exe = runner(board_name, "zig", cross_cache(request.config))
    _, _, path, args, expect, want = sweep
    done = run_emulated(board, exe, path, *args, "--output-dir", tmp_path, "--iters", "1",
                        "--warmup", "0", "--trace", "-", cpu=BOARDS[board_name])
    assert done.returncode == 0, f"{board_name} under -cpu {BOARDS[board_name]}: {done.stderr}"

    ran = trace_kernels(done.stdout)
    wrong = {y[2:]: (ran.get(y[2:]), k) for y, k in expect.items() if ran.get(y[2:]) != k}
    assert not wrong, f"node: (kernel that ran, kernel expected): {wrong}"
    failures = []
    for name, ref in want.items():
        try:
            assert_equal_int8(np.load(tmp_path / f"{name}.npy"), ref)
        except AssertionError as e:
            failures.append(f"{name} ({ran[name[2:]]}): {e}")
    assert not failures, "\n".join(failures)
