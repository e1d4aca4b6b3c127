/*
 * mean.c - float32 reference mean over a set of axes (te_mean_f32__ref), ONNX ReduceMean /
 * numpy.mean(axis=axes, keepdims=...) for ranks 0..6.
 *
 * Each output sums its reduced elements in increasing input order (axis_plan.h), then divides by
 * their count.
 */
#include "axis_plan.h"

te_status te_mean_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_mean_plan *p = (te_mean_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_mean_check(node, ctx, TE_DTYPE_F32, p);
    if (st != TE_OK)
        return st;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

void te_mean_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
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
            te_odometer_next(p->n_red, p->red_dims, p->red_strides, ri, &off);
        }
        y[o] = acc / count;
        te_odometer_next(p->n_keep, p->keep_dims, p->keep_strides, ki, &base);
    }
}
