/*
 * model.c - the public API of tinyedge.h on a loaded model: queries, inputs and outputs, the invoke
 * loop with its per-op profiler, and the model's memory (load-time blocks, arena, scratch).
 * Loading itself lives in loader*.c.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime, for the profiler */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model_internal.h"

const char *te_version(void) { return "0.1.0"; }

const char *te_status_name(te_status status)
{
    switch (status) {
    case TE_OK: return "ok";
    case TE_ERR_IO: return "io error";
    case TE_ERR_FORMAT: return "format error";
    case TE_ERR_VERSION: return "version error";
    case TE_ERR_CHECKSUM: return "checksum error";
    case TE_ERR_UNSUPPORTED: return "unsupported";
    case TE_ERR_SHAPE: return "shape error";
    case TE_ERR_NOMEM: return "out of memory";
    case TE_ERR_ARG: return "bad argument";
    default: return "unknown status";
    }
}

te_status te_model_vfail(te_model *m, te_status status, const char *fmt, va_list ap)
{
    vsnprintf(m->error, sizeof m->error, fmt, ap);
    return status;
}

te_status te_model_fail(te_model *m, te_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    te_model_vfail(m, status, fmt, ap);
    va_end(ap);
    return status;
}

void *te_model_alloc(te_model *m, size_t size)
{
    /* [te_block header][padding to 64][size bytes]: one malloc, freed through the header. */
    const size_t overhead = sizeof(te_block) + TE_ALIGN;
    te_block *block;
    if (size > SIZE_MAX - overhead)
        return NULL;
    block = (te_block *)calloc(1, size + overhead);
    if (block == NULL)
        return NULL;
    block->next = m->blocks;
    m->blocks = block;
    return te_align_up(block + 1);
}

void *te_model_alloc_array(te_model *m, size_t n, size_t elem)
{
    if (elem != 0 && n > SIZE_MAX / elem)
        return NULL;
    return te_model_alloc(m, n * elem);
}

void te_model_free(te_model *m)
{
    te_block *b, *next;
    if (m == NULL)
        return;
    te_pool_free(m->pool);  /* joins the workers first: they hold the nodes and the scratch */
    for (b = m->blocks; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(m->scratch_raw);
    free(m->arena_raw);
    free(m->bytes_raw);
    free(m);
}

const char *te_model_error(const te_model *m) { return m ? m->error : ""; }

size_t te_model_arena_size(const te_model *m) { return m ? (size_t)m->arena_size : 0; }

int te_model_num_inputs(const te_model *m) { return m ? (int)m->n_graph_inputs : 0; }

int te_model_num_outputs(const te_model *m) { return m ? (int)m->n_graph_outputs : 0; }

int te_model_num_ops(const te_model *m) { return m ? (int)m->n_nodes : 0; }

/* The tensor of graph input (is_input) or output i, or NULL when i is out of range. */
static te_tensor *te_io_tensor(const te_model *m, int is_input, int i)
{
    uint32_t n = is_input ? m->n_graph_inputs : m->n_graph_outputs;
    if (i < 0 || (uint32_t)i >= n)
        return NULL;
    return &m->tensors[is_input ? m->graph_inputs[i] : m->graph_outputs[i]];
}

/* Fill info from tensor t. */
static void te_describe(const te_tensor *t, te_tensor_info *info)
{
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->dtype = t->dtype;
    info->rank = t->rank;
    memcpy(info->dims, t->dims, sizeof info->dims);
    info->nbytes = t->nbytes;
    if (t->quant != NULL && t->quant->axis == -1) {
        info->has_quant = 1;
        info->scale = t->quant->scales[0];
        info->zero_point = t->quant->zero_points[0];
    }
}

static te_status te_io_info(const te_model *m, int is_input, int i, te_tensor_info *info)
{
    const te_tensor *t;
    if (m == NULL || info == NULL)
        return TE_ERR_ARG;
    t = te_io_tensor(m, is_input, i);
    if (t == NULL)
        return te_model_fail((te_model *)m, TE_ERR_ARG, "%s %d is out of range (the model has %lu)",
                             is_input ? "input" : "output", i,
                             (unsigned long)(is_input ? m->n_graph_inputs : m->n_graph_outputs));
    te_describe(t, info);
    return TE_OK;
}

te_status te_model_input_info(const te_model *m, int i, te_tensor_info *info)
{
    return te_io_info(m, 1, i, info);
}

te_status te_model_output_info(const te_model *m, int i, te_tensor_info *info)
{
    return te_io_info(m, 0, i, info);
}

/* Check a set/get call's arguments; returns the tensor or NULL with the model's error set. */
static te_tensor *te_io_checked(te_model *m, int is_input, int i, const void *data, size_t nbytes,
                                te_status *st)
{
    const char *role = is_input ? "input" : "output";
    te_tensor *t = te_io_tensor(m, is_input, i);
    *st = TE_ERR_ARG;
    if (t == NULL) {
        te_model_fail(m, TE_ERR_ARG, "%s %d is out of range (the model has %lu)", role, i,
                      (unsigned long)(is_input ? m->n_graph_inputs : m->n_graph_outputs));
        return NULL;
    }
    if (data == NULL) {
        te_model_fail(m, TE_ERR_ARG, "%s %d '%s': data is NULL", role, i, t->name);
        return NULL;
    }
    if (nbytes != t->nbytes) {
        te_model_fail(m, TE_ERR_ARG, "%s %d '%s': %lu bytes given, the tensor has %lu", role, i,
                      t->name, (unsigned long)nbytes, (unsigned long)t->nbytes);
        return NULL;
    }
    *st = TE_OK;
    return t;
}

te_status te_model_set_input(te_model *m, int i, const void *data, size_t nbytes)
{
    te_status st;
    te_tensor *t;
    if (m == NULL)
        return TE_ERR_ARG;
    t = te_io_checked(m, 1, i, data, nbytes, &st);
    if (t != NULL)
        memcpy(t->data, data, nbytes);
    return st;
}

te_status te_model_get_output(te_model *m, int i, void *data, size_t nbytes)
{
    te_status st;
    te_tensor *t;
    if (m == NULL)
        return TE_ERR_ARG;
    t = te_io_checked(m, 0, i, data, nbytes, &st);
    if (t != NULL)
        memcpy(data, t->data, nbytes);
    return st;
}

void *te_model_input_data(te_model *m, int i)
{
    te_tensor *t = m ? te_io_tensor(m, 1, i) : NULL;
    return t ? t->data : NULL;
}

const void *te_model_output_data(const te_model *m, int i)
{
    const te_tensor *t = m ? te_io_tensor(m, 0, i) : NULL;
    return t ? t->data : NULL;
}

static uint64_t te_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

te_status te_model_invoke(te_model *m)
{
    uint32_t i;
    if (m == NULL)
        return TE_ERR_ARG;
    if (m->profiler == NULL) {
        for (i = 0; i < m->n_nodes; i++)
            te_pool_run(m->pool, &m->nodes[i], m->scratch);
        return TE_OK;
    }
    for (i = 0; i < m->n_nodes; i++) {
        uint64_t start = te_now_ns();
        te_pool_run(m->pool, &m->nodes[i], m->scratch);
        m->profiler(m->profiler_user, (int)i, te_now_ns() - start);
    }
    return TE_OK;
}

te_status te_model_op_info(const te_model *m, int i, te_op_info *info)
{
    const te_node *node;
    if (m == NULL || info == NULL)
        return TE_ERR_ARG;
    if (i < 0 || (uint32_t)i >= m->n_nodes)
        return te_model_fail((te_model *)m, TE_ERR_ARG, "op %d is out of range (the model has %lu)",
                             i, (unsigned long)m->n_nodes);
    node = &m->nodes[i];
    info->name = node->name;
    info->op = te_opcode_name(node->opcode);
    info->kernel = node->kernel->name;
    info->macs = node->macs;
    return TE_OK;
}

int te_model_op_num_inputs(const te_model *m, int i)
{
    return m != NULL && i >= 0 && (uint32_t)i < m->n_nodes ? m->nodes[i].n_in : -1;
}

int te_model_op_num_outputs(const te_model *m, int i)
{
    return m != NULL && i >= 0 && (uint32_t)i < m->n_nodes ? m->nodes[i].n_out : -1;
}

static te_status te_op_tensor_info(const te_model *m, int i, int is_input, int k,
                                   te_tensor_info *info)
{
    const char *role = is_input ? "input" : "output";
    const te_node *node;
    const te_tensor *t;
    int n;
    if (m == NULL || info == NULL)
        return TE_ERR_ARG;
    if (i < 0 || (uint32_t)i >= m->n_nodes)
        return te_model_fail((te_model *)m, TE_ERR_ARG, "op %d is out of range (the model has %lu)",
                             i, (unsigned long)m->n_nodes);
    node = &m->nodes[i];
    n = is_input ? node->n_in : node->n_out;
    if (k < 0 || k >= n)
        return te_model_fail((te_model *)m, TE_ERR_ARG, "op %d '%s': %s %d is out of range (it has "
                             "%d)", i, node->name, role, k, n);
    t = is_input ? node->in[k] : node->out[k];
    if (t == NULL)
        return te_model_fail((te_model *)m, TE_ERR_ARG, "op %d '%s': optional input %d is absent",
                             i, node->name, k);
    te_describe(t, info);
    return TE_OK;
}

te_status te_model_op_input_info(const te_model *m, int i, int k, te_tensor_info *info)
{
    return te_op_tensor_info(m, i, 1, k, info);
}

te_status te_model_op_output_info(const te_model *m, int i, int k, te_tensor_info *info)
{
    return te_op_tensor_info(m, i, 0, k, info);
}

const char *te_model_meta(const te_model *m, const char *key)
{
    const te_section *s;
    uint32_t i;
    if (m == NULL || key == NULL)
        return NULL;
    s = &m->sections[TE_SEC_METADATA];
    /* Every reference was checked at load (loader_tables.c). */
    for (i = 0; i < m->n_meta; i++) {
        const char *k = te_string_at(m, te_rd_u32(s->data + 4 + 8 * (uint64_t)i));
        if (k != NULL && strcmp(k, key) == 0)
            return te_string_at(m, te_rd_u32(s->data + 8 + 8 * (uint64_t)i));
    }
    return NULL;
}

void te_model_set_profiler(te_model *m, te_op_callback callback, void *user)
{
    if (m == NULL)
        return;
    m->profiler = callback;
    m->profiler_user = user;
}
