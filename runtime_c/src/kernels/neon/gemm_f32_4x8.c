/* gemm_f32_4x8.c - the float32 NEON GEMM (see gemm_f32_4x8.h). ARM only: empty elsewhere. */
#if defined(__ARM_NEON)

#include <arm_neon.h>
#include <math.h>

#include "gemm_f32_4x8.h"
#include "te_internal.h"

/* One call's operands. init: row r of the starting values at init + r * ldi (ldi 0: the bias row
 * for every row), or NULL for zeros. */
typedef struct {
    size_t n, k;
    const float *x;
    size_t ldx;
    const float *w;
    const float *init;
    size_t ldi;
    float *y;
    size_t ldy;
    int clamp;  /* 0 when the bounds are infinite: the clamp is the identity */
    float act_min, act_max;
    float32x4_t lo, hi;
} te_gemm_f32_args;

/* te_clampf on four lanes: compare and select, so NaN lanes (both comparisons false) and the sign
 * of a zero pass through exactly as in the scalar clamp (vmaxq/vminq would turn -0 into +0). */
static inline float32x4_t clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    v = vbslq_f32(vcltq_f32(v, lo), lo, v);
    return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

static inline float32x4_t start4(const te_gemm_f32_args *g, size_t r, size_t j)
{
    return g->init ? vld1q_f32(g->init + r * g->ldi + j) : vdupq_n_f32(0.0f);
}

static inline void store4(const te_gemm_f32_args *g, size_t r, size_t j, float32x4_t v)
{
    vst1q_f32(g->y + r * g->ldy + j, g->clamp ? clamp4(v, g->lo, g->hi) : v);
}

/* acc + w * lane l of x, rounded twice as the reference's `acc + x * w` (never a fused
 * multiply-add). */
#define MADD(acc, w, x, l) ((acc) = vaddq_f32((acc), vmulq_lane_f32((w), (x), (l))))

/* One k step of a 4x8 tile: weight row wk times lane l of each row's inputs x0..x3. */
#define STEP_4X8(wk, x0, x1, x2, x3, l)                                           \
    do {                                                                          \
        const float32x4_t w0_ = vld1q_f32(wk), w1_ = vld1q_f32((wk) + 4);         \
        MADD(a00, w0_, x0, l); MADD(a01, w1_, x0, l);                             \
        MADD(a10, w0_, x1, l); MADD(a11, w1_, x1, l);                             \
        MADD(a20, w0_, x2, l); MADD(a21, w1_, x2, l);                             \
        MADD(a30, w0_, x3, l); MADD(a31, w1_, x3, l);                             \
    } while (0)

/* Rows r..r+3, columns j..j+7. Inputs four k at a time, each used by lane; then one at a time. */
static void tile_4x8(const te_gemm_f32_args *g, size_t r, size_t j)
{
    const float *x0 = g->x + r * g->ldx, *x1 = x0 + g->ldx, *x2 = x1 + g->ldx, *x3 = x2 + g->ldx;
    float32x4_t a00 = start4(g, r, j), a01 = start4(g, r, j + 4);
    float32x4_t a10 = start4(g, r + 1, j), a11 = start4(g, r + 1, j + 4);
    float32x4_t a20 = start4(g, r + 2, j), a21 = start4(g, r + 2, j + 4);
    float32x4_t a30 = start4(g, r + 3, j), a31 = start4(g, r + 3, j + 4);
    const size_t n = g->n, k = g->k;
    const float *wk = g->w + j;
    size_t i = 0;
    for (; i + 4 <= k; i += 4, wk += 4 * n) {
        const float32x4_t v0 = vld1q_f32(x0 + i), v1 = vld1q_f32(x1 + i);
        const float32x4_t v2 = vld1q_f32(x2 + i), v3 = vld1q_f32(x3 + i);
        const float32x2_t l0 = vget_low_f32(v0), l1 = vget_low_f32(v1);
        const float32x2_t l2 = vget_low_f32(v2), l3 = vget_low_f32(v3);
        const float32x2_t h0 = vget_high_f32(v0), h1 = vget_high_f32(v1);
        const float32x2_t h2 = vget_high_f32(v2), h3 = vget_high_f32(v3);
        STEP_4X8(wk, l0, l1, l2, l3, 0);
        STEP_4X8(wk + n, l0, l1, l2, l3, 1);
        STEP_4X8(wk + 2 * n, h0, h1, h2, h3, 0);
        STEP_4X8(wk + 3 * n, h0, h1, h2, h3, 1);
    }
    for (; i < k; i++, wk += n)
        STEP_4X8(wk, vdup_n_f32(x0[i]), vdup_n_f32(x1[i]), vdup_n_f32(x2[i]), vdup_n_f32(x3[i]), 0);
    store4(g, r, j, a00);
    store4(g, r, j + 4, a01);
    store4(g, r + 1, j, a10);
    store4(g, r + 1, j + 4, a11);
    store4(g, r + 2, j, a20);
    store4(g, r + 2, j + 4, a21);
    store4(g, r + 3, j, a30);
    store4(g, r + 3, j + 4, a31);
}

/* One k step of a 4x4 tile. */
#define STEP_4X4(wk, x0, x1, x2, x3, l)                                           \
    do {                                                                          \
        const float32x4_t w0_ = vld1q_f32(wk);                                    \
        MADD(a0, w0_, x0, l); MADD(a1, w0_, x1, l);                               \
        MADD(a2, w0_, x2, l); MADD(a3, w0_, x3, l);                               \
    } while (0)

/* Rows r..r+3, columns j..j+3 (the column tail of four). */
static void tile_4x4(const te_gemm_f32_args *g, size_t r, size_t j)
{
    const float *x0 = g->x + r * g->ldx, *x1 = x0 + g->ldx, *x2 = x1 + g->ldx, *x3 = x2 + g->ldx;
    float32x4_t a0 = start4(g, r, j), a1 = start4(g, r + 1, j);
    float32x4_t a2 = start4(g, r + 2, j), a3 = start4(g, r + 3, j);
    const size_t n = g->n, k = g->k;
    const float *wk = g->w + j;
    size_t i = 0;
    for (; i + 4 <= k; i += 4, wk += 4 * n) {
        const float32x4_t v0 = vld1q_f32(x0 + i), v1 = vld1q_f32(x1 + i);
        const float32x4_t v2 = vld1q_f32(x2 + i), v3 = vld1q_f32(x3 + i);
        const float32x2_t l0 = vget_low_f32(v0), l1 = vget_low_f32(v1);
        const float32x2_t l2 = vget_low_f32(v2), l3 = vget_low_f32(v3);
        const float32x2_t h0 = vget_high_f32(v0), h1 = vget_high_f32(v1);
        const float32x2_t h2 = vget_high_f32(v2), h3 = vget_high_f32(v3);
        STEP_4X4(wk, l0, l1, l2, l3, 0);
        STEP_4X4(wk + n, l0, l1, l2, l3, 1);
        STEP_4X4(wk + 2 * n, h0, h1, h2, h3, 0);
        STEP_4X4(wk + 3 * n, h0, h1, h2, h3, 1);
    }
    for (; i < k; i++, wk += n)
        STEP_4X4(wk, vdup_n_f32(x0[i]), vdup_n_f32(x1[i]), vdup_n_f32(x2[i]), vdup_n_f32(x3[i]), 0);
    store4(g, r, j, a0);
    store4(g, r + 1, j, a1);
    store4(g, r + 2, j, a2);
    store4(g, r + 3, j, a3);
}

/* Row r, columns j..j+7. */
static void tile_1x8(const te_gemm_f32_args *g, size_t r, size_t j)
{
    const float *x0 = g->x + r * g->ldx;
    float32x4_t a0 = start4(g, r, j), a1 = start4(g, r, j + 4);
    const size_t n = g->n, k = g->k;
    const float *wk = g->w + j;
    size_t i = 0;
    for (; i + 4 <= k; i += 4, wk += 4 * n) {
        const float32x4_t v = vld1q_f32(x0 + i);
        const float32x2_t lo = vget_low_f32(v), hi = vget_high_f32(v);
        MADD(a0, vld1q_f32(wk), lo, 0);
        MADD(a1, vld1q_f32(wk + 4), lo, 0);
        MADD(a0, vld1q_f32(wk + n), lo, 1);
        MADD(a1, vld1q_f32(wk + n + 4), lo, 1);
        MADD(a0, vld1q_f32(wk + 2 * n), hi, 0);
        MADD(a1, vld1q_f32(wk + 2 * n + 4), hi, 0);
        MADD(a0, vld1q_f32(wk + 3 * n), hi, 1);
        MADD(a1, vld1q_f32(wk + 3 * n + 4), hi, 1);
    }
    for (; i < k; i++, wk += n) {
        const float32x2_t v = vdup_n_f32(x0[i]);
        MADD(a0, vld1q_f32(wk), v, 0);
        MADD(a1, vld1q_f32(wk + 4), v, 0);
    }
    store4(g, r, j, a0);
    store4(g, r, j + 4, a1);
}

/* Row r, columns j..j+3. */
static void tile_1x4(const te_gemm_f32_args *g, size_t r, size_t j)
{
    const float *x0 = g->x + r * g->ldx;
    float32x4_t acc = start4(g, r, j);
    const size_t n = g->n, k = g->k;
    const float *wk = g->w + j;
    size_t i = 0;
    for (; i + 4 <= k; i += 4, wk += 4 * n) {
        const float32x4_t v = vld1q_f32(x0 + i);
        const float32x2_t lo = vget_low_f32(v), hi = vget_high_f32(v);
        MADD(acc, vld1q_f32(wk), lo, 0);
        MADD(acc, vld1q_f32(wk + n), lo, 1);
        MADD(acc, vld1q_f32(wk + 2 * n), hi, 0);
        MADD(acc, vld1q_f32(wk + 3 * n), hi, 1);
    }
    for (; i < k; i++, wk += n)
        MADD(acc, vld1q_f32(wk), vdup_n_f32(x0[i]), 0);
    store4(g, r, j, acc);
}

/* Row r, column j: the scalar tail. */
static void tile_1x1(const te_gemm_f32_args *g, size_t r, size_t j)
{
    const float *x0 = g->x + r * g->ldx;
    float acc = g->init ? g->init[r * g->ldi + j] : 0.0f;
    for (size_t i = 0; i < g->k; i++)
        acc = acc + x0[i] * g->w[i * g->n + j];
    g->y[r * g->ldy + j] = g->clamp ? te_clampf(acc, g->act_min, g->act_max) : acc;
}

/* Row r, columns j..n-1: 8, then 4, then 1 at a time. */
static void row_columns(const te_gemm_f32_args *g, size_t r, size_t j)
{
    for (; j + 8 <= g->n; j += 8)
        tile_1x8(g, r, j);
    for (; j + 4 <= g->n; j += 4)
        tile_1x4(g, r, j);
    for (; j < g->n; j++)
        tile_1x1(g, r, j);
}

static void gemm(const te_gemm_f32_args *g, size_t m)
{
    size_t r = 0;
    for (; r + 4 <= m; r += 4) {
        size_t j = 0;
        for (; j + 8 <= g->n; j += 8)
            tile_4x8(g, r, j);
        if (j + 4 <= g->n) {
            tile_4x4(g, r, j);
            j += 4;
        }
        for (; j < g->n; j++)  /* the last columns (fewer than 4), one at a time */
            for (size_t q = 0; q < 4; q++)
                tile_1x1(g, r + q, j);
    }
    for (; r < m; r++)
        row_columns(g, r, 0);
}

static te_gemm_f32_args args_of(size_t n, size_t k, const float *x, size_t ldx, const float *w,
                                float *y, size_t ldy, float act_min, float act_max)
{
    te_gemm_f32_args g;
    g.n = n;
    g.k = k;
    g.x = x;
    g.ldx = ldx;
    g.w = w;
    g.init = NULL;
    g.ldi = 0;
    g.y = y;
    g.ldy = ldy;
    g.clamp = !(act_min == -INFINITY && act_max == INFINITY);
    g.act_min = act_min;
    g.act_max = act_max;
    g.lo = vdupq_n_f32(act_min);
    g.hi = vdupq_n_f32(act_max);
    return g;
}

void te_gemm_f32_4x8__neon(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                           const float *w, const float *bias, float *y, size_t ldy, float act_min,
                           float act_max)
{
    te_gemm_f32_args g = args_of(n, k, x, ldx, w, y, ldy, act_min, act_max);
    g.init = bias;
    gemm(&g, m);
}

void te_gemm_f32_4x8_accumulate__neon(size_t m, size_t n, size_t k, const float *x, size_t ldx,
                                      const float *w, float *y, size_t ldy, float act_min,
                                      float act_max)
{
    te_gemm_f32_args g = args_of(n, k, x, ldx, w, y, ldy, act_min, act_max);
    g.init = y;
    g.ldi = ldy;
    gemm(&g, m);
}

#endif /* __ARM_NEON */
