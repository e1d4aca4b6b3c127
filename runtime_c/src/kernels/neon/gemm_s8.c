/* gemm_s8.c - the load-time half of the NEON INT8 matrix product (gemm_s8_neon.h): the reference's
 * quantization checks, the zero point folded into the bias, the channel multipliers laid out for
 * vector loads. */
#include "gemm_s8_neon.h"

#if defined(__ARM_NEON)
#include "kernels/ref/weights_s8.h"

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
    if (n > SIZE_MAX / sizeof(int64_t))
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu channels do not fit in memory",
                               (unsigned long)n);
    int64_t *folded = (int64_t *)te_prepare_alloc(ctx, n * sizeof(int64_t));
    if (!folded)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for %lu biases",
                               (unsigned long)n);
    const int8_t *wv = (const int8_t *)w->data;
    const int32_t *bias = bt ? (const int32_t *)bt->data : NULL;
    for (size_t j = 0; j < n; j++) {
        int64_t sum = 0;
        for (size_t i = 0; i < k; i++)
            sum += wv[j * k + i];
        /* |bias| + |z_x| * sum |w| <= INT32_MAX (te_prepare_weights_s8): within int32. */
        folded[j] = (bias ? bias[j] : 0) - (int64_t)x_zp * sum;
    }
    if ((st = te_neon_requant_prepare(node, ctx, &rq, folded, n, &g->rq)) != TE_OK)
        return st;
    g->m = m;
    g->n = n;
    g->k = k;
    node->macs = (uint64_t)m * (uint64_t)n * (uint64_t)k;
    return TE_OK;
}

#endif /* __ARM_NEON */
