/*
 * transpose.c - reference transpose of float32 (te_transpose_f32__ref) and of int8 bytes
 * (te_transpose_x8__ref, which keeps the input's quantization parameters): out.shape[i] =
 * x.shape[perm[i]], and the output walks the input with the input's stride of axis perm[i] along its
 * axis i. Prepare collapses that walk (broadcast.h): axes that stay neighbours in the same order
 * merge, so an identity perm is one copy. Both kernels share everything but the element size.
 */
#include "broadcast.h"
#include "quant.h"

static te_status transpose_prepare(te_node *node, te_prepare_ctx *ctx, te_dtype dtype)
{
    const te_attr *perm = &node->attrs[TE_TRANSPOSE_PERM];
    const te_tensor *x = node->in[0];
    ptrdiff_t in_strides[TE_MAX_RANK], out_strides[TE_MAX_RANK];
    int32_t dims[TE_MAX_RANK];
    int seen[TE_MAX_RANK] = {0};
    te_loop *loop;
    te_status s;
    int i;
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 input and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    if ((s = te_expect(ctx, node, x, "input", dtype, -1)) != TE_OK ||
        (s = te_expect(ctx, node, node->out[0], "output", dtype, x->rank)) != TE_OK)
        return s;
    if (perm->n != (uint32_t)x->rank)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "perm has %u entries for an input of rank %d",
                               (unsigned)perm->n, x->rank);
    for (i = 0; i < x->rank; i++) {
        const int32_t p = perm->ints[i];
        if (p < 0 || p >= x->rank || seen[p])
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                   "perm is not a permutation of 0..%d (entry %d is %ld)", x->rank - 1,
                                   i, (long)p);
        seen[p] = 1;
        dims[i] = x->dims[p];
    }
    if ((s = te_expect_dims(ctx, node, node->out[0], "output", x->rank, dims)) != TE_OK)
        return s;
    loop = (te_loop *)te_prepare_alloc(ctx, sizeof *loop);
    if (loop == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for the transpose plan");
    te_row_major_strides(x->rank, x->dims, in_strides);
    te_row_major_strides(x->rank, dims, out_strides);
    loop->rank = x->rank;
    loop->n_operands = 2;
    for (i = 0; i < x->rank; i++) {
        loop->dims[i] = (size_t)dims[i];
        loop->strides[0][i] = out_strides[i];
        loop->strides[1][i] = in_strides[perm->ints[i]];
    }
    te_loop_collapse(loop);
    node->state = loop;
    node->macs = 0;
    return TE_OK;
}

te_status te_transpose_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return transpose_prepare(node, ctx, TE_DTYPE_F32);
}

te_status te_transpose_x8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status s = transpose_prepare(node, ctx, TE_DTYPE_I8);
    return s != TE_OK ? s : te_expect_same_qparams(ctx, node, node->in[0], node->out[0]);
}

void te_transpose_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    te_loop_gather((const te_loop *)node->state, node->out[0]->data, node->in[0]->data,
                   sizeof(float));
}

void te_transpose_x8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    te_loop_gather((const te_loop *)node->state, node->out[0]->data, node->in[0]->data, 1);
}
