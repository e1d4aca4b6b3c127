"""cffi build of the C runtime as the extension `tinyedge._runtime` (out-of-line, API mode).

setup.py names `ffibuilder` (`cffi_modules`) and `BuildExtWithIsaFlags` (its build_ext), so
`pip install .` compiles it, on an ARM board too. Run this file from the repository root
(`python tinyedge/_runtime_build.py`) to rebuild the extension in place after editing the C sources:
the build happens in a private directory and the finished `.so` is renamed into `tinyedge/` in one
step, so several engineers can rebuild concurrently and a process importing the module never sees a
half-written file.

Each runtime source is compiled with the flags `source_flags(machine)` gives it: the common ones,
plus, for the kernels of an ISA the machine may have (runtime_c/src/kernels/<isa>/), that ISA's flags
from tinyedge/cross/targets.py HOST_ISA_FLAGS (an aarch64 machine compiles kernels/neon_dot/ for
ARMv8.2-A with the dot product; the runtime calls them only where the CPU reports it). `make_ffi()`
and `source_flags()` build nothing, so tests can cross-compile the same extension for another
machine (tests/test_extension_arm64.py).
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from cffi import FFI
from setuptools import Distribution, Extension
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent.parent
# setuptools runs this file by path, and in an isolated build tinyedge is not installed: make this
# tree's package importable for its flag tables and resources (stdlib-only modules).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tinyedge.cross.targets import HOST_ISA_FLAGS, isa_defines, isa_of  # noqa: E402
from tinyedge.resources import runtime_dir  # noqa: E402

# The tree's runtime_c/ when building from a checkout or an sdist; an installed wheel's copy when
# imported from one (make_ffi and source_flags then describe the installed sources).
RUNTIME = runtime_dir()

MODULE = "tinyedge._runtime"
# -O3: gcc's -O2 vectorizes only loops that need no remainder or run-time check (its "very cheap"
# cost model), which leaves the conv2d kernels' channel loops scalar; -O3 vectorizes them with the
# target's baseline vector ISA (SSE2 on x86-64, NEON on AArch64; no -march, so the module runs on
# any CPU of its architecture: only source_flags' ISA kernels get one, and the runtime calls them
# where the CPU reports the ISA). It changes no float result: without -ffast-math gcc never reorders
# a float sum. -ffp-contract=off: no fused multiply-add either, so float sums round as the
# reference's do. -pthread: the runtime's thread pool (runtime_c/src/pool.c).
COMPILE_ARGS = ("-std=c99", "-O3", "-ffp-contract=off", "-pthread")
LINK_ARGS = ("-pthread",)

# The public API of runtime_c/include/tinyedge.h. In API mode cffi compiles checks of every struct
# and enum against the real header, so a mismatch fails the build instead of corrupting memory.
CDEF = """
#define TE_MAX_RANK 6

typedef enum {
    TE_OK = 0, TE_ERR_IO = 1, TE_ERR_FORMAT = 2, TE_ERR_VERSION = 3, TE_ERR_CHECKSUM = 4,
    TE_ERR_UNSUPPORTED = 5, TE_ERR_SHAPE = 6, TE_ERR_NOMEM = 7, TE_ERR_ARG = 8
} te_status;

typedef enum {
    TE_DTYPE_F32 = 1, TE_DTYPE_I8 = 2, TE_DTYPE_U8 = 3, TE_DTYPE_I32 = 4, TE_DTYPE_I16 = 5
} te_dtype;

typedef enum { TE_ISA_REF = 0, TE_ISA_NEON = 1, TE_ISA_NEON_DOT = 2, TE_ISA_AVX2 = 3 } te_isa;

typedef struct te_model te_model;

typedef struct {
    void *arena;
    size_t arena_size;
    uint32_t isa_mask;
    int threads;
} te_options;

typedef struct {
    const char *name;
    te_dtype dtype;
    int rank;
    int32_t dims[6];
    size_t nbytes;
    int has_quant;
    float scale;
    int32_t zero_point;
} te_tensor_info;

typedef struct {
    const char *name;
    const char *op;
    const char *kernel;
    uint64_t macs;
} te_op_info;

typedef void (*te_op_callback)(void *user, int op_index, uint64_t nanoseconds);

const char *te_version(void);
const char *te_status_name(te_status status);
const char *te_opcode_name(int opcode);
te_status te_quantize_multiplier(double real, int32_t *m, int *shift);
int32_t te_requantize_i32(int32_t acc, int32_t m, int shift);
te_status te_model_load_file(const char *path, const te_options *options, te_model **out,
                             char *err, size_t err_size);
te_status te_model_load_buffer(const void *data, size_t size, const te_options *options,
                               te_model **out, char *err, size_t err_size);
void te_model_free(te_model *model);
const char *te_model_error(const te_model *model);
size_t te_model_arena_size(const te_model *model);
int te_model_num_inputs(const te_model *model);
int te_model_num_outputs(const te_model *model);
te_status te_model_input_info(const te_model *model, int i, te_tensor_info *info);
te_status te_model_output_info(const te_model *model, int i, te_tensor_info *info);
te_status te_model_set_input(te_model *model, int i, const void *data, size_t nbytes);
te_status te_model_get_output(te_model *model, int i, void *data, size_t nbytes);
void *te_model_input_data(te_model *model, int i);
const void *te_model_output_data(const te_model *model, int i);
te_status te_model_invoke(te_model *model);
int te_model_num_ops(const te_model *model);
te_status te_model_op_info(const te_model *model, int i, te_op_info *info);
const char *te_model_meta(const te_model *model, const char *key);
void te_model_set_profiler(te_model *model, te_op_callback callback, void *user);

/* The profiler callback implemented in Python (tinyedge/runtime.py). */
extern "Python" void te_py_profile_op(void *user, int op_index, uint64_t nanoseconds);
"""


def runtime_sources() -> list:
    """Every C source of the runtime (runtime_c/src), sorted, as absolute paths."""
    return sorted((RUNTIME / "src").rglob("*.c"))


def source_flags(machine: str) -> dict:
    """The compile flags of each runtime source (absolute Path -> tuple) on a machine named as
    `platform.machine()` names it ("x86_64", "aarch64", "arm64"): COMPILE_ARGS, the defines of the
    ISAs the machine builds, and for a file in kernels/<isa>/ that ISA's flags. Include
    directories are not among them (extension_args has them)."""
    isa_flags = HOST_ISA_FLAGS.get(machine, {})
    # Every file is told which ISA folders get their own flags (targets.ISA_DEFINES: kernels.def
    # then lists those kernels, and the CPU check at load decides whether they run).
    common = COMPILE_ARGS + isa_defines(isa_flags)
    src = RUNTIME / "src"
    return {p: common + tuple(isa_flags.get(isa_of(p.relative_to(src).as_posix()), ()))
            for p in runtime_sources()}


def extension_args(absolute: bool = True) -> dict:
    """The extension's sources, include directories, common flags and libraries (set_source's
    keywords). setuptools (setup.py) wants paths relative to the project; a build from another
    directory needs absolute ones."""
    def path(p: Path) -> str:
        return str(p) if absolute else os.path.relpath(p, ROOT)

    return {
        "sources": [path(p) for p in runtime_sources()],
        "include_dirs": [path(RUNTIME / "include"), path(RUNTIME / "src")],
        # The flags of cffi's wrapper; BuildExtWithIsaFlags compiles the runtime's sources with
        # source_flags() instead.
        "extra_compile_args": list(COMPILE_ARGS),
        "extra_link_args": list(LINK_ARGS),
        "libraries": ["m"],
    }


def make_ffi(absolute: bool = True) -> FFI:
    """The FFI of the runtime (its cdef and extension_args). Builds nothing: `ffi.emit_c_code(path)`
    writes the module's C wrapper."""
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(MODULE, '#include "tinyedge.h"\n', **extension_args(absolute))
    return ffi


class BuildExtWithIsaFlags(build_ext):
    """setuptools' build_ext, but the runtime's sources are compiled with their own flags
    (source_flags for this machine); everything else (cffi's wrapper, the link) is the base class's."""

    def build_extension(self, ext):
        flags = {str(p): f for p, f in source_flags(platform.machine()).items()}
        own = [s for s in ext.sources if str(Path(s).resolve()) in flags]
        if not own:
            return super().build_extension(ext)
        groups: dict = {}
        for s in own:  # one compiler call per distinct flag set
            groups.setdefault(flags[str(Path(s).resolve())], []).append(s)
        objects = []
        for extra, sources in groups.items():
            objects += self.compiler.compile(sources, output_dir=self.build_temp,
                                             macros=ext.define_macros, include_dirs=ext.include_dirs,
                                             debug=self.debug, extra_postargs=list(extra),
                                             depends=ext.depends)
        saved = ext.sources, ext.extra_objects
        ext.sources = [s for s in ext.sources if s not in own]
        ext.extra_objects = list(ext.extra_objects or []) + objects
        try:
            return super().build_extension(ext)
        finally:
            ext.sources, ext.extra_objects = saved


ffibuilder = make_ffi(absolute=False)


def build_in_place() -> Path:
    """Compile the extension in a private directory and atomically move it into tinyedge/."""
    build_root = ROOT / "build"
    build_root.mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="runtime-", dir=build_root)  # same filesystem: rename is atomic
    try:
        built = _build(Path(tmp))
        target = ROOT / "tinyedge" / built.name
        os.replace(built, target)
        # pip's editable install leaves its own build (e.g. _runtime.abi3.so); keep only this one so
        # that which file Python imports never depends on suffix order.
        for other in target.parent.glob("_runtime.*.so"):
            if other != target:
                other.unlink()
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build(tmp: Path) -> Path:
    """The extension built in `tmp` (its C wrapper, objects and the .so) with BuildExtWithIsaFlags."""
    wrapper = tmp / "_runtime.c"
    make_ffi(absolute=True).emit_c_code(str(wrapper))
    args = extension_args(absolute=True)
    ext = Extension(MODULE, **{**args, "sources": [str(wrapper), *args["sources"]]})
    dist = Distribution({"ext_modules": [ext], "cmdclass": {"build_ext": BuildExtWithIsaFlags}})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = cmd.build_temp = str(tmp)
    cmd.force = True
    dist.run_command("build_ext")
    [built] = cmd.get_outputs()
    return Path(built)


if __name__ == "__main__":
    print(build_in_place())
    sys.exit(0)
