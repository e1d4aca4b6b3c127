/*
 * dwconv_f32_prepare.c - the float32 NEON depthwise kernels' load-time step and their general
 * (border) pixel (dwconv_f32_neon.h): checks the node, packs the weights group by group, finds the
 * output columns whose window columns are all inside the input.
 */
#include "dwconv_f32_neon.h"

#if defined(__ARM_NEON)
#include <math.h>

#include "kernels/ref/dwconv_window.h"

/* The width of the channel group starting at channel ch: 16 while 16 are left, then 8, 4, 1
 * (the order te_dwf_pixel walks them). */
static int64_t group_width(int64_t c, int64_t ch)
{
    const int64_t left = c - ch;
    return left >= 16 ? 16 : left >= 8 ? 8 : left >= 4 ? 4 : 1;
}

te_status te_dwconv_f32_neon_prepare_window(te_node *node, te_prepare_ctx *ctx, int k)
{
    const te_layer_dtypes dt = {TE_DTYPE_F32, TE_DTYPE_F32, TE_DTYPE_F32};
    te_conv2d_shape s;
    te_status st = te_conv2d_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    if (!te_dwconv_fits(&s, k) || node->in[1]->storage != 1)
        return te_prepare_fail(ctx, node, TE_ERR_UNSUPPORTED,
                               "takes depthwise (group = channels = outputs) %dx%d convolutions "
                               "with a constant weight, strides 1 or 2 and no dilation only (this "
                               "one: %dx%d, group %d of %d channels, stride %dx%d, dilation %dx%d)",
                               k, k, (int)s.kh, (int)s.kw, (int)s.group, (int)s.c, (int)s.sh,
                               (int)s.sw, (int)s.dh, (int)s.dw);
    const float act_min = node->attrs[TE_CONV2D_ACT_MIN].f;
    const float act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);
    /* An upper bound of -0 (which no real model has) is left to the portable kernel: the loops
     * take the upper bound by FMIN on AArch64, which keeps -0 where the reference keeps +0, and a
     * second copy of the loops for it would cost more code than it is worth. */
    if (act_max == 0.0f && signbit(act_max))
        return TE_ERR_UNSUPPORTED;
    te_dwconv_f32_plan *p = (te_dwconv_f32_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    const int64_t c = s.c, taps = (int64_t)k * k;
    if ((uint64_t)c > SIZE_MAX / sizeof(float) / (uint64_t)taps)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu channels do not fit in memory",
                               (unsigned long)c);
    float *w = (float *)te_prepare_alloc(ctx, (size_t)(c * taps) * sizeof(float));
    float *zeros = (float *)te_prepare_alloc(ctx, (size_t)c * sizeof(float));
    if (!w || !zeros)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its weights (%lu "
                               "channels)", (unsigned long)c);
    /* OHWI [C, k, k, 1] -> groups: tap t of channel ch + j at ch * k * k + t * g + j. */
    const float *wv = (const float *)node->in[1]->data;
    for (int64_t ch = 0, g; ch < c; ch += g) {
        g = group_width(c, ch);
        for (int64_t t = 0; t < taps; t++)
            for (int64_t j = 0; j < g; j++)
                w[ch * taps + t * g + j] = wv[(ch + j) * taps + t];
    }
    p->s = s;
    p->k = k;
    p->w = w;
    p->zeros = zeros;  /* +0.0f: te_prepare_alloc zeroes its memory */
    te_dwconv_interior_columns(&s, k, &p->ox_lo, &p->ox_hi);
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)taps;
    node->tasks = te_split_tasks((uint64_t)s.n * (uint64_t)s.oh, node->macs);
    return TE_OK;
}

/* The taps of a clipped window that lie inside the input: `rows` x `cols` from tap (ky0, kx0). */
typedef struct {
    int64_t rows, cols, first;  /* first: ky0 * k + kx0 */
} clipped_window;

/* n channel groups of width G (16, 8, 4; 1: single channels) of a clipped pixel: x at the input
 * of the window's first tap inside, w at the first group's weights, b and y at its first
 * channel. */
TE_DWF_INLINE void clipped_groups(const float *x, const float *w, const float *b, float *y,
                                  int64_t n, int64_t rs, int64_t c, int64_t k,
                                  const clipped_window *win, const te_dwf_clamp *cl, const int G)
{
    for (int64_t g = 0; g < n; g++, x += G, w += k * k * G, b += G, y += G) {
        if (G == 1) {
            float acc = *b;
            for (int64_t ky = 0; ky < win->rows; ky++)
                for (int64_t kx = 0; kx < win->cols; kx++)
                    acc = acc + x[ky * rs + kx * c] * w[win->first + ky * k + kx];
            *y = te_clampf(acc, cl->lo1, cl->hi1);
            continue;
        }
        float32x4_t acc[4];
        te_dwf_load(b, G / 4, acc);
        for (int64_t ky = 0; ky < win->rows; ky++) {
            const float *xr = x + ky * rs, *wr = w + (win->first + ky * k) * G;
            for (int64_t kx = 0; kx < win->cols; kx++, xr += c, wr += G) {
                float32x4_t xv[4], wv[4];
                te_dwf_load(xr, G / 4, xv);
                te_dwf_load(wr, G / 4, wv);
                TE_DWF_UNROLL
                for (int j = 0; j < G / 4; j++)
                    acc[j] = vaddq_f32(acc[j], vmulq_f32(xv[j], wv[j]));
            }
        }
        te_dwf_clamp_vectors(cl, G / 4, acc, 1);
        te_dwf_store(y, G / 4, acc);
    }
}

void te_dwconv_f32_neon_clipped_pixel(const te_dwconv_f32_plan *p, const float *xb, int64_t iy0,
                                      int64_t ix0, const float *bias, const te_dwf_clamp *cl,
                                      float *yp)
{
    const te_conv2d_shape *s = &p->s;
    const int64_t c = s->c, rs = s->w * c, k = p->k;
    int64_t ky0, ky1, kx0, kx1;
    te_conv2d_taps_inside(iy0, s->h, k, 1, &ky0, &ky1);
    te_conv2d_taps_inside(ix0, s->w, k, 1, &kx0, &kx1);
    clipped_window win;
    win.rows = kx0 < kx1 ? ky1 - ky0 : 0;  /* no column inside: no tap */
    win.cols = kx1 - kx0;
    win.first = ky0 * k + kx0;
    /* The first tap inside; the image's start when there is none (then nothing is read). */
    const float *x = xb + (win.rows > 0 ? (iy0 + ky0) * rs + (ix0 + kx0) * c : 0);
    const te_dwf_groups_of gr = te_dwf_groups_at(p);
    int64_t ch = 0;
    clipped_groups(x, gr.w, bias, yp, gr.n16, rs, c, k, &win, cl, 16);
    ch += 16 * gr.n16;
    clipped_groups(x + ch, gr.w + ch * k * k, bias + ch, yp + ch, gr.n8, rs, c, k, &win, cl, 8);
    ch += 8 * gr.n8;
    clipped_groups(x + ch, gr.w + ch * k * k, bias + ch, yp + ch, gr.n4, rs, c, k, &win, cl, 4);
    ch += 4 * gr.n4;
    clipped_groups(x + ch, gr.w + ch * k * k, bias + ch, yp + ch, gr.n1, rs, c, k, &win, cl, 1);
}

#endif /* __ARM_NEON */
