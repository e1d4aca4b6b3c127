/*
 * conv2d_s8.c - INT8 reference 2-D convolution (te_conv2d_s8__ref), depthwise and grouped included.
 *
 * Shapes as the float kernel (layer_shape.h): x NHWC int8, weight OHWI int8 (per channel or per
 * tensor, weights_s8.h), optional bias int32 [O], output NHWC int8. docs/quantization.md:
 *   acc[oc] = bias[oc] + sum over (ky, kx, ic) of (x - z_x) * w[oc]   (a padded tap adds 0)
 *   y = clamp(requantize(acc, M_oc, shift_oc) + z_y, lo, hi)
 * with [lo, hi] the fused clamp quantized with the output's parameters. Prepare proves the int32
 * accumulator cannot overflow. Slow by design: the definition SIMD kernels are checked against.
 */
#include "layer_shape.h"
#include "requant_s8.h"
#include "weights_s8.h"

typedef struct {
    te_conv2d_shape s;
    int32_t x_zp, y_zp, lo, hi;
    te_channel_requant rq;
} te_conv2d_s8_plan;

te_status te_conv2d_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_I8, TE_DTYPE_I8, TE_DTYPE_I32};
    te_conv2d_s8_plan *p = (te_conv2d_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_conv2d_check(node, ctx, dt, &p->s);
    if (st != TE_OK)
        return st;
    const te_tensor *bias = node->n_in > 2 ? node->in[2] : NULL;
    float s_x, s_y;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", 4, &s_x, &p->x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", 4, &s_y, &p->y_zp)) != TE_OK ||
        (st = te_prepare_weights_s8(node, ctx, node->in[1], bias, s_x, p->x_zp, s_y, &p->rq)) !=
            TE_OK ||
        (st = te_prepare_clamp(ctx, node, node->attrs[TE_CONV2D_ACT_MIN].f,
                               node->attrs[TE_CONV2D_ACT_MAX].f, s_y, p->y_zp, &p->lo, &p->hi)) !=
            TE_OK)
        return st;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)p->s.kh * (uint64_t)p->s.kw *
                 (uint64_t)p->s.ci;
    return TE_OK;
}

void te_conv2d_s8_eval(const te_node *node, void *scratch)
{
    (void)scratch;
    const te_conv2d_s8_plan *p = (const te_conv2d_s8_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const int8_t *x = (const int8_t *)node->in[0]->data, *w = (const int8_t *)node->in[1]->data;
    const int32_t *bias = bt ? (const int32_t *)bt->data : NULL;
    int8_t *y = (int8_t *)node->out[0]->data;

    const int64_t h = s->h, wd = s->w, c = s->c, o = s->o, kh = s->kh, kw = s->kw, ci = s->ci;
    const int64_t oh = s->oh, ow = s->ow, og = o / s->group;  /* output channels per group */
    const int32_t x_zp = p->x_zp;

    for (int64_t b = 0; b < s->n; b++) {
        const int8_t *xb = x + b * h * wd * c;
        for (int64_t oy = 0; oy < oh; oy++) {
            const int64_t iy0 = oy * s->sh - s->pt;
            for (int64_t ox = 0; ox < ow; ox++) {
                const int64_t ix0 = ox * s->sw - s->pl;
                int8_t *yp = y + ((b * oh + oy) * ow + ox) * o;
                for (int64_t oc = 0; oc < o; oc++) {
                    const int64_t c0 = (oc / og) * ci;  /* first input channel of oc's group */
                    const int8_t *wo = w + oc * kh * kw * ci;
                    int32_t acc = bias ? bias[oc] : 0;
                    for (int64_t ky = 0; ky < kh; ky++) {
                        const int64_t iy = iy0 + ky * s->dh;
                        if (iy < 0 || iy >= h)
                            continue;
                        for (int64_t kx = 0; kx < kw; kx++) {
                            const int64_t ix = ix0 + kx * s->dw;
                            if (ix < 0 || ix >= wd)
                                continue;
                            const int8_t *xp = xb + (iy * wd + ix) * c + c0;
                            const int8_t *wp = wo + (ky * kw + kx) * ci;
                            for (int64_t ic = 0; ic < ci; ic++)
                                acc += ((int32_t)xp[ic] - x_zp) * (int32_t)wp[ic];
                        }
                    }
                    yp[oc] = te_requant_s8(acc, p->rq.mult[oc], p->rq.shift[oc], p->y_zp, p->lo,
                                           p->hi);
                }
            }
        }
    }
}
