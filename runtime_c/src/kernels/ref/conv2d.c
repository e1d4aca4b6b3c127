/*
 * conv2d.c - float32 reference 2-D convolution (te_conv2d_f32__ref).
 *
 * x NHWC [N, H, W, C], weight OHWI [O, KH, KW, C/group], optional bias [O], output NHWC
 * [N, OH, OW, O]. Output channel oc belongs to group oc / (O/group) and reads the input channels of
 * that group. Each output is bias + sum over (ky, kx, ic) in that order, padding contributing
 * nothing, then clamped to [act_min, act_max]. Slow by design: the portable definition that SIMD
 * kernels are checked against.
 */
#include <math.h>

#include "layer_shape.h"

te_status te_conv2d_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_F32, TE_DTYPE_F32, TE_DTYPE_F32};
    te_conv2d_shape s;
    te_status st = te_conv2d_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    float act_min = node->attrs[TE_CONV2D_ACT_MIN].f, act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))  /* lo > hi is defined: everything becomes hi */
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)s.kh * (uint64_t)s.kw * (uint64_t)s.ci;
    return TE_OK;
}

void te_conv2d_f32_eval(const te_node *node, void *scratch)
{
    (void)scratch;
    const te_tensor *xt = node->in[0], *wt = node->in[1];
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const te_tensor *yt = node->out[0];
    const float *x = (const float *)xt->data, *w = (const float *)wt->data;
    const float *bias = bt ? (const float *)bt->data : NULL;
    float *y = (float *)yt->data;
    const te_attr *a = node->attrs;

    const int64_t n = xt->dims[0], h = xt->dims[1], wd = xt->dims[2], c = xt->dims[3];
    const int64_t o = wt->dims[0], kh = wt->dims[1], kw = wt->dims[2], ci = wt->dims[3];
    const int64_t oh = yt->dims[1], ow = yt->dims[2];
    const int64_t sh = a[TE_CONV2D_STRIDES].ints[0], sw = a[TE_CONV2D_STRIDES].ints[1];
    const int64_t dh = a[TE_CONV2D_DILATIONS].ints[0], dw = a[TE_CONV2D_DILATIONS].ints[1];
    const int64_t pt = a[TE_CONV2D_PADS].ints[0], pl = a[TE_CONV2D_PADS].ints[1];
    const int64_t og = o / a[TE_CONV2D_GROUP].i;  /* output channels per group */
    const float act_min = a[TE_CONV2D_ACT_MIN].f, act_max = a[TE_CONV2D_ACT_MAX].f;

    for (int64_t b = 0; b < n; b++) {
        const float *xb = x + b * h * wd * c;
        for (int64_t oy = 0; oy < oh; oy++) {
            const int64_t iy0 = oy * sh - pt;
            for (int64_t ox = 0; ox < ow; ox++) {
                const int64_t ix0 = ox * sw - pl;
                float *yp = y + ((b * oh + oy) * ow + ox) * o;
                for (int64_t oc = 0; oc < o; oc++) {
                    const int64_t c0 = (oc / og) * ci;  /* first input channel of oc's group */
                    const float *wo = w + oc * kh * kw * ci;
                    float acc = bias ? bias[oc] : 0.0f;
                    for (int64_t ky = 0; ky < kh; ky++) {
                        const int64_t iy = iy0 + ky * dh;
                        if (iy < 0 || iy >= h)
                            continue;
                        for (int64_t kx = 0; kx < kw; kx++) {
                            const int64_t ix = ix0 + kx * dw;
                            if (ix < 0 || ix >= wd)
                                continue;
                            const float *xp = xb + (iy * wd + ix) * c + c0;
                            const float *wp = wo + (ky * kw + kx) * ci;
                            for (int64_t ic = 0; ic < ci; ic++)
                                acc += xp[ic] * wp[ic];
                        }
                    }
                    yp[oc] = te_clampf(acc, act_min, act_max);
                }
            }
        }
    }
}
