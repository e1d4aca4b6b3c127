/* axis_plan.c - mean's and softmax's checks and axis plans (see axis_plan.h). */
#include "axis_plan.h"

te_status te_mean_check(te_node *node, te_prepare_ctx *ctx, te_dtype dtype, te_mean_plan *p)
{
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 1 input and 1 output, got %d and %d", node->n_in,
                               node->n_out);
    const te_tensor *x = node->in[0], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", dtype, -1)) != TE_OK)
        return st;
    const int rank = x->rank;  /* te_expect checked 0..TE_MAX_RANK */
    const te_attr *axes = &node->attrs[TE_MEAN_AXES];
    const int32_t keepdims = node->attrs[TE_MEAN_KEEPDIMS].i;
    if (keepdims != 0 && keepdims != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "keepdims must be 0 or 1, got %d",
                               keepdims);
    if (axes->n > (uint32_t)rank)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "%u axes for an input of rank %d",
                               axes->n, rank);
    int reduced[TE_MAX_RANK] = {0};
    for (uint32_t i = 0; i < axes->n; i++) {
        int32_t ax = axes->ints[i];
        if (ax < -rank || ax >= rank)
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                   "axis %d out of range for rank %d (supported: -%d..%d)",
                                   ax, rank, rank, rank - 1);
        if (ax < 0)
            ax += rank;
        if (reduced[ax])
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "axis %d given twice", ax);
        reduced[ax] = 1;
    }

    size_t strides[TE_MAX_RANK];
    size_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= (size_t)x->dims[i];
    }
    int32_t out_dims[TE_MAX_RANK];
    int out_rank = 0;
    p->n_keep = p->n_red = 0;
    p->red_count = 1;
    for (int i = 0; i < rank; i++) {
        if (reduced[i]) {
            p->red_dims[p->n_red] = x->dims[i];
            p->red_strides[p->n_red++] = strides[i];
            p->red_count *= (size_t)x->dims[i];
            if (keepdims)
                out_dims[out_rank++] = 1;
        } else {
            p->keep_dims[p->n_keep] = x->dims[i];
            p->keep_strides[p->n_keep++] = strides[i];
            out_dims[out_rank++] = x->dims[i];
        }
    }
    if ((st = te_expect(ctx, node, y, "output", dtype, out_rank)) != TE_OK)
        return st;
    return te_expect_dims(ctx, node, y, "output", out_rank, out_dims);
}

te_status te_softmax_check(te_node *node, te_prepare_ctx *ctx, te_dtype dtype, te_softmax_plan *p)
{
    const te_tensor *x = node->in[0], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", dtype, -1)) != TE_OK)
        return st;
    const int rank = x->rank;
    int32_t axis = node->attrs[TE_SOFTMAX_AXIS].i;
    if (rank < 1 || axis < -rank || axis >= rank)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "axis %d out of range for rank %d (supported: -rank..rank-1 "
                               "of a rank >= 1 input)", axis, rank);
    if ((st = te_expect(ctx, node, y, "output", dtype, rank)) != TE_OK ||
        (st = te_expect_dims(ctx, node, y, "output", rank, x->dims)) != TE_OK)
        return st;
    if (axis < 0)
        axis += rank;
    p->outer = p->inner = 1;
    for (int i = 0; i < axis; i++)
        p->outer *= (size_t)x->dims[i];
    p->n = (size_t)x->dims[axis];
    for (int i = axis + 1; i < rank; i++)
        p->inner *= (size_t)x->dims[i];
    return TE_OK;
}
