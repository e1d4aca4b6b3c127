/*
 * tinyedge.h - the tinyedge runtime's one public header.
 *
 * The runtime loads a .tem file (docs/format.md), checks every byte of it, prepares one kernel per op
 * and runs the model on caller-given inputs. C99 and libc only.
 *
 * Memory: loading allocates the model's structures and, unless the caller passes its own, one arena
 * for all activations plus one scratch buffer; running allocates nothing. te_model_free releases
 * everything the runtime allocated.
 *
 * Errors: every call that can fail returns a te_status. A failed load writes a message into the
 * caller's buffer; a failed call on a model leaves its message in te_model_error().
 *
 * Threads: a te_model is not thread-safe; use one model per thread (models share nothing). Distinct
 * models may be loaded and run concurrently. A model loaded with te_options.threads > 1 owns worker
 * threads that help its te_model_invoke; they sleep between ops and end at te_model_free. te_version, te_status_name and te_opcode_name are pure.
 */
#ifndef TINYEDGE_H
#define TINYEDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TE_MAX_RANK 6

/* Status codes. TE_OK is 0; every other value is an error. */
typedef enum {
    TE_OK = 0,
    TE_ERR_IO = 1,          /* the file could not be opened or read */
    TE_ERR_FORMAT = 2,      /* the bytes are not a valid .tem file (bad magic, bounds, counts...) */
    TE_ERR_VERSION = 3,     /* a .tem major version or endianness this runtime does not read */
    TE_ERR_CHECKSUM = 4,    /* the checksum does not match: the file is damaged */
    TE_ERR_UNSUPPORTED = 5, /* a valid op/dtype combination with no kernel in this build */
    TE_ERR_SHAPE = 6,       /* shapes or attributes of an op do not fit together */
    TE_ERR_NOMEM = 7,       /* an allocation failed */
    TE_ERR_ARG = 8          /* a bad argument: index out of range, wrong size, NULL, misaligned */
} te_status;

/* Element types, numbered as in the file format. */
typedef enum {
    TE_DTYPE_F32 = 1,
    TE_DTYPE_I8 = 2,
    TE_DTYPE_U8 = 3,
    TE_DTYPE_I32 = 4,
    TE_DTYPE_I16 = 5
} te_dtype;

/* Instruction sets a kernel may use. A build includes the kernels its target can compile. */
typedef enum {
    TE_ISA_REF = 0,      /* portable C */
    TE_ISA_NEON = 1,     /* ARM NEON (armv7 and aarch64) */
    TE_ISA_NEON_DOT = 2, /* ARM NEON with the dot-product extension */
    TE_ISA_AVX2 = 3      /* x86-64 AVX2 + FMA */
} te_isa;

typedef struct te_model te_model;

/* Load options. Zero-initialize, then set what you need; a NULL options pointer means defaults. */
typedef struct {
    void *arena;            /* caller-owned activation arena, 64-byte aligned, or NULL (the runtime
                               allocates one); must outlive the model */
    size_t arena_size;      /* its size in bytes; at least te_model_arena_size() of the file */
    uint32_t isa_mask;      /* 0: every ISA the CPU has; else a bit set of (1u << te_isa) to allow.
                               The reference kernels are always allowed. */
    int threads;            /* 0 or 1: every op runs on the calling thread; 2..64: a pool of
                               threads - 1 workers, started at load, joins the calling thread to
                               split the heavy ops (outputs are the same for any count) */
} te_options;

/* Description of a model input or output. Pointers stay valid until te_model_free. */
typedef struct {
    const char *name;
    te_dtype dtype;
    int rank;
    int32_t dims[TE_MAX_RANK];
    size_t nbytes;
    int has_quant;       /* 1 when the tensor is quantized per tensor: real = scale * (q - zero_point) */
    float scale;
    int32_t zero_point;
} te_tensor_info;

/* Description of one op of the loaded model. Pointers stay valid until te_model_free. */
typedef struct {
    const char *name;    /* the node's name in the source model */
    const char *op;      /* the IR op name, e.g. "conv2d" */
    const char *kernel;  /* the kernel chosen at load, e.g. "te_conv2d_f32__ref" */
    uint64_t macs;       /* multiply-accumulates per run (0 for ops without) */
} te_op_info;

/* Called after each op when profiling is on: op index and its wall time in nanoseconds. */
typedef void (*te_op_callback)(void *user, int op_index, uint64_t nanoseconds);

/* The runtime's version string, e.g. "0.1.0". */
const char *te_version(void);

/* A short constant name for a status code ("ok", "format error", ...). */
const char *te_status_name(te_status status);

/* The IR name of an opcode, or NULL when the runtime does not know it. */
const char *te_opcode_name(int opcode);

/* Represent a positive real multiplier as (*m, *shift), real ~= m * 2^(shift - 31), with m in
 * [2^30, 2^31 - 1] and shift in [-31, 30] (docs/quantization.md). A multiplier below 2^-32 gives
 * m = 0, shift = 0. Returns TE_ERR_SHAPE, writing nothing, when real is not positive and finite or
 * is 2^30 or more. Pure; kernels call it at load, tests compare it with the Python twin. */
te_status te_quantize_multiplier(double real, int32_t *m, int *shift);

/* requantize(acc, m, shift) of docs/quantization.md: the one rounding rule every INT8 kernel uses.
 * m and shift as returned by te_quantize_multiplier. Pure. */
int32_t te_requantize_i32(int32_t acc, int32_t m, int shift);

/* Read and load a .tem file. The file is read into one 64-byte-aligned buffer owned by the model.
 * On success *out holds the model; on failure *out is NULL and, when err is not NULL, a
 * NUL-terminated message of at most err_size bytes is written there. */
te_status te_model_load_file(const char *path, const te_options *options, te_model **out,
                             char *err, size_t err_size);

/* Load a .tem file from memory, using the bytes in place (weights are not copied). data must be
 * 64-byte aligned and stay valid and unchanged until te_model_free. Otherwise as te_model_load_file. */
te_status te_model_load_buffer(const void *data, size_t size, const te_options *options,
                               te_model **out, char *err, size_t err_size);

/* Release a model and everything the runtime allocated for it. NULL is ignored. */
void te_model_free(te_model *model);

/* The message of the last failed call on this model ("" when none). Valid until the next call. */
const char *te_model_error(const te_model *model);

/* Bytes of activation arena the model needs (from the file's memory plan). */
size_t te_model_arena_size(const te_model *model);

/* Number of graph inputs / outputs. */
int te_model_num_inputs(const te_model *model);
int te_model_num_outputs(const te_model *model);

/* Describe input / output i. TE_ERR_ARG when i is out of range or info is NULL. */
te_status te_model_input_info(const te_model *model, int i, te_tensor_info *info);
te_status te_model_output_info(const te_model *model, int i, te_tensor_info *info);

/* Copy nbytes of data into input i. nbytes must equal the input's nbytes (TE_ERR_ARG otherwise). */
te_status te_model_set_input(te_model *model, int i, const void *data, size_t nbytes);

/* Copy output i (valid after te_model_invoke) into data; nbytes must equal the output's nbytes. */
te_status te_model_get_output(te_model *model, int i, void *data, size_t nbytes);

/* Direct pointers to input / output i inside the arena, or NULL when i is out of range. The input
 * may be written before te_model_invoke; the output is valid after it, until the next invoke. */
void *te_model_input_data(te_model *model, int i);
const void *te_model_output_data(const te_model *model, int i);

/* Run the model once on the current inputs. Allocates nothing; every check was done at load. */
te_status te_model_invoke(te_model *model);

/* Number of ops, and the description of op i (TE_ERR_ARG when out of range). */
int te_model_num_ops(const te_model *model);
te_status te_model_op_info(const te_model *model, int i, te_op_info *info);

/* Number of input slots / outputs of op i (an absent optional input has a slot), or -1 when i is
 * out of range. */
int te_model_op_num_inputs(const te_model *model, int i);
int te_model_op_num_outputs(const te_model *model, int i);

/* Describe input or output k of op i (name, dtype, shape, nbytes, per-tensor quantization), as
 * te_model_input_info does for graph inputs. TE_ERR_ARG when i or k is out of range, info is NULL
 * or the input is an absent optional one. Pointers stay valid until te_model_free. */
te_status te_model_op_input_info(const te_model *model, int i, int k, te_tensor_info *info);
te_status te_model_op_output_info(const te_model *model, int i, int k, te_tensor_info *info);

/* The metadata value for key (docs/format.md, METADATA), or NULL when absent. */
const char *te_model_meta(const te_model *model, const char *key);

/* Turn per-op profiling on (callback not NULL) or off (NULL). The callback runs on the invoking
 * thread after each op; it must not call back into the model. */
void te_model_set_profiler(te_model *model, te_op_callback callback, void *user);

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_H */
