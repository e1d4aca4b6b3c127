/*
 * pool2d_s8.c - INT8 reference pooling over H and W of an NHWC tensor: max_pool2d
 * (te_max_pool2d_s8__ref) and avg_pool2d (te_avg_pool2d_s8__ref).
 *
 * Windows, checks and divisors as the float kernels (pool_plan.h); the output keeps the input's
 * parameters (checked at load). docs/quantization.md:
 *   max: the largest int8 value of the taps inside the input (padding never wins);
 *   avg: sum = sum (x - z_x) over those taps, n the float op's divisor (count_include_pad rules),
 *        y = sat8(z_y + div(sum, n)), div rounding half away from zero.
 * Eval walks the window's taps for all channels at once: the inner loop runs over the channels of
 * one tap, keeping the running max in the output pixel, or the int32 sums in a scratch row.
 */
#include "pool_plan.h"
#include "quant.h"
#include "requant_s8.h"

/* Same checks as the float op, int8 tensors with equal per-tensor parameters, and a window small
 * enough that avg_pool2d's sum fits int32. */
static te_status pool_s8_prepare(te_node *node, te_prepare_ctx *ctx, const te_pool_attrs *pa,
                                 int count_include_pad)
{
    te_status st = te_pool_prepare(node, ctx, TE_DTYPE_I8, pa, count_include_pad);
    if (st != TE_OK || (st = te_expect_same_qparams(ctx, node, node->in[0], node->out[0])) != TE_OK)
        return st;
    const te_tensor *x = node->in[0];
    const te_attr *kernel = &node->attrs[pa->kernel];
    /* The taps inside the input number at most min(k, size) per axis, each adding <= reach. */
    const int64_t rows = kernel->ints[0] < x->dims[1] ? kernel->ints[0] : x->dims[1];
    const int64_t cols = kernel->ints[1] < x->dims[2] ? kernel->ints[1] : x->dims[2];
    const int64_t reach = te_s8_reach(x->quant->zero_points[0]);
    if (rows * cols > INT32_MAX / reach)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "a window of %lld x %lld input pixels could overflow the int32 sum; "
                               "supported: at most %lld pixels", (long long)rows, (long long)cols,
                               (long long)(INT32_MAX / reach));
    return TE_OK;
}

te_status te_max_pool2d_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return pool_s8_prepare(node, ctx, &te_max_pool_attrs, 0);
}

te_status te_avg_pool2d_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    int cip;
    te_status st = te_avg_pool_count_include_pad(node, ctx, &cip);
    if (st != TE_OK || (st = pool_s8_prepare(node, ctx, &te_avg_pool_attrs, cip)) != TE_OK)
        return st;
    node->scratch_size = (size_t)node->in[0]->dims[3] * sizeof(int32_t);  /* sums of one pixel */
    return TE_OK;
}

void te_max_pool2d_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_pool_plan *p = (const te_pool_plan *)node->state;
    const te_tensor *xt = node->in[0], *yt = node->out[0];
    const int8_t *x = (const int8_t *)xt->data;
    int8_t *y = (int8_t *)yt->data;
    const size_t n = (size_t)xt->dims[0], h = (size_t)xt->dims[1], w = (size_t)xt->dims[2];
    const size_t c = (size_t)xt->dims[3], oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2];
    const size_t dh = (size_t)p->dh, dw = (size_t)p->dw;

    for (size_t b = 0; b < n; b++) {
        const int8_t *xb = x + b * h * w * c;
        for (size_t oy = 0; oy < oh; oy++) {
            const te_pool_span *r = &p->rows[oy];
            const size_t ny = (size_t)(r->k_end - r->k_begin);
            for (size_t ox = 0; ox < ow; ox++) {
                const te_pool_span *s = &p->cols[ox];
                const size_t nx = (size_t)(s->k_end - s->k_begin);
                const int8_t *x0 = xb + ((size_t)r->first * w + (size_t)s->first) * c;
                int8_t *yp = y + ((b * oh + oy) * ow + ox) * c;
                for (size_t ch = 0; ch < c; ch++)
                    yp[ch] = -128;  /* the least int8: prepare ensured the window has a pixel */
                for (size_t ky = 0; ky < ny; ky++)
                    for (size_t kx = 0; kx < nx; kx++) {
                        const int8_t *xp = x0 + (ky * dh * w + kx * dw) * c;
                        for (size_t ch = 0; ch < c; ch++)
                            yp[ch] = xp[ch] > yp[ch] ? xp[ch] : yp[ch];
                    }
            }
        }
    }
}

/* sum / count rounded half away from zero (count >= 1): docs/quantization.md's div. In 64 bits:
 * a count_include_pad divisor (padded rows x padded columns) may exceed int32. */
static inline int64_t div_round_away(int64_t sum, int64_t count)
{
    return sum >= 0 ? (sum + count / 2) / count : -((-sum + count / 2) / count);
}

void te_avg_pool2d_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)task;
    const te_pool_plan *p = (const te_pool_plan *)node->state;
    const te_tensor *xt = node->in[0], *yt = node->out[0];
    const int8_t *x = (const int8_t *)xt->data;
    int8_t *y = (int8_t *)yt->data;
    int32_t *sum = (int32_t *)scratch;  /* per channel */
    const size_t n = (size_t)xt->dims[0], h = (size_t)xt->dims[1], w = (size_t)xt->dims[2];
    const size_t c = (size_t)xt->dims[3], oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2];
    const int32_t zp = xt->quant->zero_points[0];  /* the output's too (checked at load) */

    for (size_t b = 0; b < n; b++) {
        const int8_t *xb = x + b * h * w * c;
        for (size_t oy = 0; oy < oh; oy++) {
            const te_pool_span *r = &p->rows[oy];
            const size_t ny = (size_t)(r->k_end - r->k_begin);
            for (size_t ox = 0; ox < ow; ox++) {
                const te_pool_span *s = &p->cols[ox];
                const size_t nx = (size_t)(s->k_end - s->k_begin);
                const int8_t *x0 = xb + ((size_t)r->first * w + (size_t)s->first) * c;
                int8_t *yp = y + ((b * oh + oy) * ow + ox) * c;
                const int64_t count = p->count_include_pad ? (int64_t)r->padded * s->padded
                                                           : (int64_t)(ny * nx);
                for (size_t ch = 0; ch < c; ch++)
                    sum[ch] = 0;
                for (size_t ky = 0; ky < ny; ky++)
                    for (size_t kx = 0; kx < nx; kx++) {
                        const int8_t *xp = x0 + (ky * w + kx) * c;
                        for (size_t ch = 0; ch < c; ch++)
                            sum[ch] += (int32_t)xp[ch] - zp;
                    }
                for (size_t ch = 0; ch < c; ch++) {
                    const int64_t v = zp + div_round_away(sum[ch], count);
                    yp[ch] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
                }
            }
        }
    }
}
