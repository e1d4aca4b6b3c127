/*
 * mean.c - float32 reference mean over a set of axes (te_mean_f32__ref), ONNX ReduceMean /
 * numpy.mean(axis=axes, keepdims=...) for ranks 0..6.
 *
 * prepare splits the input's dims into kept dims and reduced dims, each with its element stride.
 * The output holds the kept dims in order (keepdims only inserts 1s, which do not move data), so eval
 * walks the outputs in order with an odometer over the kept dims and, for each, sums the reduced
 * elements in increasing input order with a second odometer, then divides by their count. Empty
 * axes reduce nothing (the output equals the input), as the op table's shape function says.
 */
#include "te_internal.h"

typedef struct {
    int n_keep, n_red;
    int32_t keep_dims[TE_MAX_RANK], red_dims[TE_MAX_RANK];
    size_t keep_strides[TE_MAX_RANK], red_strides[TE_MAX_RANK];
    size_t red_count;  /* elements averaged into each output */
} te_mean_plan;

te_status te_mean_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 1 input and 1 output, got %d and %d", node->n_in,
                               node->n_out);
    const te_tensor *x = node->in[0], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", TE_DTYPE_F32, -1)) != TE_OK)
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

    te_mean_plan *p = (te_mean_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    size_t strides[TE_MAX_RANK];
    size_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= (size_t)x->dims[i];
    }
    int32_t out_dims[TE_MAX_RANK];
    int out_rank = 0;
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
    if ((st = te_expect(ctx, node, y, "output", TE_DTYPE_F32, out_rank)) != TE_OK ||
        (st = te_expect_dims(ctx, node, y, "output", out_rank, out_dims)) != TE_OK)
        return st;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

void te_mean_f32_eval(const te_node *node, void *scratch)
{
    (void)scratch;
    const te_mean_plan *p = (const te_mean_plan *)node->state;
    const float *x = (const float *)node->in[0]->data;
    float *y = (float *)node->out[0]->data;
    const size_t outputs = node->out[0]->count;
    const float count = (float)p->red_count;
    int32_t ki[TE_MAX_RANK] = {0};
    size_t base = 0;

    for (size_t o = 0; o < outputs; o++) {
        int32_t ri[TE_MAX_RANK] = {0};
        size_t off = 0;
        float acc = 0.0f;
        for (size_t r = 0; r < p->red_count; r++) {
            acc += x[base + off];
            for (int d = p->n_red - 1; d >= 0; d--) {  /* next reduced element */
                off += p->red_strides[d];
                if (++ri[d] < p->red_dims[d])
                    break;
                off -= p->red_strides[d] * (size_t)ri[d];
                ri[d] = 0;
            }
        }
        y[o] = acc / count;
        for (int d = p->n_keep - 1; d >= 0; d--) {  /* next output */
            base += p->keep_strides[d];
            if (++ki[d] < p->keep_dims[d])
                break;
            base -= p->keep_strides[d] * (size_t)ki[d];
            ki[d] = 0;
        }
    }
}
