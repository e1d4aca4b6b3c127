/*
 * dwconv3x3_s8.c - INT8 depthwise 3x3 convolution, plain NEON (te_dwconv3x3_s8_c8__neon): a conv2d
 * with group == C == O (channel multiplier 1), a 3x3 window, no dilation, strides 1 or 2 on each
 * axis and any pads. Other conv2d nodes are refused with TE_ERR_UNSUPPORTED (the loader takes the
 * next kernel).
 *
 * Per output pixel, eight channels at a time: the bias, then for each of the window's taps inside
 * the input (a padded tap adds 0, as in the reference) (x - z_x) widened to int16 (SSUBL) times the
 * weight (widened to int16 once, at prepare) accumulated into int32 (SMLAL), then the vector
 * requantization; the last C mod 8 channels take the same sums in scalar code. Every product and
 * sum is exact in int32 (the reference's overflow proof), so the result is bit-exact with
 * te_conv2d_s8__ref. The output rows (image, oy) are split among tasks (te_internal.h).
 */
#include "requant_s8_neon.h"

#if defined(__ARM_NEON)
#include "kernels/ref/conv2d_pack.h"
#include "kernels/ref/requant_s8.h"

typedef struct {
    te_conv2d_shape s;
    const int16_t *w;      /* [9][C]: tap (ky * 3 + kx), then channel */
    te_neon_requant rq;    /* rq.bias: the int32 bias (0 when absent) */
    te_neon_output out;
    int32_t x_zp;
} te_dwconv3x3_s8_plan;

static int is_depthwise3x3(const te_conv2d_shape *s)
{
    return s->group == s->c && s->group == s->o && s->kh == 3 && s->kw == 3 && s->dh == 1 &&
           s->dw == 1 && (s->sh == 1 || s->sh == 2) && (s->sw == 1 || s->sw == 2);
}

te_status te_dwconv3x3_s8_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_I8, TE_DTYPE_I8, TE_DTYPE_I32};
    te_conv2d_shape s;
    te_status st = te_conv2d_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    if (!is_depthwise3x3(&s))
        return te_prepare_fail(ctx, node, TE_ERR_UNSUPPORTED,
                               "takes depthwise (group = channels = outputs) 3x3 convolutions with "
                               "strides 1 or 2 and no dilation only (this one: %dx%d, group %d of "
                               "%d channels, stride %dx%d, dilation %dx%d)", (int)s.kh, (int)s.kw,
                               (int)s.group, (int)s.c, (int)s.sh, (int)s.sw, (int)s.dh, (int)s.dw);
    te_dwconv3x3_s8_plan *p = (te_dwconv3x3_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    p->s = s;
    const te_tensor *w = node->in[1];
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    te_channel_requant rq;
    float s_x, s_y;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", 4, &s_x, &p->x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", 4, &s_y,
                                &p->out.zero_point)) != TE_OK ||
        (st = te_prepare_weights_s8(node, ctx, w, bt, s_x, p->x_zp, s_y, &rq)) != TE_OK ||
        (st = te_prepare_clamp(ctx, node, node->attrs[TE_CONV2D_ACT_MIN].f,
                               node->attrs[TE_CONV2D_ACT_MAX].f, s_y, p->out.zero_point,
                               &p->out.lo, &p->out.hi)) != TE_OK)
        return st;
    const size_t c = (size_t)s.c;
    int16_t *w16 = (int16_t *)te_prepare_alloc(ctx, 9 * c * sizeof(int16_t));
    int64_t *bias = (int64_t *)te_prepare_alloc(ctx, c * sizeof(int64_t));
    if (!w16 || !bias)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its weights (%lu "
                               "channels)", (unsigned long)c);
    /* OHWI [C, 3, 3, 1] -> [9][C], widened. */
    const int8_t *wv = (const int8_t *)w->data;
    for (size_t ch = 0; ch < c; ch++)
        for (size_t t = 0; t < 9; t++)
            w16[t * c + ch] = wv[ch * 9 + t];
    for (size_t ch = 0; ch < c; ch++)
        bias[ch] = bt ? ((const int32_t *)bt->data)[ch] : 0;
    if ((st = te_neon_requant_prepare(node, ctx, &rq, bias, c, &p->rq)) != TE_OK)
        return st;
    p->w = w16;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * 9u;
    node->tasks = te_split_tasks((uint64_t)s.n * (uint64_t)s.oh, node->macs);
    return TE_OK;
}

/* One output pixel: yp[0..C) from the window taps ky in [ky0, ky1), kx in [kx0, kx1) (those
 * inside the input), the window starting at input row iy0 and column ix0 of image xb. Only
 * pointers to taps inside the input are formed. */
static void dw_pixel(const te_dwconv3x3_s8_plan *p, const int8_t *xb, int64_t iy0, int64_t ix0,
                     int64_t ky0, int64_t ky1, int64_t kx0, int64_t kx1, int8_t *yp)
{
    const int64_t c = p->s.c, wd = p->s.w, taps = kx1 - kx0;
    if (taps == 0)  /* every column in the padding: the sums are the biases */
        ky1 = ky0;
    const int8x8_t zx = vdup_n_s8((int8_t)p->x_zp);
    int64_t ch = 0;
    for (; ch + 8 <= c; ch += 8) {
        int32x4_t lo = vld1q_s32(p->rq.bias + ch), hi = vld1q_s32(p->rq.bias + ch + 4);
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const int8_t *xr = xb + ((iy0 + ky) * wd + ix0 + kx0) * c + ch;
            const int16_t *wr = p->w + (ky * 3 + kx0) * c + ch;
            for (int64_t t = 0; t < taps; t++) {
                const int16x8_t xv = vsubl_s8(vld1_s8(xr + t * c), zx);
                const int16x8_t wv = vld1q_s16(wr + t * c);
                lo = vmlal_s16(lo, vget_low_s16(xv), vget_low_s16(wv));
                hi = vmlal_s16(hi, vget_high_s16(xv), vget_high_s16(wv));
            }
        }
        const int32x4_t zy = vdupq_n_s32(p->out.zero_point);
        const int32x4_t qlo = vdupq_n_s32(p->out.lo), qhi = vdupq_n_s32(p->out.hi);
        lo = te_neon_requant4(lo, vld1q_s32(p->rq.mult + ch), vld1q_s32(p->rq.left + ch),
                              vld1q_s32(p->rq.right + ch), zy, qlo, qhi);
        hi = te_neon_requant4(hi, vld1q_s32(p->rq.mult + ch + 4), vld1q_s32(p->rq.left + ch + 4),
                              vld1q_s32(p->rq.right + ch + 4), zy, qlo, qhi);
        vst1_s8(yp + ch, te_neon_narrow8(lo, hi));
    }
    for (; ch < c; ch++) {
        int32_t acc = p->rq.bias[ch];
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const int8_t *xr = xb + ((iy0 + ky) * wd + ix0 + kx0) * c + ch;
            const int16_t *wr = p->w + (ky * 3 + kx0) * c + ch;
            for (int64_t t = 0; t < taps; t++)
                acc += (xr[t * c] - p->x_zp) * wr[t * c];
        }
        /* left + right is the shift: one of the two is 0. */
        yp[ch] = te_requant_s8(acc, p->rq.mult[ch], p->rq.left[ch] + p->rq.right[ch],
                               p->out.zero_point, p->out.lo, p->out.hi);
    }
}

void te_dwconv3x3_s8_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    const te_dwconv3x3_s8_plan *p = (const te_dwconv3x3_s8_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    const int64_t h = s->h, wd = s->w, c = s->c, oh = s->oh, ow = s->ow;
    int64_t row0, row1;  /* this task's output rows b * oh + oy */
    te_task_range((uint64_t)s->n * (uint64_t)oh, node->tasks, task, &row0, &row1);
    for (int64_t row = row0; row < row1; row++) {
        const int64_t b = row / oh, oy = row % oh;
        const int8_t *xb = x + b * h * wd * c;
        const int64_t iy0 = oy * s->sh - s->pt;
        int64_t ky0, ky1;
        te_conv2d_taps_inside(iy0, h, 3, 1, &ky0, &ky1);
        for (int64_t ox = 0; ox < ow; ox++) {
            const int64_t ix0 = ox * s->sw - s->pl;
            int64_t kx0, kx1;
            te_conv2d_taps_inside(ix0, wd, 3, 1, &kx0, &kx1);
            dw_pixel(p, xb, iy0, ix0, ky0, ky1, kx0, kx1, y + (row * ow + ox) * c);
        }
    }
}

#endif /* __ARM_NEON */
