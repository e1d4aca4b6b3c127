/*
 * dwconv_f32_neon.h - what the float32 NEON depthwise kernels share (te_dwconv3x3_f32_c16__neon,
 * te_dwconv5x5_f32_c16__neon): a conv2d with group == C == O (channel multiplier 1), a K x K
 * window (K = 3 or 5), no dilation, strides 1 or 2 on each axis, any pads, a constant weight.
 *
 * Bit-identical with te_conv2d_f32__ref: each output is bias (or +0) plus the products of the
 * taps inside the input, added one at a time in (ky, kx) order, each a separate multiply and add
 * (no FMA: the build passes -ffp-contract=off), then clamped as te_clampf (compare and select, or
 * FMIN for the upper bound where that gives the same bits: te_dwf_clamp_vectors). A padded tap
 * adds no term at all (adding +0 * w is not neutral: it turns an accumulator of -0 into +0, and
 * w = inf makes NaN), so padding is never read as zeros. (On armv7, NEON flushes denormals to
 * zero, as every NEON float kernel there does; the portable code uses VFP.)
 *
 * Loop order, per output row of a task: pixel by pixel, and per pixel the channels in groups of 16,
 * then one of 8, one of 4 and a scalar tail. A pixel keeps one pointer per tap into the input; a
 * group loads bias, then per tap 16 inputs and 16 weights (one LD1 of four registers each on
 * AArch64, pointers post-incremented), multiplies and adds into four accumulators, clamps and
 * stores: 10 instructions per tap for 16 MACs, about 107 for a 3x3 group with ReLU6 (0.74 per
 * MAC; the floor without FMA is 0.5). The weights are packed at prepare group by group in the
 * order the pixel walks them (see te_dwconv_f32_plan.w), so the weight pointer only ever moves
 * forward. Every node runs the clamp (infinite bounds select nothing): one copy of the loops.
 * Borders: the interior columns [ox_lo, ox_hi) (window columns all inside the input) of a row
 * whose window rows are all inside take every tap unrolled. In a row whose window reaches above
 * or below the input, the interior columns take one pass per window row inside: the first pass
 * starts from the bias, later ones from the partial sum stored in the output, and the last one
 * clamps; the terms are still added in (ky, kx) order, and a float stored and reloaded is the same
 * float. The border columns (and rows whose window is all padding) take a general path that
 * clips each pixel's window (dwconv_f32_prepare.c).
 */
#ifndef TE_NEON_DWCONV_F32_NEON_H
#define TE_NEON_DWCONV_F32_NEON_H

#if defined(__ARM_NEON)
#include <arm_neon.h>

#include "kernels/ref/conv2d_pack.h"

typedef struct {
    te_conv2d_shape s;
    int32_t k;             /* the window's side */
    /* The weights, channel group after channel group (groups of 16 channels, then one of 8, one
     * of 4, then single channels): the group starting at channel ch, g channels wide, holds tap
     * t = ky * k + kx of channel ch + j at ch * k * k + t * g + j. */
    const float *w;
    const float *zeros;    /* C zeros: the bias of a node without one */
    int32_t ox_lo, ox_hi;  /* output columns whose window columns are all inside the input */
} te_dwconv_f32_plan;

/* Check that node is a depthwise k x k float conv2d this family runs and build its plan into
 * node->state (weights packed, MACs and tasks set); TE_ERR_UNSUPPORTED for other conv2d nodes. */
te_status te_dwconv_f32_neon_prepare_window(te_node *node, te_prepare_ctx *ctx, int k);

/* ---- eval, inlined into each kernel with its K constant ---- */

/* Loops over a window's taps and a group's vectors unroll completely (their bounds are constants
 * of the kernel), so that the tap pointers and accumulators are registers, not a stack array. */
#define TE_DWF_UNROLL _Pragma("GCC unroll 32")
#if defined(__GNUC__)
#define TE_DWF_INLINE static inline __attribute__((always_inline))
#else
#define TE_DWF_INLINE static inline
#endif

/* nv (1, 2 or 4) consecutive float32x4 from a: one LD1 on AArch64. */
TE_DWF_INLINE void te_dwf_load(const float *a, const int nv, float32x4_t *v)
{
#if defined(__aarch64__)
    if (nv == 4) {
        const float32x4x4_t t = vld1q_f32_x4(a);
        v[0] = t.val[0], v[1] = t.val[1], v[2] = t.val[2], v[3] = t.val[3];
        return;
    }
    if (nv == 2) {
        const float32x4x2_t t = vld1q_f32_x2(a);
        v[0] = t.val[0], v[1] = t.val[1];
        return;
    }
#endif
    TE_DWF_UNROLL
    for (int i = 0; i < nv; i++)
        v[i] = vld1q_f32(a + 4 * i);
}

/* nv consecutive float32x4 to a: one ST1 on AArch64. */
TE_DWF_INLINE void te_dwf_store(float *a, const int nv, const float32x4_t *v)
{
#if defined(__aarch64__)
    if (nv == 4) {
        float32x4x4_t t;
        t.val[0] = v[0], t.val[1] = v[1], t.val[2] = v[2], t.val[3] = v[3];
        vst1q_f32_x4(a, t);
        return;
    }
    if (nv == 2) {
        float32x4x2_t t;
        t.val[0] = v[0], t.val[1] = v[1];
        vst1q_f32_x2(a, t);
        return;
    }
#endif
    TE_DWF_UNROLL
    for (int i = 0; i < nv; i++)
        vst1q_f32(a + 4 * i, v[i]);
}

/* The fused clamp's operands, made once per eval call. */
typedef struct {
    float32x4_t lo, hi;
    float lo1, hi1;
} te_dwf_clamp;

/* The general path of one output pixel at window origin (iy0, ix0) of image xb, its window
 * clipped to the input: border pixels. */
void te_dwconv_f32_neon_clipped_pixel(const te_dwconv_f32_plan *p, const float *xb, int64_t iy0,
                                      int64_t ix0, const float *bias, const te_dwf_clamp *cl,
                                      float *yp);

/* te_clampf on nv vectors by compare and select (NaN and -0 pass as in the scalar clamp; an
 * infinite bound selects nothing). CL == 2 (AArch64, an upper bound other than -0): the upper
 * bound by FMIN, which gives the same bits there: v > hi ? hi : v differs from min(v, hi) only
 * for v = +0 and hi = -0 (the compare keeps +0), and for a NaN v, which FMIN returns as it is
 * (a quiet NaN, FPCR.DN clear) as the compare does; one instruction instead of three. */
TE_DWF_INLINE void te_dwf_clamp_vectors(const te_dwf_clamp *cl, const int nv, float32x4_t *v,
                                        const int CL)
{
    (void)CL;
    TE_DWF_UNROLL
    for (int i = 0; i < nv; i++) {
        v[i] = vbslq_f32(vcltq_f32(v[i], cl->lo), cl->lo, v[i]);
#if defined(__aarch64__)
        if (CL == 2) {
            v[i] = vminq_f32(v[i], cl->hi);
            continue;
        }
#endif
        v[i] = vbslq_f32(vcgtq_f32(v[i], cl->hi), cl->hi, v[i]);
    }
}

/* p += n, where the compiler cannot see it: it then keeps p in a register and folds the step
 * into the load (LD1 ..., [p], #64) instead of rewriting each tap's address as base + index,
 * which costs an extra ADD per load. */
#if defined(__GNUC__)
#define TE_DWF_ADVANCE(p, n) do { (p) += (n); __asm__("" : "+r"(p)); } while (0)
#else
#define TE_DWF_ADVANCE(p, n) ((p) += (n))
#endif

/* Keep the taps in order: the next tap's loads (through its pointers x and w) wait, in the
 * compiler's view only, for this tap's sums. Otherwise the scheduler may start every tap's loads
 * and products at once and spill them to the stack; the CPU still overlaps the taps. */
TE_DWF_INLINE void te_dwf_tap_done(float32x4_t *acc, const int nv, const float **x,
                                   const float **w)
{
#if defined(__GNUC__)
    if (nv == 4)
        __asm__("" : "+r"(*x), "+r"(*w), "+w"(acc[0]), "+w"(acc[1]), "+w"(acc[2]), "+w"(acc[3]));
    else if (nv == 2)
        __asm__("" : "+r"(*x), "+r"(*w), "+w"(acc[0]), "+w"(acc[1]));
    else
        __asm__("" : "+r"(*x), "+r"(*w), "+w"(acc[0]));
#else
    (void)acc, (void)nv, (void)x, (void)w;
#endif
}

/* A pass of one output pixel over its next n channel groups of width G (16, 8 or 4) or single
 * channels (G = 1): acc = src (bias, or the partial sum in the output), + R window rows of K taps
 * (tap pointers t[R * K], weights from tap row `row` of each group), clamp when `last` (and CL:
 * the node has a clamp; te_dwf_clamp_vectors), store to dst. Every pointer moves past the groups
 * it read. */
TE_DWF_INLINE void te_dwf_groups(const float **t, const float **w, const float **src, float **dst,
                                 int64_t n, int64_t row, const te_dwf_clamp *cl, int last,
                                 const int K, const int R, const int G, const int CL)
{
    const int nv = G / 4;
    const float *wt = *w, *sp = *src;
    float *dp = *dst;
    for (int64_t g = 0; g < n; g++) {
        if (R != K)
            wt += row * K * G;
        if (G == 1) {
            float acc = *sp;
            TE_DWF_UNROLL
            for (int i = 0; i < R * K; i++)
                acc = acc + *t[i]++ * *wt++;
            *dp = last ? te_clampf(acc, cl->lo1, cl->hi1) : acc;
        } else {
            float32x4_t acc[4];
            te_dwf_load(sp, nv, acc);
            TE_DWF_UNROLL
            for (int i = 0; i < R * K; i++) {
                float32x4_t xv[4], wv[4];
                te_dwf_load(t[i], nv, xv);
                te_dwf_load(wt, nv, wv);
                TE_DWF_ADVANCE(t[i], G);
                TE_DWF_ADVANCE(wt, G);
                TE_DWF_UNROLL
                for (int j = 0; j < nv; j++)
                    acc[j] = vaddq_f32(acc[j], vmulq_f32(xv[j], wv[j]));
                if (i + 1 < R * K)
                    te_dwf_tap_done(acc, nv, &t[i + 1], &wt);
            }
            if (last && CL)
                te_dwf_clamp_vectors(cl, nv, acc, CL);
            te_dwf_store(dp, nv, acc);
        }
        if (R != K)
            wt += (K - row - R) * K * G;
        TE_DWF_ADVANCE(sp, G);
        TE_DWF_ADVANCE(dp, G);
    }
    *w = wt;
    *src = sp;
    *dst = dp;
}

/* Where a node's channel groups are: how many of each width, and the packed weights. */
typedef struct {
    int64_t n16, n8, n4, n1;
    const float *w;
} te_dwf_groups_of;

TE_DWF_INLINE te_dwf_groups_of te_dwf_groups_at(const te_dwconv_f32_plan *p)
{
    te_dwf_groups_of g;
    const int64_t c = p->s.c;
    g.n16 = c / 16, g.n8 = c % 16 / 8, g.n4 = c % 8 / 4, g.n1 = c % 4;
    g.w = p->w;
    return g;
}

/* One output pixel, every channel: R window rows from tap row `row` (R = K: the whole window),
 * tap pointers t0[R * K] at channel 0. */
TE_DWF_INLINE void te_dwf_pixel(const te_dwf_groups_of *gr, const float *const *t0, int64_t row,
                                const float *src, float *dst, const te_dwf_clamp *cl, int last,
                                const int K, const int R, const int CL)
{
    const float *t[25];
    TE_DWF_UNROLL
    for (int i = 0; i < R * K; i++)
        t[i] = t0[i];
    const float *w = gr->w;
    te_dwf_groups(t, &w, &src, &dst, gr->n16, row, cl, last, K, R, 16, CL);
    te_dwf_groups(t, &w, &src, &dst, gr->n8, row, cl, last, K, R, 8, CL);
    te_dwf_groups(t, &w, &src, &dst, gr->n4, row, cl, last, K, R, 4, CL);
    te_dwf_groups(t, &w, &src, &dst, gr->n1, row, cl, last, K, R, 1, CL);
}

/* Output rows [row0, row1) (b * oh + oy) of a depthwise K x K float node; CL: whether it clamps. */
TE_DWF_INLINE void te_dwf_rows(const te_node *node, int64_t row0, int64_t row1, const int K,
                               const int CL)
{
    const te_dwconv_f32_plan *p = (const te_dwconv_f32_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const float *x = (const float *)node->in[0]->data;
    const float *bias = bt ? (const float *)bt->data : p->zeros;
    float *y = (float *)node->out[0]->data;
    te_dwf_clamp cl;
    cl.lo1 = node->attrs[TE_CONV2D_ACT_MIN].f;
    cl.hi1 = node->attrs[TE_CONV2D_ACT_MAX].f;
    cl.lo = vdupq_n_f32(cl.lo1);
    cl.hi = vdupq_n_f32(cl.hi1);
    const te_dwf_groups_of gr = te_dwf_groups_at(p);
    const int64_t h = s->h, c = s->c, oh = s->oh, ow = s->ow, sw = s->sw, pl = s->pl;
    const int64_t rs = s->w * c;  /* floats per input row */
    const int64_t lo = p->ox_lo, hi = p->ox_hi > p->ox_lo ? p->ox_hi : p->ox_lo;
    for (int64_t r = row0; r < row1; r++) {
        const float *xb = x + r / oh * h * rs;
        const int64_t iy0 = r % oh * s->sh - s->pt;
        float *yr = y + r * ow * c;
        int64_t ky0, ky1;
        te_conv2d_taps_inside(iy0, h, K, 1, &ky0, &ky1);
        /* Interior columns: pixel ox's window starts at column ox * sw - pl >= 0 of the input. */
        if (lo < hi && ky1 - ky0 == K) {
            for (int64_t ox = lo; ox < hi; ox++) {
                const float *col = xb + iy0 * rs + (ox * sw - pl) * c, *t0[25];
                TE_DWF_UNROLL
                for (int i = 0; i < K * K; i++)
                    t0[i] = col + i / K * rs + i % K * c;
                te_dwf_pixel(&gr, t0, 0, bias, yr + ox * c, &cl, 1, K, K, CL);
            }
        } else if (lo < hi && ky0 < ky1) {
            for (int64_t ky = ky0; ky < ky1; ky++)
                for (int64_t ox = lo; ox < hi; ox++) {
                    const float *col = xb + (iy0 + ky) * rs + (ox * sw - pl) * c, *t0[5];
                    float *yp = yr + ox * c;
                    TE_DWF_UNROLL
                    for (int kx = 0; kx < K; kx++)
                        t0[kx] = col + kx * c;
                    te_dwf_pixel(&gr, t0, ky, ky == ky0 ? bias : yp, yp, &cl, ky == ky1 - 1, K, 1,
                                 CL);
                }
        }
        /* Border columns, and the interior ones too when no window row is inside. */
        for (int64_t ox = 0; ox < ow; ox++) {
            if (ox == lo && ky0 < ky1)
                ox = hi;
            if (ox < ow)
                te_dwconv_f32_neon_clipped_pixel(p, xb, iy0, ox * sw - pl, bias, &cl, yr + ox * c);
        }
    }
}

/* Task `task` of a depthwise K x K float node (its output rows, image by image). */
TE_DWF_INLINE void te_dwf_eval(const te_node *node, int task, const int K)
{
    const te_dwconv_f32_plan *p = (const te_dwconv_f32_plan *)node->state;
    int64_t row0, row1;
    te_task_range((uint64_t)p->s.n * (uint64_t)p->s.oh, node->tasks, task, &row0, &row1);
#if defined(__aarch64__)
    te_dwf_rows(node, row0, row1, K, 2);  /* the upper bound by FMIN (prepare refused -0) */
#else
    te_dwf_rows(node, row0, row1, K, 1);
#endif
}

#endif /* __ARM_NEON */
#endif /* TE_NEON_DWCONV_F32_NEON_H */
