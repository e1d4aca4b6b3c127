/*
 * conv_transpose2d.c - float32 reference transposed 2-D convolution
 * (te_conv_transpose2d_f32__ref), ONNX ConvTranspose semantics in NHWC.
 *
 * x NHWC [N, H, W, C], weight IHWO [C, KH, KW, O/group], optional bias [O], output NHWC
 * [N, OH, OW, O] with OH = (H - 1) * stride - pad_top - pad_bottom + dilation * (KH - 1) +
 * output_padding + 1 (same for W). Input pixel (iy, ix) scatters into output pixel
 * (iy * stride - pad_top + ky * dilation, ...). The kernel gathers instead of scattering, so that every
 * output is written once (no scratch, clamp applied in the same pass): for output row oy and tap ky
 * the input row is (oy + pad_top - ky * dilation) / stride when that divides exactly and lands inside
 * the input. Sums run over (ky, kx, ic) in that order.
 */
#include <math.h>

#include "layer_shape.h"
#include "te_internal.h"

te_status te_conv_transpose2d_f32_prepare(te_node *node, te_prepare_ctx *ctx)
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
    const te_attr *strides = &a[TE_CONV_TRANSPOSE2D_STRIDES];
    const te_attr *dil = &a[TE_CONV_TRANSPOSE2D_DILATIONS];
    const te_attr *pads = &a[TE_CONV_TRANSPOSE2D_PADS];
    const te_attr *opad = &a[TE_CONV_TRANSPOSE2D_OUTPUT_PADDING];
    if ((st = te_expect_window_attrs(ctx, node, strides, dil, pads)) != TE_OK)
        return st;
    if (opad->n != 2 || opad->ints[0] < 0 || opad->ints[1] < 0)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "output_padding must be 2 values >= 0 (h, w), "
                               "got %u: %d, %d, ...", opad->n, opad->ints[0], opad->ints[1]);
    float act_min = a[TE_CONV_TRANSPOSE2D_ACT_MIN].f, act_max = a[TE_CONV_TRANSPOSE2D_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))  /* lo > hi is defined: everything becomes hi */
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);

    int32_t n = x->dims[0], h = x->dims[1], wd = x->dims[2], c = x->dims[3];
    int32_t wc = w->dims[0], kh = w->dims[1], kw = w->dims[2], og = w->dims[3];
    int32_t group = a[TE_CONV_TRANSPOSE2D_GROUP].i;
    if (group < 1 || wc != c || c % group != 0 || (int64_t)og * group > INT32_MAX)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "input channels %d, weight [%d, %d, %d, %d] and "
                               "group %d do not fit (need weight I = C and group >= 1 dividing C)",
                               c, wc, kh, kw, og, group);
    int32_t o = og * group;
    if (bias) {
        int32_t bias_dims[1] = {o};
        if ((st = te_expect(ctx, node, bias, "bias", TE_DTYPE_F32, 1)) != TE_OK ||
            (st = te_expect_dims(ctx, node, bias, "bias", 1, bias_dims)) != TE_OK)
            return st;
    }
    /* The op table's formula, in 64 bits: every term is an int32. */
    int64_t oh = (int64_t)(h - 1) * strides->ints[0] - pads->ints[0] - pads->ints[2] +
                 (int64_t)dil->ints[0] * (kh - 1) + opad->ints[0] + 1;
    int64_t ow = (int64_t)(wd - 1) * strides->ints[1] - pads->ints[1] - pads->ints[3] +
                 (int64_t)dil->ints[1] * (kw - 1) + opad->ints[1] + 1;
    if (oh < 1 || ow < 1 || oh > INT32_MAX || ow > INT32_MAX)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "output would be %lldx%lld (pads too large for "
                               "the %dx%d input)", (long long)oh, (long long)ow, h, wd);
    int32_t out_dims[4] = {n, (int32_t)oh, (int32_t)ow, o};
    if ((st = te_expect_dims(ctx, node, node->out[0], "output", 4, out_dims)) != TE_OK)
        return st;

    /* Each input value meets each tap of its group's output channels once. */
    node->macs = (uint64_t)x->count * (uint64_t)kh * (uint64_t)kw * (uint64_t)og;
    return TE_OK;
}

void te_conv_transpose2d_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_tensor *xt = node->in[0], *wt = node->in[1];
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const te_tensor *yt = node->out[0];
    const float *x = (const float *)xt->data, *w = (const float *)wt->data;
    const float *bias = bt ? (const float *)bt->data : NULL;
    float *y = (float *)yt->data;
    const te_attr *a = node->attrs;

    const int64_t n = xt->dims[0], h = xt->dims[1], wd = xt->dims[2], c = xt->dims[3];
    const int64_t kh = wt->dims[1], kw = wt->dims[2], og = wt->dims[3];
    const int64_t oh = yt->dims[1], ow = yt->dims[2], o = yt->dims[3];
    const int64_t sh = a[TE_CONV_TRANSPOSE2D_STRIDES].ints[0];
    const int64_t sw = a[TE_CONV_TRANSPOSE2D_STRIDES].ints[1];
    const int64_t dh = a[TE_CONV_TRANSPOSE2D_DILATIONS].ints[0];
    const int64_t dw = a[TE_CONV_TRANSPOSE2D_DILATIONS].ints[1];
    const int64_t pt = a[TE_CONV_TRANSPOSE2D_PADS].ints[0];
    const int64_t pl = a[TE_CONV_TRANSPOSE2D_PADS].ints[1];
    const int64_t cg = c / a[TE_CONV_TRANSPOSE2D_GROUP].i;  /* input channels per group */
    const float act_min = a[TE_CONV_TRANSPOSE2D_ACT_MIN].f;
    const float act_max = a[TE_CONV_TRANSPOSE2D_ACT_MAX].f;

    for (int64_t b = 0; b < n; b++) {
        const float *xb = x + b * h * wd * c;
        for (int64_t oy = 0; oy < oh; oy++) {
            for (int64_t ox = 0; ox < ow; ox++) {
                float *yp = y + ((b * oh + oy) * ow + ox) * o;
                for (int64_t oc = 0; oc < o; oc++) {
                    const int64_t g = oc / og, oo = oc % og;
                    float acc = bias ? bias[oc] : 0.0f;
                    for (int64_t ky = 0; ky < kh; ky++) {
                        const int64_t ny = oy + pt - ky * dh;  /* = iy * sh when iy exists */
                        if (ny < 0 || ny % sh != 0 || ny / sh >= h)
                            continue;
                        const int64_t iy = ny / sh;
                        for (int64_t kx = 0; kx < kw; kx++) {
                            const int64_t nx = ox + pl - kx * dw;
                            if (nx < 0 || nx % sw != 0 || nx / sw >= wd)
                                continue;
                            const int64_t ix = nx / sw;
                            const float *xp = xb + (iy * wd + ix) * c + g * cg;
                            /* weight [ic][ky][kx][oo] for the group's input channels ic */
                            const float *wp = w + ((g * cg * kh + ky) * kw + kx) * og + oo;
                            for (int64_t ic = 0; ic < cg; ic++)
                                acc += xp[ic] * wp[ic * kh * kw * og];
                        }
                    }
                    yp[oc] = te_clampf(acc, act_min, act_max);
                }
            }
        }
    }
}
