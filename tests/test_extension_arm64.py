"""tinyedge's Python extension built for an aarch64 board runs `tinyedge.load(...).run` there.

`pip install` on a Pi compiles tinyedge._runtime with the board's compiler: the flags of the board's
Python (sysconfig CC, CFLAGS, CCSHARED, LDSHARED) and, per runtime source, the flags
tinyedge/_runtime_build.py gives it on an aarch64 machine (source_flags("aarch64"): NEON kernels,
kernels/neon_dot/ for ARMv8.2-A with the dot product). This test does the same build with Debian's
aarch64 cross gcc against the headers of a Debian arm64 Python (scripts/arm64_python.sh builds that
root, once, as `make test` does as root), puts the `.so` into a copy of the tinyedge package, and
runs that root's python3.11 under qemu-user on a Pi 4 CPU (cortex-a72, no dot product) and a Pi 5
CPU (cortex-a76, dot product). The root holds only the stdlib, numpy and the cffi backend, so the
run also shows that load/run need nothing else on the board.

The reference is the host's extension (x86: the portable kernels): outputs of the example CNN,
float32 and INT8, must be identical byte for byte (the float kernels sum in a fixed order without FMA
contraction), and every conv and fully connected op must report the NEON kernel the CPU allows.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import tinyedge
from nets import randomize_bn
from tinyedge import _runtime_build as runtime_build  # the extension's FFI and per-file flags

REPO = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(REPO / "examples" / "digits"))
import train as digits  # noqa: E402  (the example model's definition and data)

SCRIPT = REPO / "scripts" / "arm64_python.sh"
CROSS_CC = "aarch64-linux-gnu-gcc"
BOARD_PYTHON = "usr/bin/python3.11"
CPUS = ("cortex-a72", "cortex-a76")
MODELS = ("cnn_float", "cnn_int8")
QEMU_TIMEOUT = 300

# Run by the board's Python: load each model, run it on the given inputs, save the outputs and
# report each op's kernel and which modules outside the stdlib were imported.
BOARD_SCRIPT = r"""
import json, sys, sysconfig
before = set(sys.modules)
import numpy as np
import tinyedge

job = json.load(open(sys.argv[1]))
report = {}
for name, m in job["models"].items():
    model = tinyedge.load(m["path"])
    outputs = model.run([np.load(p) for p in m["inputs"]])
    np.savez(m["outputs"], *outputs)
    report[name] = {"ops": [[op.op, op.kernel] for op in model.ops]}
stdlib = tuple(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib"))
report["modules"] = sorted({n.split(".")[0] for n, m in list(sys.modules.items()) if n not in before
                            and not (getattr(m, "__file__", None) or stdlib[0]).startswith(stdlib)})
json.dump(report, open(job["report"], "w"))
"""


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def board_root() -> Path:
    """The arm64 Python root; skips (saying how to get it) when it is missing. Never downloads."""
    for tool, package in (("qemu-aarch64", "qemu-user"), (CROSS_CC, "gcc-aarch64-linux-gnu")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: apt-get install {package} (make test does it as root)")
    env_root = os.environ.get("TINYEDGE_ARM64_ROOT")
    done = run(["bash", SCRIPT, "--check", *([env_root] if env_root else [])])
    if done.returncode != 0:
        pytest.skip(f"{done.stderr.strip()}; build it with `scripts/arm64_python.sh` as root (needs "
                    "debootstrap and a Debian mirror; `make test` does it when run as root)")
    return Path(done.stdout.strip())


def board_command(root: Path, cpu: str) -> list:
    """The argv prefix that runs the root's python3.11 under qemu on `cpu`."""
    return ["qemu-aarch64", "-L", root, "-cpu", cpu, root / BOARD_PYTHON]


@pytest.fixture(scope="module")
def board_sysconfig(board_root) -> dict:
    """What distutils on the board compiles and links an extension with."""
    code = ("import json, sysconfig; print(json.dumps({k: sysconfig.get_config_var(k) for k in "
            "('CC', 'CFLAGS', 'CCSHARED', 'LDSHARED', 'INCLUDEPY', 'EXT_SUFFIX')}))")
    done = run([*board_command(board_root, "cortex-a72"), "-c", code], timeout=QEMU_TIMEOUT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def compile_commands(root: Path, sysconfig: dict, wrapper: Path, objdir: Path) -> list:
    """(source, object, argv) for cffi's wrapper and every runtime source, as distutils on the board
    runs them (CC CFLAGS CCSHARED -I... -c src -o obj extra_postargs) with the host's cross gcc in
    place of the board's gcc. Python.h comes from the root; its pyconfig.h picks the aarch64 one
    under <aarch64-linux-gnu/python3.11/>, found last (-idirafter) so that the C library's headers
    stay the cross compiler's."""
    cc = [CROSS_CC, *shlex.split(sysconfig["CC"])[1:], *shlex.split(sysconfig["CFLAGS"]),
          *shlex.split(sysconfig["CCSHARED"])]
    includes = [f"-I{d}" for d in runtime_build.extension_args()["include_dirs"]]
    includes += [f"-I{root}{sysconfig['INCLUDEPY']}", f"-idirafter{root}/usr/include"]
    flags = {wrapper: runtime_build.COMPILE_ARGS, **runtime_build.source_flags("aarch64")}
    return [(src, objdir / f"{i:03d}_{src.stem}.o",
             [*cc, *includes, "-c", str(src), "-o", str(objdir / f"{i:03d}_{src.stem}.o"), *extra])
            for i, (src, extra) in enumerate(flags.items())]


def cross_build_extension(root: Path, sysconfig: dict, out: Path) -> Path:
    """tinyedge._runtime for the board, built in `out`; returns the .so."""
    wrapper = out / "_runtime.c"
    runtime_build.make_ffi().emit_c_code(str(wrapper))
    objdir = out / "obj"
    objdir.mkdir()
    commands = compile_commands(root, sysconfig, wrapper, objdir)
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for (src, _, _), done in zip(commands, pool.map(lambda c: run(c[2]), commands)):
            assert done.returncode == 0, f"{src}: {done.stderr}"
    so = out / f"_runtime{sysconfig['EXT_SUFFIX']}"
    link = [CROSS_CC, *shlex.split(sysconfig["LDSHARED"])[1:], *(o for _, o, _ in commands),
            "-lm", "-o", so, *runtime_build.LINK_ARGS]
    done = run(link)
    assert done.returncode == 0, f"link: {done.stderr}"
    return so


def build_key(sysconfig: dict) -> str:
    """What the cross build depends on: the runtime's sources, the build script and the board."""
    h = hashlib.sha256(json.dumps(sysconfig, sort_keys=True).encode())
    for p in sorted((REPO / "runtime_c" / "src").rglob("*")) + sorted((REPO / "runtime_c" / "include").rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes())
    h.update(Path(runtime_build.__file__).read_bytes())
    h.update((REPO / "tinyedge" / "cross" / "targets.py").read_bytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="module")
def board_package(request, board_root, board_sysconfig, tmp_path_factory) -> Path:
    """A directory holding a copy of the tinyedge package with the aarch64 extension in it (the
    extension is kept in the pytest cache, keyed by build_key, when the cache is on)."""
    cache_config = getattr(request.config, "cache", None)  # none under -p no:cacheprovider
    cache_root = (Path(cache_config.mkdir("tinyedge-arm64-ext")) if cache_config
                  else tmp_path_factory.mktemp("arm64_ext_cache"))
    cache = cache_root / build_key(board_sysconfig)
    so_name = f"_runtime{board_sysconfig['EXT_SUFFIX']}"
    if not (cache / so_name).is_file():
        work = tmp_path_factory.mktemp("arm64_ext")
        so = cross_build_extension(board_root, board_sysconfig, work)
        cache.mkdir(parents=True, exist_ok=True)
        os.replace(shutil.copy(so, cache / f".{so_name}.tmp"), cache / so_name)
    pkg = tmp_path_factory.mktemp("board_pkg")
    shutil.copytree(REPO / "tinyedge", pkg / "tinyedge",
                    ignore=shutil.ignore_patterns("__pycache__", "_runtime*.so", "*.pyc"))
    shutil.copy(cache / so_name, pkg / "tinyedge" / so_name)
    return pkg


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    """name -> (path of the .tem, its inputs): the example CNN in float32 and INT8."""
    out = tmp_path_factory.mktemp("arm64_models")
    onnx_path = out / "cnn.onnx"
    digits.export_onnx(randomize_bn(digits.make_model(), seed=1), onnx_path)
    calib = {"image": digits.digits_split()[0][:64]}
    paths = {"cnn_float": tinyedge.build(onnx_path, out / "cnn.tem").path,
             "cnn_int8": tinyedge.build(onnx_path, out / "cnn_int8.tem", quantize="int8",
                                        calib=calib).path}
    rng = np.random.default_rng(7)
    result = {}
    for name, path in paths.items():
        feeds = []
        for info in tinyedge.load(path).inputs:
            if np.dtype(info.dtype).kind == "f":
                feeds.append(rng.uniform(-1, 1, info.shape).astype(info.dtype))
            else:
                lo, hi = np.iinfo(info.dtype).min, np.iinfo(info.dtype).max
                feeds.append(rng.integers(lo, hi, info.shape, endpoint=True).astype(info.dtype))
        result[name] = (Path(path), feeds)
    return result


@pytest.fixture(scope="module")
def board_runs(board_root, board_package, models, tmp_path_factory) -> dict:
    """cpu -> the board script's report, with each model's outputs loaded under report[name]["outputs"]."""
    reports = {}
    for cpu in CPUS:
        work = tmp_path_factory.mktemp(f"board_{cpu}")
        job = {"report": str(work / "report.json"), "models": {}}
        for name, (path, feeds) in models.items():
            inputs = []
            for i, x in enumerate(feeds):
                np.save(work / f"{name}_in{i}.npy", x)
                inputs.append(str(work / f"{name}_in{i}.npy"))
            job["models"][name] = {"path": str(path), "inputs": inputs,
                                   "outputs": str(work / f"{name}_out.npz")}
        (work / "job.json").write_text(json.dumps(job))
        (work / "board.py").write_text(BOARD_SCRIPT)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(board_package),
               "PYTHONDONTWRITEBYTECODE": "1"}
        done = run([*board_command(board_root, cpu), work / "board.py", work / "job.json"], env=env,
                   timeout=QEMU_TIMEOUT)
        assert done.returncode == 0, f"aarch64 python under qemu -cpu {cpu}: {done.stderr}"
        report = json.loads((work / "report.json").read_text())
        for name in models:
            with np.load(job["models"][name]["outputs"]) as z:
                report[name]["outputs"] = [z[f"arr_{i}"] for i in range(len(z.files))]
        reports[cpu] = report
    return reports


def expected_kernel_suffix(op_kernel: str, cpu: str) -> str:
    """The ISA suffix a conv or fully connected kernel must have on `cpu`: the dot-product kernels
    exist for INT8 matrix products (not depthwise), and only a Cortex-A76 has the dot product."""
    int8_product = "_s8_" in op_kernel and not op_kernel.startswith("te_dwconv")
    return "__neon_dot" if cpu == "cortex-a76" and int8_product else "__neon"


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("cpu", CPUS)
def test_board_extension_matches_host(cpu, model_name, models, board_runs):
    path, feeds = models[model_name]
    want = tinyedge.load(path).run(feeds)
    got = board_runs[cpu][model_name]["outputs"]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        bad = np.flatnonzero(g.ravel() != w.ravel())
        assert g.tobytes() == w.tobytes(), \
            f"{cpu}, {model_name} output {i}: {bad.size} of {g.size} values differ"


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("cpu", CPUS)
def test_board_extension_runs_neon_kernels(cpu, model_name, board_runs):
    ops = board_runs[cpu][model_name]["ops"]
    heavy = [(op, kernel) for op, kernel in ops if op in ("conv2d", "fully_connected")]
    assert heavy, f"{model_name} has no conv or fully connected op: {ops}"
    for op, kernel in heavy:
        want = expected_kernel_suffix(kernel, cpu)
        assert kernel.endswith(want), f"{cpu}, {model_name}: {op} ran {kernel}, expected a {want} kernel"


def test_board_needs_only_numpy_and_cffi(board_runs):
    """tinyedge.load and run imported nothing outside the stdlib but numpy and the cffi backend
    (the root has nothing else, so an extra import would have failed the run itself)."""
    for cpu, report in board_runs.items():
        assert set(report["modules"]) <= {"numpy", "_cffi_backend", "tinyedge"}, (cpu, report["modules"])
