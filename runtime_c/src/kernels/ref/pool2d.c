/*
 * pool2d.c - float32 reference pooling over H and W of an NHWC tensor: max_pool2d
 * (te_max_pool2d_f32__ref) and avg_pool2d (te_avg_pool2d_f32__ref).
 *
 * The window tables and every check live in pool_plan.h. Max takes the largest value of the taps
 * inside the input; avg divides their sum by the count the plan gives (count_include_pad or not).
 */
#include "pool_plan.h"

te_status te_max_pool2d_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    /* Padding never wins a max, so a max pool is treated like avg without count_include_pad. */
    return te_pool_prepare(node, ctx, TE_DTYPE_F32, &te_max_pool_attrs, 0);
}

te_status te_avg_pool2d_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    int cip;
    te_status st = te_avg_pool_count_include_pad(node, ctx, &cip);
    if (st != TE_OK)
        return st;
    return te_pool_prepare(node, ctx, TE_DTYPE_F32, &te_avg_pool_attrs, cip);
}

void te_max_pool2d_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_pool_plan *p = (const te_pool_plan *)node->state;
    const te_tensor *xt = node->in[0], *yt = node->out[0];
    const float *x = (const float *)xt->data;
    float *y = (float *)yt->data;
    const size_t n = (size_t)xt->dims[0], h = (size_t)xt->dims[1], w = (size_t)xt->dims[2];
    const size_t c = (size_t)xt->dims[3], oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2];
    const size_t dh = (size_t)p->dh, dw = (size_t)p->dw;

    for (size_t b = 0; b < n; b++) {
        const float *xb = x + b * h * w * c;
        for (size_t oy = 0; oy < oh; oy++) {
            const te_pool_span *r = &p->rows[oy];
            const size_t ny = (size_t)(r->k_end - r->k_begin);
            for (size_t ox = 0; ox < ow; ox++) {
                const te_pool_span *s = &p->cols[ox];
                const size_t nx = (size_t)(s->k_end - s->k_begin);
                const float *x0 = xb + ((size_t)r->first * w + (size_t)s->first) * c;
                float *yp = y + ((b * oh + oy) * ow + ox) * c;
                for (size_t ch = 0; ch < c; ch++) {
                    float m = x0[ch];  /* prepare ensured the window has this pixel */
                    for (size_t ky = 0; ky < ny; ky++)
                        for (size_t kx = 0; kx < nx; kx++) {
                            float v = x0[(ky * dh * w + kx * dw) * c + ch];
                            if (v > m)
                                m = v;
                        }
                    yp[ch] = m;
                }
            }
        }
    }
}

void te_avg_pool2d_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_pool_plan *p = (const te_pool_plan *)node->state;
    const te_tensor *xt = node->in[0], *yt = node->out[0];
    const float *x = (const float *)xt->data;
    float *y = (float *)yt->data;
    const size_t n = (size_t)xt->dims[0], h = (size_t)xt->dims[1], w = (size_t)xt->dims[2];
    const size_t c = (size_t)xt->dims[3], oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2];

    for (size_t b = 0; b < n; b++) {
        const float *xb = x + b * h * w * c;
        for (size_t oy = 0; oy < oh; oy++) {
            const te_pool_span *r = &p->rows[oy];
            const size_t ny = (size_t)(r->k_end - r->k_begin);
            for (size_t ox = 0; ox < ow; ox++) {
                const te_pool_span *s = &p->cols[ox];
                const size_t nx = (size_t)(s->k_end - s->k_begin);
                const float *x0 = xb + ((size_t)r->first * w + (size_t)s->first) * c;
                float *yp = y + ((b * oh + oy) * ow + ox) * c;
                const float count = p->count_include_pad
                                        ? (float)((int64_t)r->padded * s->padded)
                                        : (float)((int64_t)ny * (int64_t)nx);
                for (size_t ch = 0; ch < c; ch++) {
                    float acc = 0.0f;
                    for (size_t ky = 0; ky < ny; ky++)
                        for (size_t kx = 0; kx < nx; kx++)
                            acc += x0[(ky * w + kx) * c + ch];
                    yp[ch] = acc / count;
                }
            }
        }
    }
}
