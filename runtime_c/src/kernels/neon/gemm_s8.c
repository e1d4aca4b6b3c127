/* gemm_s8.c - the NEON INT8 matrix product (gemm_s8_neon.h): its load-time half (the reference's
 * quantization checks, the zero point folded into the bias, the channel multipliers laid out for
 * vector loads, the weights packed by blocks of 4 channels) and its block with the plain NEON step,
 * which every plain kernel calls. */
#include "gemm_s8_neon.h"

#if defined(__ARM_NEON)
#include <string.h>

#include "kernels/ref/weights_s8.h"

/* The packed blocks of g's weights w [n, k], k >= 8 (the layout of gemm_s8_neon.h). */
static te_status te_neon_gemm_s8_pack(te_node *node, te_prepare_ctx *ctx, const int8_t *w,
                                      te_neon_gemm_s8 *g)
{
    const size_t n = g->n, k = g->k, blocks = (n + 3) / 4, rem = k % 8;
    const int tail16 = k % 16 > 8 && k > 16;  /* the last k mod 16 values as one 16-step */
    /* k <= the weight's bytes, so this sum cannot overflow; the product is checked. */
    const size_t bytes = 64 * (k / 16) +
                         (tail16 ? 64 : (k % 16 >= 8 ? 32 : 0) + (rem ? 32 : 0));
    if (bytes > SIZE_MAX / blocks)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu packed weights do not fit in memory",
                               (unsigned long)(n * k));
    int8_t *packed = (int8_t *)te_prepare_alloc(ctx, blocks * bytes);  /* zeroed */
    if (!packed)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for %lu packed weights",
                               (unsigned long)(blocks * bytes));
    for (size_t c = 0; c < n; c++) {
        const int8_t *row = w + c * k;
        const size_t j = c % 4;
        int8_t *dst = packed + c / 4 * bytes;
        size_t i = 0;
        for (; i + 16 <= k; i += 16, dst += 64)
            memcpy(dst + 16 * j, row + i, 16);
        if (tail16) {  /* lanes 16 - (k - i) .. 15 hold the last values (x is read at k - 16) */
            memcpy(dst + 16 * j + (16 - (k - i)), row + i, k - i);
            continue;
        }
        if (i + 8 <= k) {
            memcpy(dst + 8 * j, row + i, 8);
            dst += 32;
        }
        if (rem)  /* lanes 8 - rem .. 7 hold the last rem values (x is read at k - 8) */
            memcpy(dst + 8 * j + (8 - rem), row + k - rem, rem);
    }
    g->packed = packed;
    g->block_bytes = bytes;
    return TE_OK;
}

te_status te_neon_gemm_s8_prepare(te_node *node, te_prepare_ctx *ctx, int x_rank, size_t m,
                                  size_t n, size_t k, float act_min, float act_max,
                                  te_neon_gemm_s8 *g)
{
    const te_tensor *w = node->in[1];
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    te_channel_requant rq;
    float s_x, s_y;
    int32_t x_zp;
    te_status st;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", x_rank, &s_x, &x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", x_rank, &s_y,
                                &g->out.zero_point)) != TE_OK ||
        (st = te_prepare_weights_s8(node, ctx, w, bt, s_x, x_zp, s_y, &rq)) != TE_OK ||
        (st = te_prepare_clamp(ctx, node, act_min, act_max, s_y, g->out.zero_point, &g->out.lo,
                               &g->out.hi)) != TE_OK)
        return st;
    int64_t *folded = NULL;
    if ((st = te_fold_input_zero_point(node, ctx, w, bt, x_zp, &folded)) != TE_OK)
        return st;
    const int8_t *wv = (const int8_t *)w->data;
    if ((st = te_neon_requant_prepare(node, ctx, &rq, folded, n, &g->rq)) != TE_OK)
        return st;
    g->m = m;
    g->n = n;
    g->k = k;
    g->w = wv;
    if (k >= 8 && (st = te_neon_gemm_s8_pack(node, ctx, wv, g)) != TE_OK)
        return st;
    node->macs = (uint64_t)m * (uint64_t)n * (uint64_t)k;
    return TE_OK;
}

void te_neon_gemm_s8_block(const te_neon_gemm_s8 *g, const int8_t *x, size_t x_stride, int8_t *y,
                           size_t rows, size_t j0, size_t j1)
{
    te_neon_gemm_s8_block_body(g, x, x_stride, y, rows, j0, j1);
}

#endif /* __ARM_NEON */
