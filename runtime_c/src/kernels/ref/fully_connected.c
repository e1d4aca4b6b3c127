/*
 * fully_connected.c - float32 reference fully connected layer (te_fully_connected_f32__ref).
 *
 * x [..., K] (rank 1..6), weight [N, K] (row n holds output n's weights, ONNX Gemm with transB=1),
 * optional bias [N], output [..., N]: y[m, n] = bias[n] + sum_k x[m, k] * weight[n, k], summed in k
 * order, then clamped to [act_min, act_max]. All leading dims of x are one batch of M rows.
 */
#include <math.h>

#include "te_internal.h"

te_status te_fully_connected_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in < 2 || node->n_in > 3 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 2 or 3 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *x = node->in[0], *w = node->in[1], *y = node->out[0];
    const te_tensor *bias = node->n_in > 2 ? node->in[2] : NULL;
    te_status st;
    /* x may have any rank (-1) but 0, checked next. */
    if ((st = te_expect(ctx, node, x, "input", TE_DTYPE_F32, -1)) != TE_OK ||
        (st = te_expect(ctx, node, w, "weight", TE_DTYPE_F32, 2)) != TE_OK)
        return st;
    if (x->rank < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "input must have rank >= 1, got a scalar");
    if ((st = te_expect(ctx, node, y, "output", TE_DTYPE_F32, x->rank)) != TE_OK)
        return st;
    int32_t n = w->dims[0], k = w->dims[1];
    if (x->dims[x->rank - 1] != k)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "input's last dim %d != weight [%d, %d]'s K = %d",
                               x->dims[x->rank - 1], n, k, k);
    if (bias) {
        int32_t bias_dims[1] = {n};
        if ((st = te_expect(ctx, node, bias, "bias", TE_DTYPE_F32, 1)) != TE_OK ||
            (st = te_expect_dims(ctx, node, bias, "bias", 1, bias_dims)) != TE_OK)
            return st;
    }
    float act_min = node->attrs[TE_FULLY_CONNECTED_ACT_MIN].f;
    float act_max = node->attrs[TE_FULLY_CONNECTED_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))  /* lo > hi is defined: everything becomes hi */
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);
    int32_t out_dims[TE_MAX_RANK];
    for (int i = 0; i < x->rank - 1; i++)
        out_dims[i] = x->dims[i];
    out_dims[x->rank - 1] = n;
    if ((st = te_expect_dims(ctx, node, y, "output", x->rank, out_dims)) != TE_OK)
        return st;
    node->macs = (uint64_t)y->count * (uint64_t)k;
    return TE_OK;
}

void te_fully_connected_f32_eval(const te_node *node, void *scratch)
{
    (void)scratch;
    const te_tensor *xt = node->in[0], *wt = node->in[1];
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const float *x = (const float *)xt->data, *w = (const float *)wt->data;
    const float *bias = bt ? (const float *)bt->data : NULL;
    float *y = (float *)node->out[0]->data;
    const size_t n = (size_t)wt->dims[0], k = (size_t)wt->dims[1];
    const size_t m = xt->count / k;
    const float act_min = node->attrs[TE_FULLY_CONNECTED_ACT_MIN].f;
    const float act_max = node->attrs[TE_FULLY_CONNECTED_ACT_MAX].f;

    for (size_t r = 0; r < m; r++) {
        const float *xr = x + r * k;
        for (size_t j = 0; j < n; j++) {
            const float *wr = w + j * k;
            float acc = bias ? bias[j] : 0.0f;
            for (size_t i = 0; i < k; i++)
                acc += xr[i] * wr[i];
            y[r * n + j] = te_clampf(acc, act_min, act_max);
        }
    }
}
