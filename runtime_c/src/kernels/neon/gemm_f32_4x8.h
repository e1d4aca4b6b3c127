/*
 * gemm_f32_4x8.h - the float32 NEON GEMM under the float32 conv2d, fully connected and matmul NEON
 * kernels:
 *
 *   y[r][j] = clamp(init[r][j] + x[r][0] * w[0][j] + x[r][1] * w[1][j] + ... + x[r][k-1] * w[k-1][j])
 *
 * for rows r < m and columns j < n, w packed [k][n] (a row of weights per input value); init is
 * the bias row (te_gemm_f32_4x8__neon) or y itself (te_gemm_f32_4x8_accumulate__neon, so that a sum
 * can be taken in several calls, e.g. one per window row of a convolution). Each output takes its
 * terms one at a time in k order, with a separate multiply and add (no fused multiply-add), exactly
 * as the reference kernels sum: the results are bit-identical to them, and a sum split into calls
 * is the same sum (the running value is float32 in registers and in y alike). The speed comes from
 * register blocking: a 4x8 tile of outputs stays in registers over the whole k loop, so each weight
 * vector loaded serves four rows, and each row's inputs are loaded four k at a time and used by
 * lane. Column tails of 4 and then 1, row tails of 1; nothing is read outside x, w, init or y.
 */
#ifndef TE_NEON_GEMM_F32_4X8_H
#define TE_NEON_GEMM_F32_4X8_H

#include <stddef.h>

/* The GEMM above with init = bias. x: row r starts at x + r * ldx; y: row r at y + r * ldy; bias:
 * n values or NULL (zero); clamp: te_clampf(v, act_min, act_max), NaN kept (infinite bounds make it
 * the identity and skip it). */
void te_gemm_f32_4x8__neon(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                           const float *w, const float *bias, float *y, size_t ldy, float act_min,
                           float act_max);

/* The GEMM above with init = y: y[r][j] = clamp(y[r][j] + sum_i x[r][i] * w[i][j]). */
void te_gemm_f32_4x8_accumulate__neon(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                                      const float *w, float *y, size_t ldy, float act_min,
                                      float act_max);

#endif /* TE_NEON_GEMM_F32_4X8_H */
