/*
 * softmax.c - float32 reference softmax along one axis (te_softmax_f32__ref), ONNX Softmax
 * (opset 13): y = exp(x - max) / sum(exp(x - max)) along `axis`.
 *
 * The input is viewed as [outer, n, inner] around the axis (axis_plan.h). For each line: find the
 * max (subtracting it keeps exp from overflowing), write exp(x - max) to the output while summing it
 * in axis order, then scale the line by 1 / sum.
 */
#include <math.h>

#include "axis_plan.h"

te_status te_softmax_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 1 input and 1 output, got %d and %d", node->n_in,
                               node->n_out);
    te_softmax_plan *p = (te_softmax_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_softmax_check(node, ctx, TE_DTYPE_F32, p);
    if (st != TE_OK)
        return st;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

void te_softmax_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_softmax_plan *p = (const te_softmax_plan *)node->state;
    const float *x = (const float *)node->in[0]->data;
    float *y = (float *)node->out[0]->data;
    const size_t n = p->n, inner = p->inner;

    for (size_t o = 0; o < p->outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            const float *xl = x + o * n * inner + i;  /* the line, elements `inner` apart */
            float *yl = y + o * n * inner + i;
            float max = xl[0];
            for (size_t j = 1; j < n; j++)
                if (xl[j * inner] > max)
                    max = xl[j * inner];
            float sum = 0.0f;
            for (size_t j = 0; j < n; j++) {
                float e = expf(xl[j * inner] - max);
                yl[j * inner] = e;
                sum += e;
            }
            const float inv = 1.0f / sum;
            for (size_t j = 0; j < n; j++)
                yl[j * inner] *= inv;
        }
    }
}
