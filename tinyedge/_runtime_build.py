"""cffi build of the C runtime as the extension `tinyedge._runtime` (out-of-line, API mode).

setup.py names `ffibuilder` (`cffi_modules`), so `pip install .` compiles it. Run this file from the
repository root (`python tinyedge/_runtime_build.py`) to rebuild the extension in place after editing
the C sources: the build happens in a private directory and the finished `.so` is renamed into
`tinyedge/` in one step, so several engineers can rebuild concurrently and a process importing the
module never sees a half-written file.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "runtime_c"

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


def make_ffibuilder(absolute: bool) -> FFI:
    """The cffi builder of the runtime. setuptools (setup.py) wants paths relative to the project;
    a direct `ffibuilder.compile` runs from its own temp directory and needs absolute ones."""
    def path(p: Path) -> str:
        return str(p) if absolute else os.path.relpath(p, ROOT)

    builder = FFI()
    builder.cdef(CDEF)
    builder.set_source(
        "tinyedge._runtime",
        '#include "tinyedge.h"\n',
        sources=sorted(path(p) for p in (RUNTIME / "src").rglob("*.c")),
        include_dirs=[path(RUNTIME / "include"), path(RUNTIME / "src")],
        # -O3: gcc's -O2 vectorizes only loops that need no remainder or run-time check (its "very
        # cheap" cost model), which leaves the conv2d kernels' channel loops scalar; -O3
        # vectorizes them with the target's baseline vector ISA (SSE2 on x86-64, NEON on AArch64;
        # no -march, so the module runs on any CPU of its architecture). It changes no float
        # result: without -ffast-math gcc never reorders a float sum. -ffp-contract=off: no fused
        # multiply-add either, so float sums round as the reference's do.
        # -pthread: the runtime's thread pool (runtime_c/src/pool.c).
        extra_compile_args=["-std=c99", "-O3", "-ffp-contract=off", "-pthread"],
        extra_link_args=["-pthread"],
        libraries=["m"],
    )
    return builder


ffibuilder = make_ffibuilder(absolute=False)


def build_in_place() -> Path:
    """Compile the extension in a private directory and atomically move it into tinyedge/."""
    build_root = ROOT / "build"
    build_root.mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="runtime-", dir=build_root)  # same filesystem: rename is atomic
    try:
        built = Path(make_ffibuilder(absolute=True).compile(tmpdir=tmp, verbose=False))
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


if __name__ == "__main__":
    print(build_in_place())
    sys.exit(0)
