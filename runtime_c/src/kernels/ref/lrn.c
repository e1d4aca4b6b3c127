/*
 * lrn.c - float32 reference local response normalization across channels (te_lrn_f32__ref),
 * ONNX LRN moved to NHWC (channels are the last axis):
 *   y[c] = x[c] / (bias + alpha / size * sum_{i = lo}^{hi} x[i]^2)^beta,
 *   lo = max(0, c - floor((size - 1) / 2)), hi = min(C - 1, c + ceil((size - 1) / 2)).
 * Sums run in increasing channel order.
 */
#include <math.h>

#include "te_internal.h"

te_status te_lrn_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 1 input and 1 output, got %d and %d", node->n_in,
                               node->n_out);
    const te_tensor *x = node->in[0], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", TE_DTYPE_F32, 4)) != TE_OK ||
        (st = te_expect(ctx, node, y, "output", TE_DTYPE_F32, 4)) != TE_OK ||
        (st = te_expect_dims(ctx, node, y, "output", 4, x->dims)) != TE_OK)
        return st;
    const te_attr *a = node->attrs;
    if (a[TE_LRN_SIZE].i < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "size must be >= 1, got %d",
                               a[TE_LRN_SIZE].i);
    if (!isfinite(a[TE_LRN_ALPHA].f) || !isfinite(a[TE_LRN_BETA].f) || !isfinite(a[TE_LRN_BIAS].f))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "alpha %g, beta %g and bias %g must be finite",
                               a[TE_LRN_ALPHA].f, a[TE_LRN_BETA].f, a[TE_LRN_BIAS].f);
    node->macs = 0;
    return TE_OK;
}

void te_lrn_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_tensor *xt = node->in[0];
    const float *x = (const float *)xt->data;
    float *y = (float *)node->out[0]->data;
    const te_attr *a = node->attrs;
    const int64_t size = a[TE_LRN_SIZE].i;
    const int64_t before = (size - 1) / 2, after = (size - 1) - before;  /* floor, ceil */
    const float alpha_over_size = a[TE_LRN_ALPHA].f / (float)size;
    const float beta = a[TE_LRN_BETA].f, bias = a[TE_LRN_BIAS].f;
    const int64_t c = xt->dims[3];
    const size_t pixels = xt->count / (size_t)c;

    for (size_t px = 0; px < pixels; px++) {
        const float *xp = x + px * (size_t)c;
        float *yp = y + px * (size_t)c;
        for (int64_t ch = 0; ch < c; ch++) {
            const int64_t lo = ch - before < 0 ? 0 : ch - before;
            const int64_t hi = ch + after > c - 1 ? c - 1 : ch + after;
            float sq = 0.0f;
            for (int64_t i = lo; i <= hi; i++)
                sq += xp[i] * xp[i];
            yp[ch] = xp[ch] / powf(bias + alpha_over_size * sq, beta);
        }
    }
}
