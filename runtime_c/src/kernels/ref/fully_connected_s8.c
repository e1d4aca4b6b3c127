/*
 * fully_connected_s8.c - INT8 reference fully connected layer (te_fully_connected_s8__ref).
 *
 * Shapes as the float kernel (layer_shape.h): x int8 [..., K] (M rows), weight int8 [N, K] (per
 * channel on axis 0 or per tensor, weights_s8.h), optional bias int32 [N], output int8 [..., N].
 * docs/quantization.md:
 *   acc[m, n] = bias[n] + sum_k (x[m, k] - z_x) * w[n, k]
 *   y[m, n] = clamp(requantize(acc, M_n, shift_n) + z_y, lo, hi)
 * with [lo, hi] the fused clamp quantized with the output's parameters.
 */
#include "layer_shape.h"
#include "requant_s8.h"
#include "weights_s8.h"

typedef struct {
    te_fc_shape s;
    int32_t x_zp, y_zp, lo, hi;
    te_channel_requant rq;
} te_fully_connected_s8_plan;

te_status te_fully_connected_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_I8, TE_DTYPE_I8, TE_DTYPE_I32};
    te_fully_connected_s8_plan *p =
        (te_fully_connected_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_fully_connected_check(node, ctx, dt, &p->s);
    if (st != TE_OK)
        return st;
    const te_tensor *bias = node->n_in > 2 ? node->in[2] : NULL;
    const te_attr *a = node->attrs;
    float s_x, s_y;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", -1, &s_x, &p->x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", -1, &s_y, &p->y_zp)) != TE_OK ||
        (st = te_prepare_weights_s8(node, ctx, node->in[1], bias, s_x, p->x_zp, s_y, &p->rq)) !=
            TE_OK ||
        (st = te_prepare_clamp(ctx, node, a[TE_FULLY_CONNECTED_ACT_MIN].f,
                               a[TE_FULLY_CONNECTED_ACT_MAX].f, s_y, p->y_zp, &p->lo, &p->hi)) !=
            TE_OK)
        return st;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)p->s.k;
    node->tasks = te_split_tasks(p->s.n, node->macs);
    return TE_OK;
}

void te_fully_connected_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    const te_fully_connected_s8_plan *p = (const te_fully_connected_s8_plan *)node->state;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const int8_t *x = (const int8_t *)node->in[0]->data, *w = (const int8_t *)node->in[1]->data;
    const int32_t *bias = bt ? (const int32_t *)bt->data : NULL;
    int8_t *y = (int8_t *)node->out[0]->data;
    const size_t m = p->s.m, n = p->s.n, k = p->s.k;
    const int32_t x_zp = p->x_zp;

    int64_t j0, j1;  /* this task's output channels */
    te_task_range(n, node->tasks, task, &j0, &j1);
    for (size_t r = 0; r < m; r++) {
        const int8_t *xr = x + r * k;
        for (size_t j = (size_t)j0; j < (size_t)j1; j++) {
            const int8_t *wr = w + j * k;
            int32_t acc = bias ? bias[j] : 0;
            for (size_t i = 0; i < k; i++)
                acc += ((int32_t)xr[i] - x_zp) * (int32_t)wr[i];
            y[r * n + j] = te_requant_s8(acc, p->rq.mult[j], p->rq.shift[j], p->y_zp, p->lo, p->hi);
        }
    }
}
