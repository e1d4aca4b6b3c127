/*
 * gemm_f32_4x8.h - the float32 NEON GEMM under the 1x1 conv2d and fully connected NEON kernels:
 *
 *   y[r][j] = clamp(bias[j] + x[r][0] * w[0][j] + x[r][1] * w[1][j] + ... + x[r][k-1] * w[k-1][j])
 *
 * for rows r < m and columns j < n, w packed [k][n] (a row of weights per input value). Each output
 * takes its terms one at a time in k order, with a separate multiply and add (no fused
 * multiply-add), exactly as the reference kernels sum: the results are bit-identical to them. The
 * speed comes from register blocking: a 4x8 tile of outputs stays in registers over the whole k
 * loop, so each weight vector loaded serves four rows. Column tails of 4 and then 1, row tails of 1;
 * nothing is read outside x, w or bias.
 */
#ifndef TE_NEON_GEMM_F32_4X8_H
#define TE_NEON_GEMM_F32_4X8_H

#include <stddef.h>

/* The GEMM above. x: row r starts at x + r * ldx; y: row r at y + r * ldy; bias: n values or NULL
 * (zero); clamp: te_clampf(v, act_min, act_max), NaN kept. */
void te_gemm_f32_4x8__neon(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                           const float *w, const float *bias, float *y, size_t ldy, float act_min,
                           float act_max);

#endif /* TE_NEON_GEMM_F32_4X8_H */
