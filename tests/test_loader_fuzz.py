"""The C loader under AddressSanitizer and UndefinedBehaviorSanitizer, on thousands of damaged files.

runtime_c/tools/fuzz_load.c is built with gcc's sanitizers into a temporary folder. Real .tem files
(small graphs covering every op, from tests/graph_zoo.py) are mutated with a fixed seed: bit flips,
random overwrites, boundary values written over fields, truncations at every section boundary and
at random, and section-table edits. Half of the variants get their file_size and checksum fixed up,
so that they pass the first checks and reach the tables, the graph rules and the kernels' prepare
and eval. The driver must finish cleanly: no sanitizer report, and one line per file that says
either "ok" or a status with a message.
"""
from __future__ import annotations

import collections
import random
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from graph_zoo import zoo
from tinyedge.format import serialize
from tinyedge.ir import QuantParams
from tinyedge.plan import plan_memory

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
STATUSES = {"format error", "version error", "checksum error", "unsupported", "shape error",
            "out of memory", "bad argument", "io error"}
SEED_GRAPHS = ["tiny_cnn", "conv2d", "conv2d_depthwise", "conv_transpose2d_grouped", "concat",
               "pad_reflect", "slice_reversed", "resize_linear", "resize_nearest", "softmax_axis1",
               "matmul", "fully_connected_rank3_nobias", "avg_pool2d", "max_pool2d", "mean", "lrn",
               "transpose", "prelu"]
VARIANTS_PER_SEED = 170  # ~3000 variants in all
BOUNDARY_U32 = [0, 1, 2, 3, 7, 8, 63, 64, 65, 255, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                0xFFFFFFFE, 0xFFFFFFFF]
BOUNDARY_U64 = [0, 1, 64, 1 << 31, 1 << 32, (1 << 32) + 64, 1 << 63, (1 << 64) - 1, (1 << 64) - 64]


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    """The sanitized fuzz driver, or a skip when gcc or its sanitizer runtimes are missing."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("fuzz_driver")
    probe = out / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    try:
        subprocess.run([gcc, *SANITIZE, str(probe), "-o", str(out / "probe")], check=True,
                       capture_output=True, timeout=120)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"gcc cannot link with -fsanitize=address,undefined (no ASan/UBSan runtime): "
                    f"{e.stderr.decode(errors='replace').strip()[:200]}")
    sources = sorted(str(p) for p in (ROOT / "runtime_c" / "src").rglob("*.c"))
    exe = out / "fuzz_load"
    subprocess.run([gcc, "-std=c99", *SANITIZE, "-I", str(ROOT / "runtime_c" / "include"),
                    "-I", str(ROOT / "runtime_c" / "src"), *sources,
                    str(ROOT / "runtime_c" / "tools" / "fuzz_load.c"), "-lm", "-pthread", "-o", str(exe)],
                   check=True, timeout=300)
    return exe


def seed_files() -> dict[str, bytes]:
    """Valid .tem files: zoo graphs, one of them with quantization records (a QUANT section)."""
    graphs = zoo()
    seeds = {}
    for name in SEED_GRAPHS:
        g = graphs[name]
        if name == "tiny_cnn":  # float kernels ignore quant parameters; the loader checks them
            x = g.tensors[g.inputs[0]]
            x.quant = QuantParams(scale=[0.05], zero_point=[3])
        seeds[name] = serialize(g, plan_memory(g), {"name": name, "source": f"{name}.onnx"})
    return seeds


def sections(data: bytes) -> list[tuple[int, int, int, int]]:
    """(entry position, kind, offset, size) of each section-table entry of a valid file."""
    count, table = struct.unpack_from("<II", data, 24)
    out = []
    for i in range(count):
        kind, _flags, off, size = struct.unpack_from("<IIQQ", data, table + 24 * i)
        out.append((table + 24 * i, kind, off, size))
    return out


def fix_up(data: bytearray) -> bytes:
    """Make file_size and the checksum agree with the bytes, so later checks are reached."""
    if len(data) >= 64:
        struct.pack_into("<Q", data, 16, len(data))
        struct.pack_into("<I", data, 32, zlib.crc32(bytes(data[64:])) & 0xFFFFFFFF)
    return bytes(data)


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One damaged variant of a valid file."""
    out = bytearray(data)
    secs = sections(data)
    kind = rng.choice(["flip", "flip", "overwrite", "field", "field", "field", "truncate_boundary",
                       "truncate_random", "table"])
    if kind == "flip":
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
    elif kind == "overwrite":
        pos = rng.randrange(len(out))
        run = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        out[pos:pos + len(run)] = run[:len(out) - pos]
    elif kind == "field":
        # A boundary value over an aligned field of a structured section (not STRINGS or WEIGHTS).
        _, sec_kind, off, size = rng.choice([s for s in secs if s[1] not in (1, 9) and s[3] >= 4]
                                            + [(0, 0, 0, 64)])
        pos = off + 4 * rng.randrange(size // 4)
        if rng.random() < 0.3 and pos + 8 <= off + size:
            struct.pack_into("<Q", out, pos, rng.choice(BOUNDARY_U64))
        else:
            nearby = struct.unpack_from("<I", out, pos)[0] + rng.choice([-1, 1])
            struct.pack_into("<I", out, pos, rng.choice(BOUNDARY_U32 + [nearby]) & 0xFFFFFFFF)
    elif kind == "truncate_boundary":
        cuts = {64, secs[0][0] + 24 * len(secs)}  # the header's and the section table's ends
        cuts |= {o for _, _, o, _ in secs} | {o + s for _, _, o, s in secs}
        cut = rng.choice(sorted(c for c in cuts if c < len(out)) or [len(out) - 1])
        cut += rng.choice([-1, 0, 0, 1])
        del out[max(cut, 0):]
    elif kind == "truncate_random":
        del out[rng.randrange(len(out)):]
    else:  # section table: kind, offset or size of one entry, or two entries swapped
        pos, _, _, _ = rng.choice(secs)
        field = rng.choice(["kind", "offset", "size", "swap"])
        if field == "kind":
            struct.pack_into("<I", out, pos, rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]))
        elif field == "offset":
            value = struct.unpack_from("<Q", out, pos + 8)[0] + rng.choice([-64, -8, 8, 64])
            struct.pack_into("<Q", out, pos + 8, rng.choice(BOUNDARY_U64 + [value % (1 << 64)]))
        elif field == "size":
            value = struct.unpack_from("<Q", out, pos + 16)[0] + rng.choice([-8, -4, -1, 1, 4, 8])
            struct.pack_into("<Q", out, pos + 16, rng.choice(BOUNDARY_U64 + [value % (1 << 64)]))
        else:
            other, _, _, _ = rng.choice(secs)
            out[pos:pos + 24], out[other:other + 24] = out[other:other + 24], out[pos:pos + 24]
    return fix_up(out) if rng.random() < 0.5 else bytes(out)


def test_fuzzed_files_load_or_fail_cleanly(driver, tmp_path):
    rng = random.Random(20240611)
    seeds = seed_files()
    batches = [tmp_path / f"batch{i}" for i in range(3)]
    for b in batches:
        b.mkdir()
    written = 0
    for name, data in seeds.items():
        (batches[0] / f"{name}.seed.tem").write_bytes(data)
        for i in range(VARIANTS_PER_SEED):
            (batches[written % 3] / f"{name}.{i:04d}.tem").write_bytes(mutate(rng, data))
            written += 1
    statuses: collections.Counter = collections.Counter()
    for batch in batches:
        files = sorted(batch.iterdir())
        proc = subprocess.run([str(driver), str(batch)], capture_output=True, text=True,
                              errors="replace", timeout=300)
        log = proc.stdout + proc.stderr
        assert "Sanitizer" not in log and "runtime error:" not in log, log[-4000:]
        assert proc.returncode == 0, log[-4000:]
        lines = proc.stdout.splitlines()
        assert len(lines) == len(files), f"{len(lines)} lines for {len(files)} files"
        for path, line in zip(files, lines):
            assert line.startswith(f"{path}: "), line
            rest = line[len(f"{path}: "):]
            if rest == "ok":
                statuses["ok"] += 1
                continue
            status, _, message = rest.partition(": ")
            assert status in STATUSES and message.strip(), f"unclean result: {line}"
            statuses[status] += 1
    assert statuses["ok"] >= len(seeds), statuses  # every seed loads, and some variants do
    # The fixed-up half must reach past the checksum: structural and kernel checks both fire.
    assert statuses["format error"] > 0 and statuses["checksum error"] > 0, statuses
    assert statuses["shape error"] + statuses["unsupported"] > 0, statuses
