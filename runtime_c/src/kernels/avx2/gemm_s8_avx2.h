/*
 * gemm_s8_avx2.h - the INT8 matrix product behind the AVX2 convolution and fully connected
 * kernels: y[r, j] = clamp(requantize(bias[j] + sum_i (x[r, i] - z_x) * w[j, i]) + z_y), x [m, k]
 * with rows x_stride bytes apart, w [n, k] (w in [-127, 127], checked by weights_s8), y [m, n].
 *
 * The zero point leaves the inner loop as in the NEON product (kernels/neon/gemm_s8_neon.h):
 * sum (x - z_x) * w = sum x * w - z_x * sum w, and prepare folds bias[j] - z_x * sum_i w[j, i]
 * into one int32 per channel. The raw products multiply int8 by int8 as int16 by int16 (VPMADDWD:
 * x and w sign-extended, two products summed per int32 lane, exact: |x| <= 128, |w| <= 127).
 * VPMADDUBSW, the faster unsigned-by-signed step, saturates its int16 pair sums and is not exact.
 * Integer sums are exact and their order does not matter, so the result is bit-exact with the
 * reference; lanes add modulo 2^32, and the true sum is within int32 (the reference's overflow
 * proof bounds |bias| + reach(z_x) * sum |w|, and reach >= 128 >= |x|).
 *
 * Tile "3x8c8": 3 rows of x by 8 channels, 8 values of k per step. A step loads 8 values of a row,
 * sign-extended and repeated in both 128-bit halves, and multiplies them by four vectors of packed
 * weights: vector v holds channel v's 8 values in its low half and channel v + 4's in its high
 * half, so 12 accumulators (3 rows x 4 vectors) fill 12 of the 16 registers. At the tile's end
 * two rounds of VPHADDD leave each row's 8 channel sums in order. Rows left over take a 2- or
 * 1-row tile. Tasks take one channel tile by blocks of rows (te_avx2_gemm_s8_task).
 *
 * Packed weights (prepare): per block of 8 channels (channels past n are zero, their sums
 * discarded), per step of 8 values of k (k rounded up: the values past k are zero), the four
 * vectors of 16 int16. The last k mod 8 values of a row of x are copied into a zeroed 8-byte
 * word, so no load reads past a row. Then the output step of requant_s8_avx2.h.
 */
#ifndef TE_AVX2_GEMM_S8_AVX2_H
#define TE_AVX2_GEMM_S8_AVX2_H

#if defined(__AVX2__)
#include "requant_s8_avx2.h"
#include "te_internal.h"

#define TE_AVX2_GEMM_S8_MR 3

typedef struct {
    size_t m, n, k;
    const int16_t *packed;  /* ceil(n / 8) blocks of block_len int16 */
    size_t block_len;       /* int16 per block: 64 per step of 8 values of k */
    te_avx2_requant rq;     /* rq.bias[j] = bias[j] - z_x * sum_i w[j, i] */
    te_avx2_output out;     /* lo and hi moved by -z_y */
} te_avx2_gemm_s8;

/* Fill g for a layer whose shapes its caller checked: x = in[0] (rank x_rank, -1 any) seen as
 * [m, k], the weight w (in[1]) [n, k] int8, optional bias in[2] [n], output [m, n], the fused
 * clamp [act_min, act_max]; checks the quantization as the reference kernels do (weights_s8.h,
 * which also proves that the accumulators fit int32), packs the weights and sets node->macs. */
te_status te_avx2_gemm_s8_prepare(te_node *node, te_prepare_ctx *ctx, int x_rank, size_t m,
                                  size_t n, size_t k, float act_min, float act_max,
                                  te_avx2_gemm_s8 *g);

/* Rows rows (x rows x_stride bytes apart, y rows g->n bytes apart) by columns [j0, j1) of y (j0
 * a multiple of 8), requantized; channel tiles outer, rows inner. Every value is an exact integer
 * sum, so how rows and columns are blocked changes no result. */
void te_avx2_gemm_s8_block(const te_avx2_gemm_s8 *g, const int8_t *x, size_t x_stride, int8_t *y,
                           size_t rows, size_t j0, size_t j1);

/* The task units of a product: blocks of TE_AVX2_GEMM_S8_MR rows by 8 channels (one tile). */
static inline uint64_t te_avx2_gemm_s8_units(size_t m, size_t n)
{
    return (uint64_t)((m + TE_AVX2_GEMM_S8_MR - 1) / TE_AVX2_GEMM_S8_MR) * (uint64_t)((n + 7) / 8);
}

/* Task `task` of `tasks` of y [m, n] = x [m, k] (rows contiguous) times w transposed: its
 * contiguous range of units, channel tiles outer, as te_internal.h asks. Channels outer: a tile's
 * packed weights (16 bytes per value of k) stay in L1 while the rows of x stream past, which
 * moves 8 bytes of x per 3 x 8 x 8 products instead of 128 bytes of weights. */
static inline void te_avx2_gemm_s8_task(const te_avx2_gemm_s8 *g, const int8_t *x, int8_t *y,
                                        int tasks, int task)
{
    const size_t m = g->m, n = g->n, k = g->k;
    const size_t row_blocks = (m + TE_AVX2_GEMM_S8_MR - 1) / TE_AVX2_GEMM_S8_MR;
    int64_t u0, u1;
    te_task_range(te_avx2_gemm_s8_units(m, n), tasks, task, &u0, &u1);
    /* One call per channel tile: the task's units of that tile are consecutive row blocks. */
    for (size_t u = (size_t)u0; u < (size_t)u1;) {
        const size_t tile = u / row_blocks, tile_end = (tile + 1) * row_blocks;
        const size_t last = tile_end < (size_t)u1 ? tile_end : (size_t)u1;
        const size_t r0 = u % row_blocks * TE_AVX2_GEMM_S8_MR;
        const size_t r1 = last == tile_end ? m : last % row_blocks * TE_AVX2_GEMM_S8_MR;
        const size_t j = tile * 8, j1 = n - j < 8 ? n : j + 8;
        te_avx2_gemm_s8_block(g, x + r0 * k, k, y + r0 * n, r1 - r0, j, j1);
        u = last;
    }
}

#endif /* __AVX2__ */
#endif /* TE_AVX2_GEMM_S8_AVX2_H */
