/*
 * loader_prepare.c - the last load step (docs/format.md, check 8, second half): the activation arena,
 * one kernel per op (kernels.c orders the candidates; the first whose prepare accepts the node wins,
 * see te_prepare_node), each kernel's prepare (which checks shapes, dtypes and attributes and sizes
 * its scratch), then the scratch buffers (one per thread, shared by all ops) and the thread pool
 * (pool.h) when more than one thread is asked for. Also the load-time
 * services prepare steps use: te_prepare_alloc and te_prepare_fail (te_internal.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static const char *te_dtype_name(te_dtype dtype)
{
    switch (dtype) {
    case TE_DTYPE_F32: return "float32";
    case TE_DTYPE_I8: return "int8";
    case TE_DTYPE_U8: return "uint8";
    case TE_DTYPE_I32: return "int32";
    case TE_DTYPE_I16: return "int16";
    default: return "?";
    }
}

void *te_prepare_alloc(te_prepare_ctx *ctx, size_t size)
{
    return te_model_alloc(ctx->model, size);
}

te_status te_prepare_fail(te_prepare_ctx *ctx, const te_node *node, te_status status,
                          const char *fmt, ...)
{
    te_model *m = ctx->model;
    const te_op_schema *schema = node ? te_op_schema_of((uint32_t)node->opcode) : NULL;
    size_t n;
    va_list ap;
    n = (size_t)snprintf(m->error, sizeof m->error, "OPS[%lu] '%s' (%s, %s): ",
                         (unsigned long)ctx->op_index, node && node->name ? node->name : "?",
                         schema ? schema->name : "?",
                         node && node->kernel ? node->kernel->name : "no kernel");
    if (n < sizeof m->error) {
        va_start(ap, fmt);
        vsnprintf(m->error + n, sizeof m->error - n, fmt, ap);
        va_end(ap);
    }
    return status == TE_OK ? TE_ERR_SHAPE : status;
}

/* Allocate (or adopt) the arena and point every activation into it. */
static te_status te_setup_arena(te_model *m, const te_options *options)
{
    uint32_t i;
    if (options->arena != NULL) {
        if ((uint64_t)options->arena_size < m->arena_size)
            return te_model_fail(m, TE_ERR_ARG, "options: arena of %llu bytes is smaller than the "
                                 "%llu bytes of the plan", (unsigned long long)options->arena_size,
                                 (unsigned long long)m->arena_size);
        m->arena = (uint8_t *)options->arena;
    } else {
        if (m->arena_size > (uint64_t)(SIZE_MAX - TE_ALIGN))
            return te_model_fail(m, TE_ERR_NOMEM, "PLAN: an arena of %llu bytes does not fit this "
                                 "address space", (unsigned long long)m->arena_size);
        /* Zeroed once so that a run never reads indeterminate bytes, whatever a kernel does. */
        m->arena_raw = calloc((size_t)m->arena_size + TE_ALIGN, 1);
        if (m->arena_raw == NULL)
            return te_model_fail(m, TE_ERR_NOMEM, "PLAN: out of memory for an arena of %llu bytes",
                                 (unsigned long long)m->arena_size);
        m->arena = (uint8_t *)te_align_up(m->arena_raw);
    }
    for (i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].storage == 0)
            m->tensors[i].data = m->arena + m->tensors[i].offset;
    return TE_OK;
}

/* "float32" or "float32, int8": the dtypes this build has kernels for, for an error message. */
static void te_kernel_dtypes(int opcode, char *buf, size_t size)
{
    size_t count, i, used = 0;
    const te_kernel *k = te_kernel_table(&count);
    buf[0] = '\0';
    for (i = 0; i < count && used < size; i++)
        if (k[i].opcode == opcode && strstr(buf, te_dtype_name(k[i].dtype)) == NULL)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                     te_dtype_name(k[i].dtype));
    if (buf[0] == '\0')
        snprintf(buf, size, "none");
}

/* The kernel to try after `after` (NULL: the first) for (opcode, dtype) among the ISAs in
 * `allowed`, or NULL when none is left. Order: the highest te_isa value first (REF < NEON <
 * NEON_DOT < AVX2; a CPU never has both ARM and x86 ISAs, so one family competes), and within an
 * ISA the order of kernels.def, so a specialized kernel listed before a general one is tried first. */
static const te_kernel *te_kernel_next(int opcode, te_dtype dtype, uint32_t allowed,
                                       const te_kernel *after)
{
    size_t count, i;
    const te_kernel *table = te_kernel_table(&count), *best = NULL;
    allowed |= 1u << TE_ISA_REF;
    for (i = 0; i < count; i++) {
        const te_kernel *k = &table[i];
        if (k->opcode != opcode || k->dtype != dtype || !(allowed & (1u << k->isa)))
            continue;
        /* Candidates strictly after `after` in the order; the first of them wins. */
        if (after != NULL && (k->isa > after->isa || (k->isa == after->isa && k <= after)))
            continue;
        if (best == NULL || k->isa > best->isa)
            best = k;
    }
    return best;
}

/* Forget what a refused prepare may have left in the node before the next kernel tries. Its
 * te_prepare_alloc memory stays with the model (freed with it): a refusal happens at load only. */
static void te_node_reset(te_node *node)
{
    node->kernel = NULL;
    node->state = NULL;
    node->scratch_size = 0;
    node->tasks = 1;
    node->macs = 0;
}

/* Give the node the first kernel, in the order of te_kernel_next, whose prepare accepts it. A
 * specialized kernel refuses a node outside its specialization with TE_ERR_UNSUPPORTED and the next
 * one is tried; any other status is an error of the node itself, reported as it is. The reference
 * kernel comes last and is always allowed, so its verdict (and message) is the final one. */
static te_status te_prepare_node(te_model *m, uint32_t i, uint32_t allowed)
{
    te_node *node = &m->nodes[i];
    const te_op_schema *schema = te_op_schema_of((uint32_t)node->opcode);
    const te_kernel *k = NULL;
    te_prepare_ctx ctx;
    te_dtype dtype = node->out[0]->dtype;
    te_status st = TE_ERR_UNSUPPORTED;
    ctx.model = m;
    ctx.op_index = i;
    while ((k = te_kernel_next(node->opcode, dtype, allowed, k)) != NULL) {
        te_node_reset(node);
        node->kernel = k;
        m->error[0] = '\0';
        st = k->prepare(node, &ctx);
        if (st != TE_ERR_UNSUPPORTED || te_kernel_next(node->opcode, dtype, allowed, k) == NULL)
            break;
    }
    if (node->kernel == NULL) {
        char have[64];
        te_kernel_dtypes(node->opcode, have, sizeof have);
        return te_model_fail(m, TE_ERR_UNSUPPORTED, "OPS[%lu] '%s' (%s): no kernel for output dtype "
                             "%s in this build (it has: %s)", (unsigned long)i, node->name,
                             schema->name, te_dtype_name(dtype), have);
    }
    if (st != TE_OK && m->error[0] == '\0')
        te_model_fail(m, st, "OPS[%lu] '%s' (%s, %s): prepare refused the op", (unsigned long)i,
                      node->name, schema->name, node->kernel->name);
    return st;
}

te_status te_load_prepare(te_model *m, const te_options *options)
{
    uint32_t allowed = te_cpu_isas();
    size_t scratch = 0;
    uint32_t i;
    te_status st = te_setup_arena(m, options);
    if (st != TE_OK)
        return st;
    if (options->isa_mask != 0)
        allowed &= options->isa_mask;
    for (i = 0; i < m->n_nodes; i++) {
        st = te_prepare_node(m, i, allowed);
        if (st != TE_OK)
            return st;
        if (m->nodes[i].scratch_size > scratch)
            scratch = m->nodes[i].scratch_size;
    }
#if defined(TE_NO_THREADS)
    m->threads = 1;  /* no pool in this build: every task runs on the caller */
#else
    m->threads = options->threads > 1 ? options->threads : 1;
#endif
    if (scratch > 0) {
        /* Each thread's buffer starts 64-aligned: the stride is scratch rounded up to 64. */
        if (scratch > (SIZE_MAX - TE_ALIGN) / (size_t)m->threads - TE_ALIGN)
            return te_model_fail(m, TE_ERR_NOMEM, "scratch of %lu bytes for %d threads does not fit "
                                 "this address space", (unsigned long)scratch, m->threads);
        m->scratch_stride = (scratch + TE_ALIGN - 1) / TE_ALIGN * TE_ALIGN;
        m->scratch_raw = calloc(m->scratch_stride * (size_t)m->threads + TE_ALIGN, 1);
        if (m->scratch_raw == NULL)
            return te_model_fail(m, TE_ERR_NOMEM, "out of memory for %lu bytes of scratch for %d "
                                 "threads", (unsigned long)scratch, m->threads);
        m->scratch = (uint8_t *)te_align_up(m->scratch_raw);
    }
    m->scratch_size = scratch;
    if (m->threads > 1) {
        m->pool = te_pool_create(m->threads, m->scratch, m->scratch_stride);
        if (m->pool == NULL)
            return te_model_fail(m, TE_ERR_NOMEM, "could not start %d threads", m->threads);
    }
    return TE_OK;
}
