/* gemm_f32_4x8.c - the float32 NEON GEMM (see gemm_f32_4x8.h). ARM only: empty elsewhere. */
#if defined(__ARM_NEON)

#include <arm_neon.h>

#include "gemm_f32_4x8.h"
#include "te_internal.h"

/* te_clampf on four lanes: compare and select, so NaN lanes (both comparisons false) and the sign
 * of a zero pass through exactly as in the scalar clamp (vmaxq/vminq would turn -0 into +0). */
static inline float32x4_t clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    v = vbslq_f32(vcltq_f32(v, lo), lo, v);
    return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

/* acc + a * b rounded twice, as the reference's `acc + x * w` (never a fused multiply-add). */
static inline float32x4_t madd4(float32x4_t acc, float32x4_t w, float x)
{
    return vaddq_f32(acc, vmulq_n_f32(w, x));
}

static inline float32x4_t bias4(const float *bias, size_t j)
{
    return bias ? vld1q_f32(bias + j) : vdupq_n_f32(0.0f);
}

/* Rows r0..r0+3, columns j..j+7. */
static void tile_4x8(size_t k, const float *x, size_t ldx, const float *w, size_t n,
                     const float *bias, size_t j, float *y, size_t ldy, float32x4_t lo,
                     float32x4_t hi)
{
    const float *x0 = x, *x1 = x + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    float32x4_t a00 = bias4(bias, j), a01 = bias4(bias, j + 4);
    float32x4_t a10 = a00, a11 = a01, a20 = a00, a21 = a01, a30 = a00, a31 = a01;
    const float *wk = w + j;
    for (size_t i = 0; i < k; i++, wk += n) {
        const float32x4_t w0 = vld1q_f32(wk), w1 = vld1q_f32(wk + 4);
        a00 = madd4(a00, w0, x0[i]);
        a01 = madd4(a01, w1, x0[i]);
        a10 = madd4(a10, w0, x1[i]);
        a11 = madd4(a11, w1, x1[i]);
        a20 = madd4(a20, w0, x2[i]);
        a21 = madd4(a21, w1, x2[i]);
        a30 = madd4(a30, w0, x3[i]);
        a31 = madd4(a31, w1, x3[i]);
    }
    vst1q_f32(y + j, clamp4(a00, lo, hi));
    vst1q_f32(y + j + 4, clamp4(a01, lo, hi));
    vst1q_f32(y + ldy + j, clamp4(a10, lo, hi));
    vst1q_f32(y + ldy + j + 4, clamp4(a11, lo, hi));
    vst1q_f32(y + 2 * ldy + j, clamp4(a20, lo, hi));
    vst1q_f32(y + 2 * ldy + j + 4, clamp4(a21, lo, hi));
    vst1q_f32(y + 3 * ldy + j, clamp4(a30, lo, hi));
    vst1q_f32(y + 3 * ldy + j + 4, clamp4(a31, lo, hi));
}

/* One row, columns j..j+3. */
static void tile_1x4(size_t k, const float *x, const float *w, size_t n, const float *bias,
                     size_t j, float *y, float32x4_t lo, float32x4_t hi)
{
    float32x4_t acc = bias4(bias, j);
    const float *wk = w + j;
    for (size_t i = 0; i < k; i++, wk += n)
        acc = madd4(acc, vld1q_f32(wk), x[i]);
    vst1q_f32(y + j, clamp4(acc, lo, hi));
}

/* One row, one column j: the scalar tail. */
static void tile_1x1(size_t k, const float *x, const float *w, size_t n, const float *bias,
                     size_t j, float *y, float act_min, float act_max)
{
    float acc = bias ? bias[j] : 0.0f;
    for (size_t i = 0; i < k; i++)
        acc = acc + x[i] * w[i * n + j];
    y[j] = te_clampf(acc, act_min, act_max);
}

/* One row, columns j..n-1: 4 at a time, then one at a time. */
static void row_columns(size_t j, size_t n, size_t k, const float *x, const float *w,
                        const float *bias, float *y, float act_min, float act_max, float32x4_t lo,
                        float32x4_t hi)
{
    for (; j + 4 <= n; j += 4)
        tile_1x4(k, x, w, n, bias, j, y, lo, hi);
    for (; j < n; j++)
        tile_1x1(k, x, w, n, bias, j, y, act_min, act_max);
}

void te_gemm_f32_4x8__neon(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                           const float *w, const float *bias, float *y, size_t ldy, float act_min,
                           float act_max)
{
    const float32x4_t lo = vdupq_n_f32(act_min), hi = vdupq_n_f32(act_max);
    size_t r = 0;
    for (; r + 4 <= m; r += 4) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        size_t j = 0;
        for (; j + 8 <= n; j += 8)
            tile_4x8(k, xr, ldx, w, n, bias, j, yr, ldy, lo, hi);
        for (size_t q = 0; q < 4; q++)  /* the columns left (fewer than 8), row by row */
            row_columns(j, n, k, xr + q * ldx, w, bias, yr + q * ldy, act_min, act_max, lo, hi);
    }
    for (; r < m; r++)
        row_columns(0, n, k, x + r * ldx, w, bias, y + r * ldy, act_min, act_max, lo, hi);
}

#endif /* __ARM_NEON */
