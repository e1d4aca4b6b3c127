/*
 * te_internal.h - structures shared by the loader, the interpreter and the kernels.
 *
 * A kernel is a pair (prepare, eval). prepare runs once at load: it checks every shape, dtype and
 * attribute the eval relies on, precomputes what it can (into te_prepare_alloc memory) and declares
 * its scratch size; it returns TE_OK or a status with a message (te_prepare_fail). eval only computes:
 * it cannot fail and allocates nothing. Kernels are declared in kernels.def.
 */
#ifndef TE_INTERNAL_H
#define TE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tinyedge.h"

#define TE_MAX_ATTRS 8       /* most attributes of any op (ops.gen.h) */
#define TE_MAX_ATTR_LEN 16   /* longest ints/floats attribute accepted */
#define TE_NONE 0xFFFFFFFFu  /* absent optional input */
#define TE_ALIGN 64

typedef enum { TE_ATTR_INT = 1, TE_ATTR_FLOAT = 2, TE_ATTR_INTS = 3, TE_ATTR_FLOATS = 4 } te_attr_kind;

/* An op's schema, generated from the Python op table into ops.gen.h. */
typedef struct {
    const char *name;
    int min_inputs, max_inputs, n_outputs, n_attrs;
    uint8_t kinds[TE_MAX_ATTRS];
} te_op_schema;

#include "ops.gen.h"

/* One parsed attribute. INT: i; FLOAT: f; INTS: n and ints; FLOATS: n and floats. */
typedef struct {
    int32_t i;
    float f;
    uint32_t n;
    int32_t ints[TE_MAX_ATTR_LEN];
    float floats[TE_MAX_ATTR_LEN];
} te_attr;

typedef struct {
    int32_t axis;  /* -1: per tensor */
    uint32_t n;
    const float *scales;      /* n entries, in place in the model's buffer (4-aligned, checked at load) */
    const int32_t *zero_points;
} te_quant;

typedef struct {
    const char *name;
    te_dtype dtype;
    int storage;   /* 0 activation, 1 constant */
    int rank;
    int32_t dims[TE_MAX_RANK];
    size_t count;  /* elements */
    size_t nbytes;
    uint64_t offset;
    void *data;    /* constants: into the weights; activations: into the arena */
    const te_quant *quant;  /* NULL when not quantized */
} te_tensor;

typedef struct te_node {
    int opcode;
    const char *name;
    int n_in, n_out;
    te_tensor **in;   /* n_in entries; an absent optional input is NULL */
    te_tensor **out;  /* n_out entries */
    te_attr attrs[TE_MAX_ATTRS];
    const struct te_kernel *kernel;
    void *state;          /* what prepare precomputed (te_prepare_alloc memory), or NULL */
    size_t scratch_size;  /* bytes of scratch eval needs (set by prepare) */
    int tasks;            /* independent parts of the output eval computes, one per call (the
                             loader sets 1 before prepare; prepare may raise it, te_split_tasks) */
    uint64_t macs;        /* for the profiler (set by prepare) */
} te_node;

/* Load-time context handed to prepare. */
typedef struct te_prepare_ctx te_prepare_ctx;

/* Allocate zeroed load-time memory that lives as long as the model (NULL when out of memory). */
void *te_prepare_alloc(te_prepare_ctx *ctx, size_t size);

/* Record a failure message (printf-style) naming the node, and return status. */
te_status te_prepare_fail(te_prepare_ctx *ctx, const te_node *node, te_status status,
                          const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

typedef te_status (*te_prepare_fn)(te_node *node, te_prepare_ctx *ctx);
/* Compute part `task` (0 <= task < node->tasks) of the node's output. Parts write disjoint bytes
 * and may run at once on different threads, in any order; each output element is computed exactly
 * as in a one-part run, so results do not depend on the thread count. scratch: scratch_size bytes,
 * 64-byte aligned, the calling thread's own (never live across ops). */
typedef void (*te_eval_fn)(const te_node *node, void *scratch, int task);

typedef struct te_kernel {
    const char *name;
    int opcode;
    te_dtype dtype;  /* dtype of the op's first output */
    te_isa isa;
    te_prepare_fn prepare;
    te_eval_fn eval;
} te_kernel;

/* Every kernel's prepare and eval, declared from kernels.def. */
#define TE_KERNEL(name, opcode, dtype, isa, prepare, eval) \
    te_status prepare(te_node *node, te_prepare_ctx *ctx);   \
    void eval(const te_node *node, void *scratch, int task);
#include "kernels.def"
#undef TE_KERNEL

/* ---- helpers for prepare steps (shapes.c) ---- */

/* Check that t exists, has the dtype and rank (rank < 0: any rank 0..TE_MAX_RANK); fails with a
 * message naming the node and `what`. */
te_status te_expect(te_prepare_ctx *ctx, const te_node *node, const te_tensor *t, const char *what,
                    te_dtype dtype, int rank);

/* Check that t's dims equal dims[0..rank) exactly. */
te_status te_expect_dims(te_prepare_ctx *ctx, const te_node *node, const te_tensor *t,
                         const char *what, int rank, const int32_t *dims);

/* Output length of a sliding window along one axis (the formula of tinyedge/ir/ops.py
 * conv_out_size); returns -1 when the window does not fit. */
int64_t te_window_out(int64_t size, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin,
                      int64_t pad_end, int ceil_mode);

/* ---- splitting an op into tasks (the thread pool, pool.h) ---- */

#define TE_MAX_TASKS 64                 /* parts per op: enough to balance a few cores */
#define TE_MIN_TASK_MACS ((uint64_t)1 << 16)  /* less work per part costs more to hand out */

/* How many tasks to split `units` independent output units (rows, channels) of an op of `macs`
 * multiply-accumulates into: at most TE_MAX_TASKS and `units`, and none smaller than
 * TE_MIN_TASK_MACS. The count depends on the op only, never on the thread count. */
static inline int te_split_tasks(uint64_t units, uint64_t macs)
{
    uint64_t tasks = macs / TE_MIN_TASK_MACS;
    if (tasks > TE_MAX_TASKS)
        tasks = TE_MAX_TASKS;
    if (tasks > units)
        tasks = units;
    return tasks < 1 ? 1 : (int)tasks;
}

/* Units [*begin, *end) of `units` that task `task` of `tasks` computes: contiguous, in order,
 * sizes differing by at most one. */
static inline void te_task_range(uint64_t units, int tasks, int task, int64_t *begin, int64_t *end)
{
    *begin = (int64_t)(units * (uint64_t)task / (uint64_t)tasks);
    *end = (int64_t)(units * (uint64_t)(task + 1) / (uint64_t)tasks);
}

/* min(max(v, lo), hi) as numpy: every value becomes hi when lo > hi; a NaN v stays NaN. */
static inline float te_clampf(float v, float lo, float hi) { v = v < lo ? lo : v; return v > hi ? hi : v; }

#endif /* TE_INTERNAL_H */
