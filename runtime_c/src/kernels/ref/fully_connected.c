/*
 * fully_connected.c - float32 reference fully connected layer (te_fully_connected_f32__ref).
 *
 * x [..., K] (rank 1..6), weight [N, K] (row n holds output n's weights, ONNX Gemm with transB=1),
 * optional bias [N], output [..., N]: y[m, n] = bias[n] + sum_k x[m, k] * weight[n, k], summed in k
 * order, then clamped to [act_min, act_max]. All leading dims of x are one batch of M rows. The
 * output channels are split among tasks (te_internal.h).
 */
#include <math.h>

#include "layer_shape.h"

te_status te_fully_connected_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_F32, TE_DTYPE_F32, TE_DTYPE_F32};
    te_fc_shape s;
    te_status st = te_fully_connected_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    float act_min = node->attrs[TE_FULLY_CONNECTED_ACT_MIN].f;
    float act_max = node->attrs[TE_FULLY_CONNECTED_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))  /* lo > hi is defined: everything becomes hi */
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)s.k;
    node->tasks = te_split_tasks(s.n, node->macs);
    return TE_OK;
}

void te_fully_connected_f32_eval(const te_node *node, void *scratch, int task)
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

    int64_t j0, j1;  /* this task's output channels */
    te_task_range(n, node->tasks, task, &j0, &j1);
    for (size_t r = 0; r < m; r++) {
        const float *xr = x + r * k;
        for (size_t j = (size_t)j0; j < (size_t)j1; j++) {
            const float *wr = w + j * k;
            float acc = bias ? bias[j] : 0.0f;
            for (size_t i = 0; i < k; i++)
                acc += xr[i] * wr[i];
            y[r * n + j] = te_clampf(acc, act_min, act_max);
        }
    }
}
