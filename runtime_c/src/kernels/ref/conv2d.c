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

#include "te_internal.h"

te_status te_conv2d_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in < 2 || node->n_in > 3 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 2 or 3 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *x = node->in[0], *w = node->in[1];
    const te_tensor *bias = node->n_in > 2 ? node->in[2] : NULL;
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", TE_DTYPE_F32, 4)) != TE_OK ||
        (st = te_expect(ctx, node, w, "weight", TE_DTYPE_F32, 4)) != TE_OK ||
        (st = te_expect(ctx, node, node->out[0], "output", TE_DTYPE_F32, 4)) != TE_OK)
        return st;

    const te_attr *a = node->attrs;
    const te_attr *strides = &a[TE_CONV2D_STRIDES], *dil = &a[TE_CONV2D_DILATIONS];
    const te_attr *pads = &a[TE_CONV2D_PADS];
    if (strides->n != 2 || strides->ints[0] < 1 || strides->ints[1] < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "strides must be 2 values >= 1 (h, w), got %u: %d, %d, ...",
                               strides->n, strides->ints[0], strides->ints[1]);
    if (dil->n != 2 || dil->ints[0] < 1 || dil->ints[1] < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "dilations must be 2 values >= 1 (h, w), got %u: %d, %d, ...",
                               dil->n, dil->ints[0], dil->ints[1]);
    if (pads->n != 4 || pads->ints[0] < 0 || pads->ints[1] < 0 || pads->ints[2] < 0 ||
        pads->ints[3] < 0)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "pads must be 4 values >= 0 (top, left, bottom, right), "
                               "got %u: %d, %d, %d, %d, ...",
                               pads->n, pads->ints[0], pads->ints[1], pads->ints[2], pads->ints[3]);
    float act_min = a[TE_CONV2D_ACT_MIN].f, act_max = a[TE_CONV2D_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))  /* lo > hi is defined: everything becomes hi */
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);

    int32_t n = x->dims[0], h = x->dims[1], wd = x->dims[2], c = x->dims[3];
    int32_t o = w->dims[0], kh = w->dims[1], kw = w->dims[2], ci = w->dims[3];
    int32_t group = a[TE_CONV2D_GROUP].i;
    if (group < 1 || c % group != 0 || o % group != 0 || ci != c / group)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "input channels %d, weight [%d, %d, %d, %d] and group %d do "
                               "not fit (need group >= 1 dividing both channel counts and weight "
                               "I = C/group)", c, o, kh, kw, ci, group);
    if (bias) {
        int32_t bias_dims[1] = {o};
        if ((st = te_expect(ctx, node, bias, "bias", TE_DTYPE_F32, 1)) != TE_OK ||
            (st = te_expect_dims(ctx, node, bias, "bias", 1, bias_dims)) != TE_OK)
            return st;
    }
    int64_t oh = te_window_out(h, kh, strides->ints[0], dil->ints[0], pads->ints[0],
                               pads->ints[2], 0);
    int64_t ow = te_window_out(wd, kw, strides->ints[1], dil->ints[1], pads->ints[1],
                               pads->ints[3], 0);
    if (oh < 1 || ow < 1 || oh > INT32_MAX || ow > INT32_MAX)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "kernel %dx%d with dilations (%d, %d) does not fit the "
                               "padded %dx%d input", kh, kw, dil->ints[0], dil->ints[1], h, wd);
    int32_t out_dims[4] = {n, (int32_t)oh, (int32_t)ow, o};
    if ((st = te_expect_dims(ctx, node, node->out[0], "output", 4, out_dims)) != TE_OK)
        return st;

    node->macs = (uint64_t)node->out[0]->count * (uint64_t)kh * (uint64_t)kw * (uint64_t)ci;
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
