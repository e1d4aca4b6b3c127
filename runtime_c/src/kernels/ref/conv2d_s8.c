/*
 * conv2d_s8.c - INT8 portable 2-D convolution (te_conv2d_s8__ref), depthwise and grouped included.
 *
 * Shapes as the float kernel (layer_shape.h): x NHWC int8, weight OHWI int8 (per channel or per
 * tensor, weights_s8.h), optional bias int32 [O], output NHWC int8. docs/quantization.md:
 *   acc[oc] = bias[oc] + sum over (ky, kx, ic) of (x - z_x) * w[oc]   (a padded tap adds 0)
 *   y = clamp(requantize(acc, M_oc, shift_oc) + z_y, lo, hi)
 * with [lo, hi] the fused clamp quantized with the output's parameters. Prepare proves the int32
 * accumulator cannot overflow.
 *
 * Written for the compiler's vectorizer, not with intrinsics: prepare packs the weights
 * (conv2d_pack.h) so that, per output pixel, eval adds (x - z_x) * (a row of weights) into a row of
 * int32 accumulators over output channels (scratch), then requantizes the row. Integer sums do not
 * depend on their order: the result is bit-exact with the numpy reference. The output rows
 * (image, oy) are split among tasks (te_internal.h).
 */
#include <string.h>

#include "conv2d_pack.h"
#include "requant_s8.h"
#include "weights_s8.h"

typedef struct {
    te_conv2d_shape s;
    te_conv2d_layout layout;
    const int8_t *packed;  /* the weights, packed */
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
    const te_tensor *w = node->in[1];
    const te_tensor *bias = node->n_in > 2 ? node->in[2] : NULL;
    float s_x, s_y;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", 4, &s_x, &p->x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", 4, &s_y, &p->y_zp)) != TE_OK ||
        (st = te_prepare_weights_s8(node, ctx, w, bias, s_x, p->x_zp, s_y, &p->rq)) !=
            TE_OK ||
        (st = te_prepare_clamp(ctx, node, node->attrs[TE_CONV2D_ACT_MIN].f,
                               node->attrs[TE_CONV2D_ACT_MAX].f, s_y, p->y_zp, &p->lo, &p->hi)) !=
            TE_OK)
        return st;
    /* te_prepare_weights_s8 checked that the weight is a constant: pack it now. */
    p->layout = te_conv2d_layout_of(&p->s);
    const void *packed;
    if ((st = te_conv2d_pack_const(ctx, node, &p->s, p->layout, 1, &packed)) != TE_OK)
        return st;
    p->packed = (const int8_t *)packed;
    /* One int32 accumulator per output channel. */
    if ((size_t)p->s.o > SIZE_MAX / sizeof(int32_t))
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%d accumulators do not fit in memory",
                               (int)p->s.o);
    node->scratch_size = (size_t)p->s.o * sizeof(int32_t);
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)p->s.kh * (uint64_t)p->s.kw *
                 (uint64_t)p->s.ci;
    node->tasks = te_split_tasks((uint64_t)p->s.n * (uint64_t)p->s.oh, node->macs);
    return TE_OK;
}

/* acc[j] += (x[i] - zp) * w[i * og + j] for i < n, j < og (the vectorized loop), four i at a
 * time. |x - zp| <= 255 and |w| <= 127: each product fits int16, the four-term sum int32. */
static void accumulate_rows(int32_t *restrict acc, const int8_t *restrict x, int32_t zp,
                            const int8_t *restrict w, int64_t n, int64_t og)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int16_t x0 = (int16_t)(x[i] - zp), x1 = (int16_t)(x[i + 1] - zp);
        const int16_t x2 = (int16_t)(x[i + 2] - zp), x3 = (int16_t)(x[i + 3] - zp);
        const int8_t *restrict w0 = w + i * og;
        const int8_t *restrict w1 = w0 + og;
        const int8_t *restrict w2 = w1 + og;
        const int8_t *restrict w3 = w2 + og;
        for (int64_t j = 0; j < og; j++)
            acc[j] += x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j];
    }
    for (; i < n; i++) {
        const int16_t xi = (int16_t)(x[i] - zp);
        const int8_t *restrict wi = w + i * og;
        for (int64_t j = 0; j < og; j++)
            acc[j] += xi * wi[j];
    }
}

/* acc[j] += sum over taps t < n of (x[t * step + j] - zp) * w[t * c + j], j < c: n depthwise taps
 * of one window row (inputs step apart, weights c apart), three at a time so that the accumulator
 * row is loaded and stored once per three taps. Each product fits int16 (see accumulate_rows). */
static void accumulate_taps(int32_t *restrict acc, const int8_t *restrict x, int64_t step,
                            int32_t zp, const int8_t *restrict w, int64_t n, int64_t c)
{
    int64_t t = 0;
    for (; t + 3 <= n; t += 3) {
        const int8_t *restrict x0 = x + t * step;
        const int8_t *restrict x1 = x0 + step;
        const int8_t *restrict x2 = x1 + step;
        const int8_t *restrict w0 = w + t * c;
        const int8_t *restrict w1 = w0 + c;
        const int8_t *restrict w2 = w1 + c;
        for (int64_t j = 0; j < c; j++)
            acc[j] += (int16_t)((x0[j] - zp) * w0[j]) + (int16_t)((x1[j] - zp) * w1[j]) +
                      (int16_t)((x2[j] - zp) * w2[j]);
    }
    for (; t < n; t++) {
        const int8_t *restrict xt = x + t * step;
        const int8_t *restrict wt = w + t * c;
        for (int64_t j = 0; j < c; j++)
            acc[j] += (int16_t)((xt[j] - zp) * wt[j]);
    }
}

/* The sums of one output pixel into acc[0..o): taps ky in [ky0, ky1), kx in [kx0, kx1) (those
 * inside the input), xb the pixel's image, iy0 and ix0 its window's first input row and column. */
static void conv_pixel(const te_conv2d_s8_plan *p, int32_t *restrict acc, const int8_t *xb,
                       int64_t iy0, int64_t ix0, int64_t ky0, int64_t ky1, int64_t kx0,
                       int64_t kx1)
{
    const te_conv2d_shape *s = &p->s;
    const int64_t wd = s->w, c = s->c, kw = s->kw, ci = s->ci, og = s->o / s->group;
    if (kx0 == kx1)  /* every column in the padding: no term (and no pointer outside x formed) */
        return;
    const int8_t *w = p->packed;
    if (p->layout == TE_CONV2D_DEPTHWISE) {
        for (int64_t ky = ky0; ky < ky1; ky++)
            accumulate_taps(acc, xb + ((iy0 + ky * s->dh) * wd + ix0 + kx0 * s->dw) * c,
                            s->dw * c, p->x_zp, w + (ky * kw + kx0) * c, kx1 - kx0, c);
        return;
    }
    /* With one group and no column dilation, a window row's inputs (kx, ic) are contiguous, as
     * are its packed weights: one run of (kx1 - kx0) * ci values. */
    const int contiguous = s->group == 1 && s->dw == 1;
    for (int64_t g = 0; g < s->group; g++) {
        const int8_t *wg = w + g * (int64_t)s->kh * kw * ci * og;
        int32_t *acc_g = acc + g * og;
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const int8_t *xrow = xb + (iy0 + ky * s->dh) * wd * c + g * ci;
            const int8_t *wrow = wg + ky * kw * ci * og;
            if (contiguous) {
                accumulate_rows(acc_g, xrow + (ix0 + kx0) * c, p->x_zp, wrow + kx0 * ci * og,
                                (kx1 - kx0) * ci, og);
                continue;
            }
            for (int64_t kx = kx0; kx < kx1; kx++)
                accumulate_rows(acc_g, xrow + (ix0 + kx * s->dw) * c, p->x_zp,
                                wrow + kx * ci * og, ci, og);
        }
    }
}

void te_conv2d_s8_eval(const te_node *node, void *scratch, int task)
{
    const te_conv2d_s8_plan *p = (const te_conv2d_s8_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    const int32_t *bias = bt ? (const int32_t *)bt->data : NULL;
    int8_t *y = (int8_t *)node->out[0]->data;
    int32_t *acc = (int32_t *)scratch;

    const int64_t h = s->h, wd = s->w, c = s->c, o = s->o, oh = s->oh, ow = s->ow;
    int64_t row0, row1;  /* this task's output rows b * oh + oy */
    te_task_range((uint64_t)s->n * (uint64_t)oh, node->tasks, task, &row0, &row1);
    for (int64_t row = row0; row < row1; row++) {
        const int64_t b = row / oh, oy = row % oh;
        const int8_t *xb = x + b * h * wd * c;
        const int64_t iy0 = oy * s->sh - s->pt;
        int64_t ky0, ky1;
        te_conv2d_taps_inside(iy0, h, s->kh, s->dh, &ky0, &ky1);
        for (int64_t ox = 0; ox < ow; ox++) {
            const int64_t ix0 = ox * s->sw - s->pl;
            int64_t kx0, kx1;
            te_conv2d_taps_inside(ix0, wd, s->kw, s->dw, &kx0, &kx1);
            if (bias)
                memcpy(acc, bias, (size_t)o * sizeof *acc);
            else
                memset(acc, 0, (size_t)o * sizeof *acc);
            conv_pixel(p, acc, xb, iy0, ix0, ky0, ky1, kx0, kx1);
            int8_t *yp = y + ((b * oh + oy) * ow + ox) * o;
            for (int64_t oc = 0; oc < o; oc++)
                yp[oc] = te_requant_s8(acc[oc], p->rq.mult[oc], p->rq.shift[oc], p->y_zp,
                                       p->lo, p->hi);
        }
    }
}
