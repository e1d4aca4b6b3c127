/*
 * reshape.c - reference reshape of float32 (te_reshape_f32__ref) and of int8 bytes
 * (te_reshape_x8__ref, which keeps the input's quantization parameters): the same elements under a
 * new static shape. The memory plan gives the output its own arena range, so eval copies the bytes,
 * whatever their type.
 */
#include <string.h>

#include "quant.h"

static te_status reshape_prepare(te_node *node, te_prepare_ctx *ctx, te_dtype dtype)
{
    const te_attr *shape = &node->attrs[TE_RESHAPE_SHAPE];
    const te_tensor *x = node->in[0];
    uint64_t count = 1;
    int too_big = 0;
    uint32_t i;
    te_status s;
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 input and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    if ((s = te_expect(ctx, node, x, "input", dtype, -1)) != TE_OK)
        return s;
    if (shape->n > TE_MAX_RANK)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "shape has %u dims; at most %d are supported",
                               (unsigned)shape->n, TE_MAX_RANK);
    for (i = 0; i < shape->n; i++) {
        if (shape->ints[i] < 0)
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                   "shape[%u] is %ld; reshape wants static dims >= 0 (no -1)",
                                   (unsigned)i, (long)shape->ints[i]);
        /* Overflow-safe: a product that would pass the input's count is a mismatch already. */
        if (shape->ints[i] == 0)
            count = 0;
        else if (count > (uint64_t)x->count / (uint64_t)shape->ints[i])
            too_big = 1;
        else
            count *= (uint64_t)shape->ints[i];
    }
    if (too_big || count != (uint64_t)x->count)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "input '%s' has %lu elements; the shape attribute does not hold as many",
                               x->name, (unsigned long)x->count);
    if ((s = te_expect(ctx, node, node->out[0], "output", dtype, (int)shape->n)) != TE_OK)
        return s;
    node->macs = 0;
    return te_expect_dims(ctx, node, node->out[0], "output", (int)shape->n, shape->ints);
}

te_status te_reshape_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return reshape_prepare(node, ctx, TE_DTYPE_F32);
}

te_status te_reshape_x8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status s = reshape_prepare(node, ctx, TE_DTYPE_I8);
    return s != TE_OK ? s : te_expect_same_qparams(ctx, node, node->in[0], node->out[0]);
}

/* Shared by both entries: the bytes move as they are. */
static void reshape_copy(const te_node *node)
{
    /* memmove: correct even if a plan ever lets the output share the input's bytes. */
    memmove(node->out[0]->data, node->in[0]->data, node->out[0]->nbytes);
}

void te_reshape_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    reshape_copy(node);
}

void te_reshape_x8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    reshape_copy(node);
}
