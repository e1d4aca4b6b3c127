/*
 * conv2d.c - float32 portable 2-D convolution (te_conv2d_f32__ref), depthwise and grouped included.
 *
 * x NHWC [N, H, W, C], weight OHWI [O, KH, KW, C/group], optional bias [O], output NHWC
 * [N, OH, OW, O]. Output channel oc belongs to group oc / (O/group) and reads the input channels of
 * that group. Each output is bias + sum over (ky, kx, ic) in that order, padding contributing
 * nothing, then clamped to [act_min, act_max].
 *
 * Written for the compiler's vectorizer, not with intrinsics: prepare packs the weights
 * (conv2d_pack.h) so that, per output pixel, eval adds x * (a row of weights) into a row of
 * accumulators over output channels (scratch). Each lane adds its own terms in the order above,
 * so the result is the same at every vector width (-ffp-contract=off: no fused multiply-add).
 * A weight computed at run time is packed by eval into scratch.
 *
 * Tasks (te_internal.h): with constant weights the output rows (image, oy) are split among tasks;
 * a run-time weight is packed once per run, so that op stays one task.
 */
#include <math.h>
#include <string.h>

#include "conv2d_pack.h"

typedef struct {
    te_conv2d_shape s;
    te_conv2d_layout layout;
    const float *packed;  /* constant weights, packed; NULL: eval packs them into scratch */
    size_t acc_bytes;     /* the accumulator row at the start of scratch, 64-byte rounded */
} te_conv2d_f32_plan;

te_status te_conv2d_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_F32, TE_DTYPE_F32, TE_DTYPE_F32};
    te_conv2d_f32_plan *p = (te_conv2d_f32_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_conv2d_check(node, ctx, dt, &p->s);
    if (st != TE_OK)
        return st;
    float act_min = node->attrs[TE_CONV2D_ACT_MIN].f, act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))  /* lo > hi is defined: everything becomes hi */
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);

    const te_tensor *w = node->in[1];
    p->layout = te_conv2d_layout_of(&p->s);
    if ((size_t)p->s.o > (SIZE_MAX - TE_ALIGN) / sizeof(float))
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%d accumulators do not fit in memory",
                               (int)p->s.o);
    p->acc_bytes = ((size_t)p->s.o * sizeof(float) + TE_ALIGN - 1) / TE_ALIGN * TE_ALIGN;
    node->scratch_size = p->acc_bytes;
    if (w->storage == 1) {
        const void *packed;
        if ((st = te_conv2d_pack_const(ctx, node, &p->s, p->layout, sizeof(float), &packed)) != TE_OK)
            return st;
        p->packed = (const float *)packed;
    } else {
        if (w->nbytes > SIZE_MAX - p->acc_bytes)
            return te_prepare_fail(ctx, node, TE_ERR_NOMEM,
                                   "scratch for packing its run-time weight does not fit");
        node->scratch_size += w->nbytes;
    }
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)p->s.kh * (uint64_t)p->s.kw *
                 (uint64_t)p->s.ci;
    if (p->packed)
        node->tasks = te_split_tasks((uint64_t)p->s.n * (uint64_t)p->s.oh, node->macs);
    return TE_OK;
}

/* acc[j] += x[i] * w[i * og + j] for i = 0..n-1 in order, j = 0..og-1 (the vectorized loop). Four
 * i at a time: C adds left to right, so each acc[j] still takes its terms one by one in order. */
static void accumulate_rows(float *restrict acc, const float *restrict x,
                            const float *restrict w, int64_t n, int64_t og)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        const float *restrict w0 = w + i * og;
        const float *restrict w1 = w0 + og;
        const float *restrict w2 = w1 + og;
        const float *restrict w3 = w2 + og;
        for (int64_t j = 0; j < og; j++)
            acc[j] = acc[j] + x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j];
    }
    for (; i < n; i++) {
        const float xi = x[i];
        const float *restrict wi = w + i * og;
        for (int64_t j = 0; j < og; j++)
            acc[j] = acc[j] + xi * wi[j];
    }
}

/* acc[j] += sum over taps t < n of x[t * step + j] * w[t * c + j], j < c: n depthwise taps of one
 * window row (inputs step apart, weights c apart), three at a time so that the accumulator row is
 * loaded and stored once per three taps; the terms are still added one by one in tap order. */
static void accumulate_taps(float *restrict acc, const float *restrict x, int64_t step,
                            const float *restrict w, int64_t n, int64_t c)
{
    int64_t t = 0;
    for (; t + 3 <= n; t += 3) {
        const float *restrict x0 = x + t * step;
        const float *restrict x1 = x0 + step;
        const float *restrict x2 = x1 + step;
        const float *restrict w0 = w + t * c;
        const float *restrict w1 = w0 + c;
        const float *restrict w2 = w1 + c;
        for (int64_t j = 0; j < c; j++)
            acc[j] = acc[j] + x0[j] * w0[j] + x1[j] * w1[j] + x2[j] * w2[j];
    }
    for (; t < n; t++) {
        const float *restrict xt = x + t * step;
        const float *restrict wt = w + t * c;
        for (int64_t j = 0; j < c; j++)
            acc[j] = acc[j] + xt[j] * wt[j];
    }
}

/* The sums of one output pixel into acc[0..o): taps ky in [ky0, ky1), kx in [kx0, kx1) (those
 * inside the input), xb the pixel's image, iy0 and ix0 its window's first input row and column. */
static void conv_pixel(const te_conv2d_f32_plan *p, float *restrict acc, const float *xb,
                       const float *w, int64_t iy0, int64_t ix0, int64_t ky0, int64_t ky1,
                       int64_t kx0, int64_t kx1)
{
    const te_conv2d_shape *s = &p->s;
    const int64_t wd = s->w, c = s->c, kw = s->kw, ci = s->ci, og = s->o / s->group;
    if (kx0 == kx1)  /* every column in the padding: no term (and no pointer outside x formed) */
        return;
    if (p->layout == TE_CONV2D_DEPTHWISE) {
        for (int64_t ky = ky0; ky < ky1; ky++)
            accumulate_taps(acc, xb + ((iy0 + ky * s->dh) * wd + ix0 + kx0 * s->dw) * c,
                            s->dw * c, w + (ky * kw + kx0) * c, kx1 - kx0, c);
        return;
    }
    /* With one group and no column dilation, a window row's inputs (kx, ic) are contiguous, as
     * are its packed weights: one run of (kx1 - kx0) * ci values. */
    const int contiguous = s->group == 1 && s->dw == 1;
    for (int64_t g = 0; g < s->group; g++) {
        const float *wg = w + g * (int64_t)s->kh * kw * ci * og;
        float *acc_g = acc + g * og;
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *xrow = xb + (iy0 + ky * s->dh) * wd * c + g * ci;
            const float *wrow = wg + ky * kw * ci * og;
            if (contiguous) {
                accumulate_rows(acc_g, xrow + (ix0 + kx0) * c, wrow + kx0 * ci * og,
                                (kx1 - kx0) * ci, og);
                continue;
            }
            for (int64_t kx = kx0; kx < kx1; kx++)
                accumulate_rows(acc_g, xrow + (ix0 + kx * s->dw) * c, wrow + kx * ci * og, ci, og);
        }
    }
}

void te_conv2d_f32_eval(const te_node *node, void *scratch, int task)
{
    const te_conv2d_f32_plan *p = (const te_conv2d_f32_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const float *x = (const float *)node->in[0]->data;
    const float *bias = bt ? (const float *)bt->data : NULL;
    float *y = (float *)node->out[0]->data;
    float *acc = (float *)scratch;
    const float act_min = node->attrs[TE_CONV2D_ACT_MIN].f;
    const float act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    const float *w = p->packed;
    if (!w) {
        float *packed = (float *)((unsigned char *)scratch + p->acc_bytes);
        te_conv2d_pack_weights(s, p->layout, node->in[1]->data, packed, sizeof(float));
        w = packed;
    }

    const int64_t h = s->h, wd = s->w, c = s->c, o = s->o, oh = s->oh, ow = s->ow;
    int64_t row0, row1;  /* this task's output rows b * oh + oy */
    te_task_range((uint64_t)s->n * (uint64_t)oh, node->tasks, task, &row0, &row1);
    for (int64_t row = row0; row < row1; row++) {
        const int64_t b = row / oh, oy = row % oh;
        const float *xb = x + b * h * wd * c;
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
            conv_pixel(p, acc, xb, w, iy0, ix0, ky0, ky1, kx0, kx1);
            float *yp = y + ((b * oh + oy) * ow + ox) * o;
            for (int64_t oc = 0; oc < o; oc++)
                yp[oc] = te_clampf(acc[oc], act_min, act_max);
        }
    }
}
