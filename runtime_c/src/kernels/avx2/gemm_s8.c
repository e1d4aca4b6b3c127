/* gemm_s8.c - the AVX2 INT8 matrix product (gemm_s8_avx2.h): its load-time half (the reference's
 * quantization checks, the zero point folded into the bias, the weights packed as int16 by blocks
 * of 8 channels) and its 3x8c8 tile. */
#include "gemm_s8_avx2.h"

#if defined(__AVX2__)
#include "quant.h"
#include "requant_prepare_avx2.h"

/* The packed blocks of g's weights w [n, k] (the layout of gemm_s8_avx2.h). */
static te_status te_avx2_gemm_s8_pack(te_node *node, te_prepare_ctx *ctx, const int8_t *w,
                                      te_avx2_gemm_s8 *g)
{
    const size_t n = g->n, k = g->k, blocks = (n + 7) / 8, steps = (k + 7) / 8;
    /* steps <= the weight's bytes, so 64 * steps cannot overflow; the product is checked. */
    const size_t block_len = 64 * steps;
    if (block_len > SIZE_MAX / sizeof(int16_t) / blocks)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu packed weights do not fit in memory",
                               (unsigned long)(n * k));
    int16_t *packed = (int16_t *)te_prepare_alloc(ctx, blocks * block_len * sizeof(int16_t));
    if (!packed)  /* zeroed: the padding channels and values */
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for %lu packed weights",
                               (unsigned long)(blocks * block_len));
    for (size_t c = 0; c < n; c++) {
        const int8_t *row = w + c * k;
        /* Channel c % 8 is vector c % 4, half c % 8 / 4. */
        int16_t *dst = packed + c / 8 * block_len + 16 * (c % 4) + 8 * (c % 8 / 4);
        for (size_t i = 0; i < k; i++)
            dst[i / 8 * 64 + i % 8] = row[i];
    }
    g->packed = packed;
    g->block_len = block_len;
    return TE_OK;
}

te_status te_avx2_gemm_s8_prepare(te_node *node, te_prepare_ctx *ctx, int x_rank, size_t m,
                                  size_t n, size_t k, float act_min, float act_max,
                                  te_avx2_gemm_s8 *g)
{
    const te_tensor *w = node->in[1];
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    te_channel_requant rq;
    float s_x, s_y;
    int32_t x_zp, lo, hi;
    te_status st;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", x_rank, &s_x, &x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", x_rank, &s_y,
                                &g->out.zero_point)) != TE_OK ||
        (st = te_prepare_weights_s8(node, ctx, w, bt, s_x, x_zp, s_y, &rq)) != TE_OK ||
        (st = te_prepare_clamp(ctx, node, act_min, act_max, s_y, g->out.zero_point, &lo, &hi)) !=
            TE_OK)
        return st;
    /* lo, hi and z_y are in [-128, 127]: their differences fit int32. */
    g->out.lo = lo - g->out.zero_point;
    g->out.hi = hi - g->out.zero_point;
    int64_t *folded = NULL;
    if ((st = te_fold_input_zero_point(node, ctx, w, bt, x_zp, &folded)) != TE_OK)
        return st;
    const int8_t *wv = (const int8_t *)w->data;
    if ((st = te_avx2_requant_prepare(node, ctx, &rq, folded, n, &g->rq)) != TE_OK)
        return st;
    g->m = m;
    g->n = n;
    g->k = k;
    if ((st = te_avx2_gemm_s8_pack(node, ctx, wv, g)) != TE_OK)
        return st;
    node->macs = (uint64_t)m * (uint64_t)n * (uint64_t)k;
    return TE_OK;
}

/* Eight values of a row as int16, in both 128-bit halves. */
TE_AVX2_INLINE __m256i te_avx2_load_x8(const int8_t *x)
{
    int64_t v;
    memcpy(&v, x, 8);
    return _mm256_cvtepi8_epi16(_mm_set1_epi64x(v));
}

/* The last k mod 8 (1..7) values of a row, zero-extended to a step. */
TE_AVX2_INLINE __m256i te_avx2_load_x_tail(const int8_t *x, size_t count)
{
    int64_t v = 0;
    memcpy(&v, x, count);
    return _mm256_cvtepi8_epi16(_mm_set1_epi64x(v));
}

/* sums[r] lane j = sum_i x[r][i] * w[j][i] for i < k, r < rows (1..TE_AVX2_GEMM_S8_MR, a constant
 * at each call site), j < 8, from the channels' packed block p. */
TE_AVX2_INLINE void te_avx2_gemm_s8_tile(const int8_t *const x[], int rows, const int16_t *p,
                                         size_t k, __m256i sums[])
{
    __m256i acc[TE_AVX2_GEMM_S8_MR][4];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < 4; v++)
            acc[r][v] = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= k; i += 8, p += 64)
        for (int r = 0; r < rows; r++) {
            const __m256i xv = te_avx2_load_x8(x[r] + i);
            for (int v = 0; v < 4; v++)
                acc[r][v] = _mm256_add_epi32(
                    acc[r][v], _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)p + v)));
        }
    if (i < k)
        for (int r = 0; r < rows; r++) {
            const __m256i xv = te_avx2_load_x_tail(x[r] + i, k - i);
            for (int v = 0; v < 4; v++)
                acc[r][v] = _mm256_add_epi32(
                    acc[r][v], _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)p + v)));
        }
    /* acc[r][v]: channel v's partial sums in lanes 0..3, channel v + 4's in 4..7. */
    for (int r = 0; r < rows; r++)
        sums[r] = _mm256_hadd_epi32(_mm256_hadd_epi32(acc[r][0], acc[r][1]),
                                    _mm256_hadd_epi32(acc[r][2], acc[r][3]));
}

/* Rows x[0..rows) by the channels [j, j + count) of g (count <= 8), stored requantized to the
 * rows yr[t] of y. */
TE_AVX2_INLINE void te_avx2_gemm_s8_rows(const te_avx2_gemm_s8 *g, const int8_t *const xr[],
                                         int8_t *const yr[], int rows, size_t j, size_t count)
{
    __m256i sums[TE_AVX2_GEMM_S8_MR];
    te_avx2_gemm_s8_tile(xr, rows, g->packed + j / 8 * g->block_len, g->k, sums);
    const te_avx2_requant_vec q = te_avx2_requant_load(&g->rq, j);
    const __m256i zp = _mm256_set1_epi32(g->out.zero_point);
    const __m256i lo = _mm256_set1_epi32(g->out.lo), hi = _mm256_set1_epi32(g->out.hi);
    for (int t = 0; t < rows; t++)
        te_avx2_store_s8x8(yr[t] + j, te_avx2_requant8(sums[t], &q, g->rq.shift_left, zp, lo, hi),
                           count);
}

void te_avx2_gemm_s8_block(const te_avx2_gemm_s8 *g, const int8_t *x, size_t x_stride, int8_t *y,
                           size_t rows, size_t j0, size_t j1)
{
    const size_t n = g->n;
    for (size_t j = j0; j < j1; j += 8) {
        const size_t count = j1 - j < 8 ? j1 - j : 8;
        size_t r = 0;
        for (; r + TE_AVX2_GEMM_S8_MR <= rows; r += TE_AVX2_GEMM_S8_MR) {
            const int8_t *xr[TE_AVX2_GEMM_S8_MR];
            int8_t *yr[TE_AVX2_GEMM_S8_MR];
            for (int t = 0; t < TE_AVX2_GEMM_S8_MR; t++) {
                xr[t] = x + (r + (size_t)t) * x_stride;
                yr[t] = y + (r + (size_t)t) * n;
            }
            te_avx2_gemm_s8_rows(g, xr, yr, TE_AVX2_GEMM_S8_MR, j, count);
        }
        if (rows - r == 2) {
            const int8_t *xr[2] = {x + r * x_stride, x + (r + 1) * x_stride};
            int8_t *yr[2] = {y + r * n, y + (r + 1) * n};
            te_avx2_gemm_s8_rows(g, xr, yr, 2, j, count);
        } else if (rows - r == 1) {
            const int8_t *xr[1] = {x + r * x_stride};
            int8_t *yr[1] = {y + r * n};
            te_avx2_gemm_s8_rows(g, xr, yr, 1, j, count);
        }
    }
}

#endif /* __AVX2__ */
