"""Which kernel runs each op: the CPU's features, te_options.isa_mask and the fallback chain.

At load the runtime asks the CPU (getauxval(AT_HWCAP) on Linux) which ISAs it has, keeps those the
caller allows (`tinyedge-run --isa`), and gives each op the first kernel, best ISA first, whose
prepare accepts the op; a specialized kernel declines a shape outside its specialization and the
reference kernel takes the rest. Checked here through the runner's trace under qemu-user on a
small MobileNetV2-style network (a 3x3 stem, an inverted residual block with 1x1 and depthwise
convs, a classifier), in float32 and INT8:
- a Pi 4 (Cortex-A72: NEON, no dot product) runs NEON kernels and never a dot-product one, even
  from the pi5 build (all of it compiled for the Cortex-A76) - and does not die with SIGILL;
- a Pi 5 (Cortex-A76) runs dot-product kernels where the build has them;
- the generic aarch64 build (aarch64-linux, which android-arm64 runs) uses the dot product on a
  CPU that has it (Cortex-A76) and plain NEON on one that does not (Cortex-A53);
- `--isa ref` runs the reference kernels only, on every board, with the same outputs as the host;
- a bad `--isa` is a usage error.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import tinyedge
from cross_helpers import cross_cache, run_emulated, runner
from nets import InvertedResidual, conv_bn, export, randomize_bn
from test_neon_f32 import trace_kernels

# (runner's board, qemu CPU model, ISA suffixes of kernels that may run, one that must run).
CASES = [
    ("pi4", "cortex-a72", ("__ref", "__neon"), "__neon"),
    ("pi5", "cortex-a72", ("__ref", "__neon"), "__neon"),          # a Pi 5 build on a Pi 4
    ("pi5", "cortex-a76", ("__ref", "__neon", "__neon_dot"), "__neon"),
    ("armv7-linux", "cortex-a15", ("__ref", "__neon"), "__neon"),
    ("aarch64-linux", "cortex-a53", ("__ref", "__neon"), "__neon"),
    ("aarch64-linux", "cortex-a76", ("__ref", "__neon", "__neon_dot"), "__neon"),
]


def small_net() -> nn.Module:
    torch.manual_seed(5)
    return randomize_bn(nn.Sequential(conv_bn(3, 8, 3, 2), InvertedResidual(8, 12, 2, 6),
                                      InvertedResidual(12, 12, 1, 6), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten(), nn.Linear(12, 10)), seed=6)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    """name -> (model path, input file): the small net in float32 and INT8, and an input for it."""
    out = tmp_path_factory.mktemp("dispatch")
    onnx_path = export(small_net(), (1, 3, 20, 20), out / "net.onnx")
    rng = np.random.default_rng(8)
    calib = {"input": rng.uniform(-1, 1, (8, 3, 20, 20)).astype(np.float32)}
    x = rng.uniform(-1, 1, (1, 3, 20, 20)).astype(np.float32)
    np.save(out / "x.npy", x)
    return {
        "float32": tinyedge.build(onnx_path, out / "net.tem").path,
        "int8": tinyedge.build(onnx_path, out / "net_int8.tem", quantize="int8", calib=calib).path,
        "input": out / "x.npy",
    }


def run_traced(request, board_name, cpu, model, x_file, out_dir, *extra):
    board, exe = runner(board_name, "zig", cross_cache(request.config))
    done = run_emulated(board, exe, model, "--input", x_file, "--output-dir", out_dir, "--iters",
                        "1", "--warmup", "0", "--trace", "-", *extra, cpu=cpu)
    assert done.returncode == 0, f"{board_name} under -cpu {cpu} {extra}: exit {done.returncode}: " \
                                 f"{done.stderr[-2000:]}"
    return trace_kernels(done.stdout)


def isa_of(kernel: str) -> str:
    return "__" + kernel.rsplit("__", 1)[1]


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("board_name, cpu, allowed, needed", CASES,
                         ids=[f"{b}-{c}" for b, c, _, _ in CASES])
def test_cpu_features_choose_the_kernels(request, models, tmp_path, board_name, cpu, allowed,
                                         needed, dtype):
    kernels = run_traced(request, board_name, cpu, models[dtype], models["input"], tmp_path)
    used = {isa_of(k) for k in kernels.values()}
    assert used <= set(allowed), f"{board_name} on {cpu} ran {sorted(used - set(allowed))}: {kernels}"
    assert needed in used, f"{board_name} on {cpu}: no {needed} kernel ran: {kernels}"

    host = tinyedge.load(models[dtype])
    (want,) = host.run([np.load(models["input"])])
    got = np.load(tmp_path / f"{host.outputs[0].name}.npy")
    # Bit-identical: the NEON float kernels keep the reference's summation order
    # (FLOAT_TOLERANCE_ULPS in test_neon_f32.py), the INT8 ones are bit-exact by contract.
    assert got.tobytes() == want.tobytes(), f"{board_name} on {cpu}, {dtype}: outputs differ"


def test_generic_aarch64_build_uses_the_dot_product_where_the_cpu_has_it(request, models, tmp_path):
    """aarch64-linux is compiled for ARMv8.0, but carries the dot-product kernels (compiled for
    ARMv8.2-A, TE_WITH_NEON_DOT) and picks them at load on a CPU that reports the dot product."""
    a76 = run_traced(request, "aarch64-linux", "cortex-a76", models["int8"], models["input"],
                     tmp_path / "a76")
    assert any(k.endswith("__neon_dot") for k in a76.values()), a76


@pytest.mark.parametrize("board_name, cpu", [("pi5", "cortex-a76"), ("armv7-linux", "cortex-a15")])
def test_isa_ref_runs_only_reference_kernels(request, models, tmp_path, board_name, cpu):
    for dtype in ("float32", "int8"):
        out = tmp_path / dtype
        kernels = run_traced(request, board_name, cpu, models[dtype], models["input"], out,
                             "--isa", "ref")
        assert kernels and all(k.endswith("__ref") for k in kernels.values()), kernels
        host = tinyedge.load(models[dtype])
        (want,) = host.run([np.load(models["input"])])
        assert np.load(out / f"{host.outputs[0].name}.npy").tobytes() == want.tobytes()


def test_isa_neon_leaves_out_the_dot_product(request, models, tmp_path):
    kernels = run_traced(request, "pi5", "cortex-a76", models["int8"], models["input"], tmp_path,
                         "--isa", "ref,neon")
    assert not any(k.endswith("__neon_dot") for k in kernels.values()), kernels


@pytest.mark.parametrize("value", ["sse", "neon,", "", "ref,,neon"])
def test_bad_isa_is_a_usage_error(request, models, value):
    board, exe = runner("pi4", "zig", cross_cache(request.config))
    done = run_emulated(board, exe, models["float32"], "--isa", value)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr.startswith("tinyedge-run: --isa") and done.stderr.count("\n") == 1, done.stderr
