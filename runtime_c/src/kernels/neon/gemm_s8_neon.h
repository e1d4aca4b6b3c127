/*
 * gemm_s8_neon.h - the INT8 matrix product behind the NEON convolution and fully connected kernels:
 * y[r, j] = clamp(requantize(bias[j] + sum_i (x[r, i] - z_x) * w[j, i]) + z_y), x [m, k] with
 * rows x_stride bytes apart, w [n, k] (w in [-127, 127], checked by weights_s8), y [m, n].
 *
 * The zero point leaves the inner loop: sum (x - z_x) * w = sum x * w - z_x * sum w, and prepare
 * folds bias[j] - z_x * sum_i w[j, i] into one int32 per channel (within int32: the reference's
 * overflow proof bounds |bias| + |z_x| * sum |w|). The raw products x * w then multiply int8 by
 * int8: two of them fit int16 (|x| <= 128, |w| <= 127, 2 * 16256 < 32768), so the plain NEON step
 * is SMULL + SMLAL2 (16 products) and SADALP into int32 lanes: 3 instructions per 16 products, the
 * least without the dot product; the dot-product step (SDOT) sums 16 products in one. Integer sums
 * are exact and their order does not matter, so the result is bit-exact with the reference; lanes
 * add modulo 2^32, and the true sum is within int32.
 *
 * Tile: MR rows of x by 4 channels, 16 values of k per step ("4x4c16" on aarch64: 16 accumulators,
 * 4 rows of x and 4 of w fill its 32 vector registers; "2x4c16" on armv7, which has 16); rows left
 * over take a 1x4 tile. A tile's sums are reduced once, at its end (pairwise adds).
 *
 * Packed weights (prepare, k >= 8): per block of 4 channels (channels past n are zero, their sums
 * discarded), the 4 rows' values interleaved by step: [16 values of channel 0, of 1, of 2, of 3]
 * per 16-step; then the last r = k mod 16 values: when r > 8 and k > 16, one more 16-step over the
 * 16 values that end at k, the weights of those already counted zeroed (x is read at [k - 16, k),
 * in bounds, so no scalar tail); otherwise [8 each] for a step of 8 when r >= 8, and [8 each] for
 * the last k mod 8 values as a step over the 8 that end at k, zeroed likewise. A step's weights
 * are one load (LD1 of four registers on aarch64). A product with k < 8 takes a scalar tile on
 * the weights in place. The includer picks the step: define TE_NEON_GEMM_S8_DOT before including
 * this header, in a file compiled with the dot product, for SDOT.
 */
#ifndef TE_NEON_GEMM_S8_NEON_H
#define TE_NEON_GEMM_S8_NEON_H

#if defined(__ARM_NEON)
#include <string.h>

#include "requant_s8_neon.h"

#if defined(__aarch64__)
#define TE_NEON_GEMM_S8_MR 4
#else
#define TE_NEON_GEMM_S8_MR 2
#endif
#define TE_NEON_GEMM_S8_NC 16  /* output channels per task unit (a multiple of 4) */

/* Inlined into every caller, so that a tile's row count is a constant and its arrays registers. */
#if defined(__GNUC__)
#define TE_NEON_GEMM_INLINE static inline __attribute__((always_inline))
#else
#define TE_NEON_GEMM_INLINE static inline
#endif

typedef struct {
    size_t m, n, k;
    const int8_t *w;       /* [n, k] in place (the scalar tile's, k < 8) */
    const int8_t *packed;  /* k >= 8: the packed blocks of 4 channels; NULL otherwise */
    size_t block_bytes;    /* bytes per packed block */
    te_neon_requant rq;    /* rq.bias[j] = bias[j] - z_x * sum_i w[j, i] */
    te_neon_output out;
} te_neon_gemm_s8;

/* Fill g for a layer whose shapes its caller checked: x = in[0] (rank x_rank, -1 any) seen as
 * [m, k], the weight w (in[1], or any [n, k] int8 with in[1]'s quantization), optional bias in[2]
 * [n], output [m, n], the fused clamp [act_min, act_max]; checks the quantization as the reference
 * kernels do (weights_s8.h, which also proves that the accumulators fit int32), packs the weights
 * and sets node->macs. */
te_status te_neon_gemm_s8_prepare(te_node *node, te_prepare_ctx *ctx, int x_rank, size_t m,
                                  size_t n, size_t k, float act_min, float act_max,
                                  te_neon_gemm_s8 *g);

/* acc + the 16 products a[i] * b[i], summed into four int32 lanes (which lane gets which products
 * does not matter: the lanes are summed at the end). */
TE_NEON_GEMM_INLINE int32x4_t te_neon_mac16_s8(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#if defined(TE_NEON_GEMM_S8_DOT)
    return vdotq_s32(acc, a, b);
#else
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_s8(p, vget_high_s8(a), vget_high_s8(b));
    return vpadalq_s16(acc, p);
#endif
}

/* The 16 products a[i] * b[i] in four int32 lanes: a tile's first step, which needs no zeroed
 * accumulator on plain NEON (SADDLP instead of SADALP). */
TE_NEON_GEMM_INLINE int32x4_t te_neon_first16_s8(int8x16_t a, int8x16_t b)
{
#if defined(TE_NEON_GEMM_S8_DOT)
    return vdotq_s32(vdupq_n_s32(0), a, b);
#else
    return vpaddlq_s16(vmlal_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), vget_high_s8(a),
                                vget_high_s8(b)));
#endif
}

/* The lane sums of a, b, c, d as one vector. */
TE_NEON_GEMM_INLINE int32x4_t te_neon_hsum4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
{
#if defined(__aarch64__)
    return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
#else
    const int32x2_t ab = vpadd_s32(vadd_s32(vget_low_s32(a), vget_high_s32(a)),
                                   vadd_s32(vget_low_s32(b), vget_high_s32(b)));
    const int32x2_t cd = vpadd_s32(vadd_s32(vget_low_s32(c), vget_high_s32(c)),
                                   vadd_s32(vget_low_s32(d), vget_high_s32(d)));
    return vcombine_s32(ab, cd);
#endif
}

/* The 4 x 16 packed weights of one step. */
TE_NEON_GEMM_INLINE void te_neon_load_w16(const int8_t *p, int8x16_t wv[4])
{
#if defined(__aarch64__)
    const int8x16x4_t v = vld1q_s8_x4(p);  /* one LD1 of four registers */
    wv[0] = v.val[0], wv[1] = v.val[1], wv[2] = v.val[2], wv[3] = v.val[3];
#else
    for (int j = 0; j < 4; j++)
        wv[j] = vld1q_s8(p + 16 * j);
#endif
}

/* The 4 x 8 packed weights of a step of 8. */
TE_NEON_GEMM_INLINE void te_neon_load_w8(const int8_t *p, int8x8_t wv[4])
{
    const int8x16_t a = vld1q_s8(p), b = vld1q_s8(p + 16);
    wv[0] = vget_low_s8(a), wv[1] = vget_high_s8(a);
    wv[2] = vget_low_s8(b), wv[3] = vget_high_s8(b);
}

#if defined(TE_NEON_GEMM_S8_DOT)
#define TE_NEON_GEMM_S8_UNROLL 1
#else
#define TE_NEON_GEMM_S8_UNROLL 0
#endif

/* acc[r][j] += the products of x[r][i..i+15] and the step's packed weights p. */
TE_NEON_GEMM_INLINE void te_neon_gemm_s8_step16(int32x4_t acc[][4], const int8_t *const x[],
                                                int rows, const int8_t *p, size_t i)
{
    int8x16_t wv[4];
    te_neon_load_w16(p, wv);
    for (int r = 0; r < rows; r++) {
        const int8x16_t xv = vld1q_s8(x[r] + i);
        for (int j = 0; j < 4; j++)
            acc[r][j] = te_neon_mac16_s8(acc[r][j], xv, wv[j]);
    }
}

/* acc[r][j] += the products of x[r][i..i+7] and the step's packed weights p. */
TE_NEON_GEMM_INLINE void te_neon_gemm_s8_step8(int32x4_t acc[][4], const int8_t *const x[],
                                               int rows, const int8_t *p, size_t i)
{
    int8x8_t wv[4];
    te_neon_load_w8(p, wv);
    for (int r = 0; r < rows; r++) {
        const int8x8_t xv = vld1_s8(x[r] + i);
        for (int j = 0; j < 4; j++)
            acc[r][j] = vpadalq_s16(acc[r][j], vmull_s8(xv, wv[j]));
    }
}

/* sums[r] lane j = sum_i x[r][i] * w[j][i] for i < k (>= 8), r < rows (1..TE_NEON_GEMM_S8_MR, a
 * constant at each call site), j < 4, from the channels' packed block p. */
TE_NEON_GEMM_INLINE void te_neon_gemm_s8_tile(const int8_t *const x[], int rows, const int8_t *p,
                                              size_t k, int32x4_t sums[])
{
    int32x4_t acc[TE_NEON_GEMM_S8_MR][4];
    size_t i;
    if (k >= 16) {
        int8x16_t wv[4];
        te_neon_load_w16(p, wv);
        for (int r = 0; r < rows; r++) {
            const int8x16_t xv = vld1q_s8(x[r]);
            for (int j = 0; j < 4; j++)
                acc[r][j] = te_neon_first16_s8(xv, wv[j]);
        }
        p += 64;
        i = 16;
        /* Two steps per turn halve the loop's overhead, where the registers allow it: with SDOT or
         * one row (the plain 4-row step needs 28 of the 32 for itself). */
        if (TE_NEON_GEMM_S8_UNROLL || rows == 1)
            for (; i + 32 <= k; i += 32, p += 128) {
                te_neon_gemm_s8_step16(acc, x, rows, p, i);
                te_neon_gemm_s8_step16(acc, x, rows, p + 64, i + 16);
            }
        for (size_t steps = (k - i) / 16; steps > 0; steps--, i += 16, p += 64)  /* counts down: */
            te_neon_gemm_s8_step16(acc, x, rows, p, i);  /* one SUBS and a branch per step */
    } else {
        int8x8_t wv[4];
        te_neon_load_w8(p, wv);
        for (int r = 0; r < rows; r++) {
            const int8x8_t xv = vld1_s8(x[r]);
            for (int j = 0; j < 4; j++)
                acc[r][j] = vpaddlq_s16(vmull_s8(xv, wv[j]));
        }
        p += 32;
        i = 8;
    }
    if (k - i > 8 && i >= 16) {  /* the 16 values ending at k; the packed weights zero those */
        te_neon_gemm_s8_step16(acc, x, rows, p, k - 16);  /* counted already */
    } else {
        if (i + 8 <= k) {
            te_neon_gemm_s8_step8(acc, x, rows, p, i);
            p += 32;
            i += 8;
        }
        if (i < k)  /* the 8 values ending at k, likewise */
            te_neon_gemm_s8_step8(acc, x, rows, p, k - 8);
    }
    for (int r = 0; r < rows; r++)
        sums[r] = te_neon_hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
}

/* te_neon_gemm_s8_tile for k < 8 (a row shorter than one step): scalar, on the rows w[j] in
 * place. */
static inline void te_neon_gemm_s8_tile_short(const int8_t *const x[], int rows,
                                              const int8_t *const w[4], size_t k, int32x4_t sums[])
{
    for (int r = 0; r < rows; r++) {
        int32_t s[4] = {0, 0, 0, 0};
        for (size_t i = 0; i < k; i++)
            for (int j = 0; j < 4; j++)
                s[j] += x[r][i] * w[j][i];
        sums[r] = vld1q_s32(s);
    }
}

/* Store the first `count` (1..4) of the four int8 in the low lanes of v. */
TE_NEON_GEMM_INLINE void te_neon_store_s8x4(int8_t *y, int8x8_t v, size_t count)
{
    if (count == 4) {
        const uint32_t word = vget_lane_u32(vreinterpret_u32_s8(v), 0);
        memcpy(y, &word, 4);  /* one unaligned 32-bit store */
        return;
    }
    vst1_lane_s8(y, v, 0);
    if (count > 1)
        vst1_lane_s8(y + 1, v, 1);
    if (count > 2)
        vst1_lane_s8(y + 2, v, 2);
}

/* The per-channel operands of four channels and the per-tensor ones, as vectors. */
typedef struct {
    int32x4_t bias, mult, left, right, zero_point, lo, hi;
} te_neon_requant_vec;

/* Requantize sums (the channels of q) and store the first count (1..4) int8 to y. */
TE_NEON_GEMM_INLINE void te_neon_requant_store(int8_t *y, int32x4_t sums,
                                               const te_neon_requant_vec *q, size_t count)
{
    const int32x4_t v = te_neon_requant4(vaddq_s32(sums, q->bias), q->mult, q->left, q->right,
                                         q->zero_point, q->lo, q->hi);
    te_neon_store_s8x4(y, te_neon_narrow8(v, v), count);
}

/* The sums of `rows` rows xr[] by channels j..j+3 (the packed block, or the rows in place). */
TE_NEON_GEMM_INLINE void te_neon_gemm_s8_sums(const te_neon_gemm_s8 *g, const int8_t *const xr[],
                                              int rows, size_t j, size_t j1, int32x4_t sums[])
{
    if (g->packed) {
        te_neon_gemm_s8_tile(xr, rows, g->packed + j / 4 * g->block_bytes, g->k, sums);
    } else {
        const int8_t *wj[4];
        for (size_t t = 0; t < 4; t++)
            wj[t] = g->w + (j + t < j1 ? j + t : j1 - 1) * g->k;
        te_neon_gemm_s8_tile_short(xr, rows, wj, g->k, sums);
    }
}

/* One block of y (te_neon_gemm_s8_block): rows 0..rows-1 (x rows x_stride bytes apart, y rows
 * g->n bytes apart), columns [j0, j1) (j0 a multiple of 4: blocks of 4 channels), requantized.
 * Every value is an exact integer sum, so how rows and columns are blocked changes no result.
 * Defined once per step (gemm_s8.c, neon_dot/gemm_s8.c) so that the kernels share it. */
TE_NEON_GEMM_INLINE void te_neon_gemm_s8_block_body(const te_neon_gemm_s8 *g, const int8_t *x,
                                                    size_t x_stride, int8_t *y, size_t rows,
                                                    size_t j0, size_t j1)
{
    /* Locals: stores through int8_t may alias anything, so fields read after one are reloaded. */
    const size_t n = g->n;
    const te_neon_requant rq = g->rq;
    te_neon_requant_vec q;
    q.zero_point = vdupq_n_s32(g->out.zero_point);
    q.lo = vdupq_n_s32(g->out.lo);
    q.hi = vdupq_n_s32(g->out.hi);
    size_t r = 0;
    for (; r + TE_NEON_GEMM_S8_MR <= rows; r += TE_NEON_GEMM_S8_MR) {
        const int8_t *xr[TE_NEON_GEMM_S8_MR];
        for (int t = 0; t < TE_NEON_GEMM_S8_MR; t++)
            xr[t] = x + (r + (size_t)t) * x_stride;
        for (size_t j = j0; j < j1; j += 4) {
            int32x4_t sums[TE_NEON_GEMM_S8_MR];
            te_neon_gemm_s8_sums(g, xr, TE_NEON_GEMM_S8_MR, j, j1, sums);
            q.bias = vld1q_s32(rq.bias + j);
            q.mult = vld1q_s32(rq.mult + j);
            q.left = vld1q_s32(rq.left + j);
            q.right = vld1q_s32(rq.right + j);
            const size_t count = j1 - j < 4 ? j1 - j : 4;
            for (int t = 0; t < TE_NEON_GEMM_S8_MR; t++)
                te_neon_requant_store(y + (r + (size_t)t) * n + j, sums[t], &q, count);
        }
    }
    for (; r < rows; r++) {
        const int8_t *xr[1] = {x + r * x_stride};
        for (size_t j = j0; j < j1; j += 4) {
            int32x4_t sums[1];
            te_neon_gemm_s8_sums(g, xr, 1, j, j1, sums);
            q.bias = vld1q_s32(rq.bias + j);
            q.mult = vld1q_s32(rq.mult + j);
            q.left = vld1q_s32(rq.left + j);
            q.right = vld1q_s32(rq.right + j);
            te_neon_requant_store(y + r * n + j, sums[0], &q, j1 - j < 4 ? j1 - j : 4);
        }
    }
}

/* te_neon_gemm_s8_block_body with the plain NEON step (gemm_s8.c) and with SDOT
 * (neon_dot/gemm_s8.c); TE_NEON_GEMM_S8_BLOCK names the includer's one. */
void te_neon_gemm_s8_block(const te_neon_gemm_s8 *g, const int8_t *x, size_t x_stride, int8_t *y,
                           size_t rows, size_t j0, size_t j1);
void te_neon_gemm_s8_block_dot(const te_neon_gemm_s8 *g, const int8_t *x, size_t x_stride,
                               int8_t *y, size_t rows, size_t j0, size_t j1);
#if defined(TE_NEON_GEMM_S8_DOT)
#define TE_NEON_GEMM_S8_BLOCK te_neon_gemm_s8_block_dot
#else
#define TE_NEON_GEMM_S8_BLOCK te_neon_gemm_s8_block
#endif

/* The task units of a product: blocks of TE_NEON_GEMM_S8_MR rows by TE_NEON_GEMM_S8_NC channels,
 * so that a task holds whole tiles even when the rows are few (a 7x7 layer has 49). */
static inline uint64_t te_neon_gemm_s8_units(size_t m, size_t n)
{
    return (uint64_t)((m + TE_NEON_GEMM_S8_MR - 1) / TE_NEON_GEMM_S8_MR) *
           (uint64_t)((n + TE_NEON_GEMM_S8_NC - 1) / TE_NEON_GEMM_S8_NC);
}

/* Task `task` of `tasks` of y [m, n] = x [m, k] (rows contiguous) times w transposed: its
 * contiguous range of units (te_neon_gemm_s8_units, row blocks outer), as te_internal.h asks. */
TE_NEON_GEMM_INLINE void te_neon_gemm_s8_task(const te_neon_gemm_s8 *g, const int8_t *x, int8_t *y,
                                              int tasks, int task)
{
    const size_t m = g->m, n = g->n, k = g->k;
    const size_t col_blocks = (n + TE_NEON_GEMM_S8_NC - 1) / TE_NEON_GEMM_S8_NC;
    int64_t u0, u1;
    te_task_range(te_neon_gemm_s8_units(m, n), tasks, task, &u0, &u1);
    /* One call per row block: the task's units of that row block are consecutive channels. */
    for (size_t u = (size_t)u0; u < (size_t)u1;) {
        const size_t block = u / col_blocks, row_end = (block + 1) * col_blocks;
        const size_t last = row_end < (size_t)u1 ? row_end : (size_t)u1;
        const size_t r = block * TE_NEON_GEMM_S8_MR, j = u % col_blocks * TE_NEON_GEMM_S8_NC;
        const size_t rows = m - r < TE_NEON_GEMM_S8_MR ? m - r : TE_NEON_GEMM_S8_MR;
        const size_t j1 = last == row_end ? n : last % col_blocks * TE_NEON_GEMM_S8_NC;
        TE_NEON_GEMM_S8_BLOCK(g, x + r * k, k, y + r * n, rows, j, j1);
        u = last;
    }
}

#endif /* __ARM_NEON */
#endif /* TE_NEON_GEMM_S8_NEON_H */
