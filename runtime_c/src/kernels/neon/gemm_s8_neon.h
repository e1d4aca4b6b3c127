/*
 * gemm_s8_neon.h - the INT8 matrix product behind the NEON 1x1 convolution and fully connected
 * kernels: y[r, j] = clamp(requantize(bias[j] + sum_i (x[r, i] - z_x) * w[j, i]) + z_y), x [m, k]
 * and w [n, k] row-major int8 (w in [-127, 127], checked by weights_s8), y [m, n].
 *
 * The zero point leaves the inner loop: sum (x - z_x) * w = sum x * w - z_x * sum w, and prepare
 * folds bias[j] - z_x * sum_i w[j, i] into one int32 per channel (within int32: the reference's
 * overflow proof bounds |bias| + |z_x| * sum |w|). The raw products x * w then multiply int8 by
 * int8: two of them fit int16 (|x| <= 128, |w| <= 127, 2 * 16256 < 32768), so the plain NEON step
 * is SMULL + SMLAL (16 products) and SADALP into int32 lanes; the dot-product step (SDOT) sums four
 * products per int32 lane. Integer sums are exact and their order does not matter, so the result is
 * bit-exact with the reference; lanes add modulo 2^32, and the true sum is within int32.
 *
 * Tile: 2 rows of x by 4 rows of w, 16 values of k per step ("2x4c16"), then 8, then a scalar
 * tail; edge tiles repeat the last row of x or w (in-bounds reads) and discard those results.
 * Weights stay in place (no packing). The includer picks the step: define TE_NEON_GEMM_S8_DOT
 * before including this header, in a file compiled with the dot product, for SDOT.
 */
#ifndef TE_NEON_GEMM_S8_NEON_H
#define TE_NEON_GEMM_S8_NEON_H

#if defined(__ARM_NEON)
#include <string.h>

#include "requant_s8_neon.h"

typedef struct {
    size_t m, n, k;
    te_neon_requant rq;  /* rq.bias[j] = bias[j] - z_x * sum_i w[j, i] */
    te_neon_output out;
} te_neon_gemm_s8;

/* Fill g for a layer whose shapes its caller checked: x = in[0] (rank x_rank, -1 any) seen as
 * [m, k], weight in[1] [n, k], optional bias in[2] [n], output [m, n], the fused clamp
 * [act_min, act_max]; checks the quantization as the reference kernels do (weights_s8.h, which
 * also proves that the accumulators fit int32) and sets node->macs. */
te_status te_neon_gemm_s8_prepare(te_node *node, te_prepare_ctx *ctx, int x_rank, size_t m,
                                  size_t n, size_t k, float act_min, float act_max,
                                  te_neon_gemm_s8 *g);

/* acc + the 16 products a[i] * b[i], summed into four int32 lanes (which lane gets which products
 * does not matter: the lanes are summed at the end). */
static inline int32x4_t te_neon_mac16_s8(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#if defined(TE_NEON_GEMM_S8_DOT)
    return vdotq_s32(acc, a, b);
#else
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_s8(p, vget_high_s8(a), vget_high_s8(b));
    return vpadalq_s16(acc, p);
#endif
}

/* The lane sums of a, b, c, d as one vector. */
static inline int32x4_t te_neon_hsum4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
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

/* sums[r] lane j = sum_i x_r[i] * w_j[i] for i < k, r < 2, j < 4. */
static inline void te_neon_gemm_s8_2x4(const int8_t *x0, const int8_t *x1, const int8_t *const w[4],
                                       size_t k, int32x4_t sums[2])
{
    int32x4_t a0[4], a1[4];
    int32_t tail[8] = {0};
    size_t i = 0;
    for (int j = 0; j < 4; j++)
        a0[j] = a1[j] = vdupq_n_s32(0);
    for (; i + 16 <= k; i += 16) {
        const int8x16_t v0 = vld1q_s8(x0 + i), v1 = vld1q_s8(x1 + i);
        for (int j = 0; j < 4; j++) {
            const int8x16_t wj = vld1q_s8(w[j] + i);
            a0[j] = te_neon_mac16_s8(a0[j], v0, wj);
            a1[j] = te_neon_mac16_s8(a1[j], v1, wj);
        }
    }
    if (i + 8 <= k) {
        const int8x8_t v0 = vld1_s8(x0 + i), v1 = vld1_s8(x1 + i);
        for (int j = 0; j < 4; j++) {
            const int8x8_t wj = vld1_s8(w[j] + i);
            a0[j] = vpadalq_s16(a0[j], vmull_s8(v0, wj));
            a1[j] = vpadalq_s16(a1[j], vmull_s8(v1, wj));
        }
        i += 8;
    }
    for (; i < k; i++)
        for (int j = 0; j < 4; j++) {
            tail[j] += x0[i] * w[j][i];
            tail[4 + j] += x1[i] * w[j][i];
        }
    sums[0] = vaddq_s32(te_neon_hsum4(a0[0], a0[1], a0[2], a0[3]), vld1q_s32(tail));
    sums[1] = vaddq_s32(te_neon_hsum4(a1[0], a1[1], a1[2], a1[3]), vld1q_s32(tail + 4));
}

/* Store the first `count` (1..4) of the four int8 in the low lanes of v. */
static inline void te_neon_store_s8x4(int8_t *y, int8x8_t v, size_t count)
{
    int8_t lanes[8];
    vst1_s8(lanes, v);
    memcpy(y, lanes, count);
}

/* Rows [r0, r1) and columns [j0, j1) (j0 a multiple of 4: the per-channel vectors are read four
 * channels at a time from j0) of y = the product of x [m, k] and w [n, k] (g's shape),
 * requantized: one task's block (te_internal.h). Every value is an exact integer sum, so the block
 * edges (where tiles repeat a row) change no result. */
static inline void te_neon_gemm_s8_run(const te_neon_gemm_s8 *g, const int8_t *x, const int8_t *w,
                                       int8_t *y, size_t r0, size_t r1, size_t j0, size_t j1)
{
    const size_t n = g->n, k = g->k;
    for (size_t r = r0; r < r1; r += 2) {
        const int8_t *x0 = x + r * k;
        const int8_t *x1 = r + 1 < r1 ? x0 + k : x0;
        for (size_t j = j0; j < j1; j += 4) {
            const int8_t *wj[4];
            for (size_t t = 0; t < 4; t++)
                wj[t] = w + (j + t < j1 ? j + t : j1 - 1) * k;
            int32x4_t sums[2];
            te_neon_gemm_s8_2x4(x0, x1, wj, k, sums);
            const size_t count = j1 - j < 4 ? j1 - j : 4;
            te_neon_store_s8x4(y + r * n + j, te_neon_requant_channels4(sums[0], &g->rq, j, &g->out),
                               count);
            if (r + 1 < r1)
                te_neon_store_s8x4(y + (r + 1) * n + j,
                                   te_neon_requant_channels4(sums[1], &g->rq, j, &g->out), count);
        }
    }
}

#endif /* __ARM_NEON */
#endif /* TE_NEON_GEMM_S8_NEON_H */
