/*
 * dwconv_s8_neon.h - what the plain-NEON INT8 depthwise kernels share (te_dwconv3x3_s8_c16__neon,
 * te_dwconv5x5_s8_c16__neon): a conv2d with group == C == O (channel multiplier 1), a K x K window
 * (K = 3 or 5), no dilation, strides 1 or 2 on each axis and any pads.
 *
 * Algorithm, per output row of a task and per block of 16 channels (then one of 8, then a scalar
 * tail), every pixel over all K * K taps (padding included, see below):
 *   acc = bias - z_x * sum_t w_t  (folded at prepare);  acc += x_t * w_t  over the taps
 * two taps at a time: SMULL/SMULL2 of the int8 input by the int8 weights, SMLAL/SMLAL2 of the next
 * tap into the same int16 lanes (|x * w| <= 128 * 127, so two products fit int16: weights of -128
 * are refused by te_prepare_weights_s8), then SADDW/SADDW2 into the int32 accumulators: 8
 * instructions for 32 MACs, plus the two 16-byte loads. One unrolled path (K constant) computes
 * every pixel from K window-row pointers; the block's K * K weight vectors (int8, 16 channels a
 * register) are loaded once per run of pixels and stay in registers on AArch64.
 * Exactness: the folded sum equals bias + sum_t (x_t - z_x) * w_t, which the reference's overflow
 * proof keeps inside int32; the partial sums may leave it, but NEON adds modulo 2^32, so the
 * final value is exact (the scalar tail sums in int64).
 * Padding: the interior columns of a row (window columns all inside the input) read the input in
 * place, a window row above or below the input reading a row of z_x in scratch; the border
 * pixels left and right of them read a strip of their window rows copied into scratch with z_x
 * in the padding. Either way a padded tap adds (z_x - z_x) * w = 0, as in the reference, and
 * images smaller than the window need no other path.
 * Output step (requant_s8_neon.h): SQSHL (only when some channel shifts left), SQRDMULH, SRSHR
 * per int32 lane, then SQXTN to int16, + z_y saturating in int16, SQXTN to int8 and the clamp in
 * int8: saturating before the clamp gives the reference's value because [lo, hi] lies inside
 * int8 and |z_y| <= 128 cannot bring a saturated int16 back into int8.
 * Limits: channel multiplier 1 only; dilation 1 only; other nodes are refused with
 * TE_ERR_UNSUPPORTED (the loader takes the next kernel).
 */
#ifndef TE_NEON_DWCONV_S8_NEON_H
#define TE_NEON_DWCONV_S8_NEON_H

#include "requant_s8_neon.h"

#if defined(__ARM_NEON)
#include <string.h>

#include "kernels/ref/layer_shape.h"
#include "kernels/ref/requant_s8.h"

typedef struct {
    te_conv2d_shape s;
    int32_t k;             /* the window's side */
    const int8_t *w;       /* [k * k][C]: tap (ky * k + kx), then channel */
    te_neon_requant rq;    /* rq.bias: bias - z_x * sum of the channel's weights (folded) */
    te_neon_output out;
    int32_t x_zp;
    int32_t ox_lo, ox_hi;  /* output columns whose window columns are all inside the input */
    int shift_left;        /* whether any channel's shift is positive (requant_s8_neon.h) */
} te_dwconv_s8_plan;

/* Check that node is a depthwise k x k conv2d this family runs and build its plan into
 * node->state (weights laid out, z_x folded into the bias, requantization laid out, scratch, MACs
 * and tasks set); TE_ERR_UNSUPPORTED for other conv2d nodes. */
te_status te_dwconv_s8_neon_prepare_window(te_node *node, te_prepare_ctx *ctx, int k);

/* ---- eval, inlined into each kernel with its k constant ---- */

/* Loops over a window's taps and channel groups unroll completely (their bounds are constants of
 * the kernel), so that the weight vectors are values, not a stack array. */
#define TE_DW_UNROLL _Pragma("GCC unroll 32")
#if defined(__GNUC__)
#define TE_DW_INLINE static inline __attribute__((always_inline))
#else
#define TE_DW_INLINE static inline
#endif

/* n (2 or 4) consecutive int32x4 from a: one LD1 of n registers on AArch64. */
TE_DW_INLINE void te_dw_load_s32(const int32_t *a, int n, int32x4_t *v)
{
#if defined(__aarch64__)
    if (n == 4) {
        const int32x4x4_t t = vld1q_s32_x4(a);
        for (int i = 0; i < 4; i++)
            v[i] = t.val[i];
    } else {
        const int32x4x2_t t = vld1q_s32_x2(a);
        for (int i = 0; i < 2; i++)
            v[i] = t.val[i];
    }
#else
    TE_DW_UNROLL
    for (int i = 0; i < n; i++)
        v[i] = vld1q_s32(a + 4 * i);
#endif
}

/* The output step's per-tensor operands as vectors, made once per eval call. */
typedef struct {
    int16x8_t zero_point;
    int8x16_t lo, hi;
} te_dw_output;

TE_DW_INLINE te_dw_output te_dw_output_of(const te_dwconv_s8_plan *p)
{
    te_dw_output o;
    o.zero_point = vdupq_n_s16((int16_t)p->out.zero_point);
    o.lo = vdupq_n_s8((int8_t)p->out.lo);
    o.hi = vdupq_n_s8((int8_t)p->out.hi);
    return o;
}

/* acc (16 channels) += x0 * w0 + x1 * w1: the pair summed in int16, then widened. */
TE_DW_INLINE void te_dw_mac16(int32x4_t *acc, int8x16_t x0, int8x16_t w0, int8x16_t x1,
                              int8x16_t w1)
{
    int16x8_t lo = vmull_s8(vget_low_s8(x0), vget_low_s8(w0));
    lo = vmlal_s8(lo, vget_low_s8(x1), vget_low_s8(w1));
#if defined(__aarch64__)
    int16x8_t hi = vmull_high_s8(x0, w0);
    hi = vmlal_high_s8(hi, x1, w1);
    acc[1] = vaddw_high_s16(acc[1], lo);
    acc[3] = vaddw_high_s16(acc[3], hi);
#else
    int16x8_t hi = vmull_s8(vget_high_s8(x0), vget_high_s8(w0));
    hi = vmlal_s8(hi, vget_high_s8(x1), vget_high_s8(w1));
    acc[1] = vaddw_s16(acc[1], vget_high_s16(lo));
    acc[3] = vaddw_s16(acc[3], vget_high_s16(hi));
#endif
    acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
    acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
}

/* acc (16 channels) += x0 * w0: the window's last tap when K * K is odd. */
TE_DW_INLINE void te_dw_mac16_one(int32x4_t *acc, int8x16_t x0, int8x16_t w0)
{
    const int16x8_t lo = vmull_s8(vget_low_s8(x0), vget_low_s8(w0));
    const int16x8_t hi = vmull_s8(vget_high_s8(x0), vget_high_s8(w0));
    acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
    acc[1] = vaddw_s16(acc[1], vget_high_s16(lo));
    acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
    acc[3] = vaddw_s16(acc[3], vget_high_s16(hi));
}

/* acc (8 channels) += x0 * w0 + x1 * w1. */
TE_DW_INLINE void te_dw_mac8(int32x4_t *acc, int8x8_t x0, int8x8_t w0, int8x8_t x1, int8x8_t w1)
{
    const int16x8_t v = vmlal_s8(vmull_s8(x0, w0), x1, w1);
    acc[0] = vaddw_s16(acc[0], vget_low_s16(v));
    acc[1] = vaddw_s16(acc[1], vget_high_s16(v));
}

/* acc (8 channels) += x0 * w0. */
TE_DW_INLINE void te_dw_mac8_one(int32x4_t *acc, int8x8_t x0, int8x8_t w0)
{
    const int16x8_t v = vmull_s8(x0, w0);
    acc[0] = vaddw_s16(acc[0], vget_low_s16(v));
    acc[1] = vaddw_s16(acc[1], vget_high_s16(v));
}

/* One channel block's requantization operands (the plan's arrays at its first channel), so that
 * the pixel loop does not reload the plan's pointers after each store. */
typedef struct {
    const int32_t *bias, *mult, *left, *right;
    int shift_left;  /* whether a channel shifts left (a multiplier of 1 or more): else no SQSHL */
} te_dw_block;

TE_DW_INLINE te_dw_block te_dw_block_at(const te_dwconv_s8_plan *p, int64_t ch)
{
    te_dw_block b;
    b.bias = p->rq.bias + ch;
    b.mult = p->rq.mult + ch;
    b.left = p->rq.left + ch;
    b.right = p->rq.right + ch;
    b.shift_left = p->shift_left;
    return b;
}

/* The output step of a block's 8 * groups channels into yp. */
TE_DW_INLINE void te_dw_store(const te_dw_block *b, const te_dw_output *o, int groups,
                              int32x4_t *acc, int8_t *yp)
{
    int32x4_t mult[4], right[4];
    if (b->shift_left) {
        int32x4_t left[4];
        te_dw_load_s32(b->left, 2 * groups, left);
        TE_DW_UNROLL
        for (int j = 0; j < 2 * groups; j++)
            acc[j] = vqshlq_s32(acc[j], left[j]);
    }
    te_dw_load_s32(b->mult, 2 * groups, mult);
    te_dw_load_s32(b->right, 2 * groups, right);
    int8x8_t y[2];
    TE_DW_UNROLL
    for (int g = 0; g < groups; g++) {
        int16x4_t h[2];
        TE_DW_UNROLL
        for (int i = 0; i < 2; i++) {
            const int j = 2 * g + i;
            h[i] = vqmovn_s32(vrshlq_s32(vqrdmulhq_s32(acc[j], mult[j]), right[j]));
        }
        y[g] = vqmovn_s16(vqaddq_s16(vcombine_s16(h[0], h[1]), o->zero_point));
    }
    if (groups == 2) {
        const int8x16_t v = vminq_s8(vmaxq_s8(vcombine_s8(y[0], y[1]), o->lo), o->hi);
        vst1q_s8(yp, v);
    } else {
        vst1_s8(yp, vmin_s8(vmax_s8(y[0], vget_low_s8(o->lo)), vget_low_s8(o->hi)));
    }
}

/* n output pixels of one row, channels ch.. (8 * groups): pixel i's window row ky starts at
 * xr[ky] + i * sw * C (channel 0), its output at y + i * C. K and groups are constants of the
 * caller: the tap loops unroll and the K * K weight vectors are loaded once, before the pixels. */
TE_DW_INLINE void te_dw_pixels(const te_dwconv_s8_plan *p, const te_dw_output *o,
                               const int8_t *const *xr, int64_t n, int64_t ch, const int K,
                               const int groups, int8_t *y)
{
    const int64_t c = p->s.c, step = p->s.sw * c;
    int8x16_t w16[25];
    int8x8_t w8[25];
    TE_DW_UNROLL
    for (int t = 0; t < K * K; t++) {
        if (groups == 2)
            w16[t] = vld1q_s8(p->w + t * c + ch);
        else
            w8[t] = vld1_s8(p->w + t * c + ch);
    }
    const int8_t *r[5];
    TE_DW_UNROLL
    for (int ky = 0; ky < K; ky++)
        r[ky] = xr[ky] + ch;
    const te_dw_block blk = te_dw_block_at(p, ch);
    int8_t *yp = y + ch;
    for (int64_t i = 0; i < n; i++, yp += c) {
        int32x4_t acc[4];
        te_dw_load_s32(blk.bias, 2 * groups, acc);
        /* Taps in pairs, t = ky * K + kx; the last one alone when K * K is odd. */
        TE_DW_UNROLL
        for (int t = 0; t < K * K; t += 2) {
            const int8_t *x0 = r[t / K] + i * step + (t % K) * c;
            if (t + 1 == K * K) {
                if (groups == 2)
                    te_dw_mac16_one(acc, vld1q_s8(x0), w16[t]);
                else
                    te_dw_mac8_one(acc, vld1_s8(x0), w8[t]);
                break;
            }
            const int8_t *x1 = r[(t + 1) / K] + i * step + ((t + 1) % K) * c;
            if (groups == 2)
                te_dw_mac16(acc, vld1q_s8(x0), w16[t], vld1q_s8(x1), w16[t + 1]);
            else
                te_dw_mac8(acc, vld1_s8(x0), w8[t], vld1_s8(x1), w8[t + 1]);
        }
        te_dw_store(&blk, o, groups, acc, yp);
    }
}

/* The same n pixels, every channel: blocks of 16, one of 8, then the scalar tail. */
TE_DW_INLINE void te_dw_pixels_all(const te_dwconv_s8_plan *p, const te_dw_output *o,
                                   const int8_t *const *xr, int64_t n, const int K, int8_t *y)
{
    const int64_t c = p->s.c, sw = p->s.sw, c16 = c / 16 * 16, c8 = c / 8 * 8;
    int64_t ch = 0;
    for (; ch < c16; ch += 16)
        te_dw_pixels(p, o, xr, n, ch, K, 2, y);
    if (ch < c8)
        te_dw_pixels(p, o, xr, n, ch, K, 1, y);
    for (int64_t i = 0; i < n && c8 < c; i++)
        for (ch = c8; ch < c; ch++) {
            int64_t acc = p->rq.bias[ch];  /* folded: int64 keeps the partial sums exact */
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++)
                    acc += xr[ky][(i * sw + kx) * c + ch] * p->w[(ky * K + kx) * c + ch];
            /* left + right is the shift: one of the two is 0. */
            const int shift = p->rq.left[ch] + p->rq.right[ch];
            y[i * c + ch] = te_requant_s8((int32_t)acc, p->rq.mult[ch], shift, p->out.zero_point,
                                          p->out.lo, p->out.hi);
        }
}

/* The window rows of a run of border pixels as K rows of `cols` columns from input column ix0,
 * in strip (row ky at ky * cols * C), z_x where they reach into the padding: a padded tap adds
 * (z_x - z_x) * w = 0, as in the reference. rows[ky]: the input row of window row ky, NULL when
 * in the padding. */
TE_DW_INLINE void te_dw_strip(const te_dwconv_s8_plan *p, const int8_t *const *rows, int64_t ix0,
                              int64_t cols, const int K, int8_t *strip)
{
    const int64_t c = p->s.c, wd = p->s.w;
    int64_t first = ix0 < 0 ? -ix0 : 0, end = wd - ix0;  /* the columns inside: [first, end) */
    first = first < cols ? first : cols;
    end = end < cols ? end : cols;
    end = end > first ? end : first;
    for (int ky = 0; ky < K; ky++) {
        int8_t *dst = strip + ky * cols * c;
        if (!rows[ky]) {
            memset(dst, p->x_zp, (size_t)(cols * c));
            continue;
        }
        memset(dst, p->x_zp, (size_t)(first * c));
        if (end > first)
            memcpy(dst + first * c, rows[ky] + (ix0 + first) * c, (size_t)((end - first) * c));
        memset(dst + end * c, p->x_zp, (size_t)((cols - end) * c));
    }
}

/* Task `task` of a depthwise K x K node (its output rows, image by image). scratch: a row of W
 * pixels of z_x (the window rows in the padding, for interior pixels), then a strip
 * (te_dw_strip) for the border pixels left and right of the interior. */
TE_DW_INLINE void te_dw_eval(const te_node *node, void *scratch, int task, const int K)
{
    const te_dwconv_s8_plan *p = (const te_dwconv_s8_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    const int64_t h = s->h, wd = s->w, c = s->c, oh = s->oh, ow = s->ow, sw = s->sw;
    const int64_t lo = p->ox_lo, hi = p->ox_hi > p->ox_lo ? p->ox_hi : p->ox_lo;
    int8_t *zrow = (int8_t *)scratch, *strip = zrow + wd * c;
    memset(zrow, p->x_zp, (size_t)(wd * c));
    const te_dw_output o = te_dw_output_of(p);
    int64_t row0, row1;  /* this task's output rows b * oh + oy */
    te_task_range((uint64_t)s->n * (uint64_t)oh, node->tasks, task, &row0, &row1);
    for (int64_t row = row0; row < row1; row++) {
        const int64_t b = row / oh, iy0 = row % oh * s->sh - s->pt;
        int8_t *yr = y + row * ow * c;
        const int8_t *rows[5];
        for (int ky = 0; ky < K; ky++) {
            const int64_t iy = iy0 + ky;
            rows[ky] = iy >= 0 && iy < h ? x + ((b * h + iy) * wd) * c : NULL;
        }
        /* The interior columns [lo, hi) in place, then the border ones [0, lo) and [hi, ow)
         * through a strip; one call site, so the unrolled code is instantiated once. */
        for (int part = 0; part < 3; part++) {
            const int64_t ox0 = part == 0 ? lo : part == 1 ? 0 : hi;
            const int64_t ox1 = part == 0 ? hi : part == 1 ? lo : ow;
            if (ox0 >= ox1)
                continue;
            const int8_t *xr[5];
            if (part == 0) {
                for (int ky = 0; ky < K; ky++)
                    xr[ky] = (rows[ky] ? rows[ky] : zrow) + (lo * sw - s->pl) * c;
            } else {
                const int64_t cols = (ox1 - 1 - ox0) * sw + K;
                te_dw_strip(p, rows, ox0 * sw - s->pl, cols, K, strip);
                for (int ky = 0; ky < K; ky++)
                    xr[ky] = strip + ky * cols * c;
            }
            te_dw_pixels_all(p, &o, xr, ox1 - ox0, K, yr + ox0 * c);
        }
    }
}

#endif /* __ARM_NEON */
#endif /* TE_NEON_DWCONV_S8_NEON_H */
