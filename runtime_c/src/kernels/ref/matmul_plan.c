/* matmul_plan.c - matmul's shape checks and batch plan (see matmul_plan.h). */
#include "matmul_plan.h"
#include "quant.h"
#include "requant_s8.h"

/* Fill strides[] for one operand whose batch dims (rank - 2 of them) align right to the output's
 * batch dims; returns 0 when a dim neither equals the output's nor is 1. */
static int matmul_batch_strides(const te_tensor *t, const te_matmul_plan *p, size_t *strides)
{
    size_t step = (size_t)t->dims[t->rank - 2] * (size_t)t->dims[t->rank - 1];
    int off = p->batch_rank - (t->rank - 2);
    for (int i = p->batch_rank - 1; i >= 0; i--) {
        int32_t d = i >= off ? t->dims[i - off] : 1;
        if (d != 1 && d != p->batch_dims[i])
            return 0;
        strides[i] = d == 1 ? 0 : step;
        step *= (size_t)d;
    }
    return 1;
}

te_status te_matmul_check(te_node *node, te_prepare_ctx *ctx, te_dtype dtype, te_matmul_plan *p)
{
    if (node->n_in != 2 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 2 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *a = node->in[0], *b = node->in[1], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, a, "a", dtype, -1)) != TE_OK ||
        (st = te_expect(ctx, node, b, "b", dtype, -1)) != TE_OK)
        return st;
    if (a->rank < 2 || b->rank < 2)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "inputs need rank 2..%d, got ranks %d and %d",
                               TE_MAX_RANK, a->rank, b->rank);
    int rank = a->rank > b->rank ? a->rank : b->rank;
    if ((st = te_expect(ctx, node, y, "output", dtype, rank)) != TE_OK)
        return st;
    int32_t m = a->dims[a->rank - 2], k = a->dims[a->rank - 1], n = b->dims[b->rank - 1];
    if (b->dims[b->rank - 2] != k)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "a's last dim %d != b's second-to-last dim %d",
                               k, b->dims[b->rank - 2]);

    p->batch_rank = rank - 2;
    p->m = (size_t)m;
    p->k = (size_t)k;
    p->n = (size_t)n;
    int32_t out_dims[TE_MAX_RANK];
    for (int i = 0; i < p->batch_rank; i++) {
        /* Right-aligned batch dims; the output's is the larger (a 1 broadcasts). */
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int32_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        p->batch_dims[i] = out_dims[i] = da > db ? da : db;
    }
    if (!matmul_batch_strides(a, p, p->a_stride) || !matmul_batch_strides(b, p, p->b_stride))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "batch dims of a (rank %d) and b (rank %d) do not broadcast",
                               a->rank, b->rank);
    out_dims[rank - 2] = m;
    out_dims[rank - 1] = n;
    return te_expect_dims(ctx, node, y, "output", rank, out_dims);
}

te_status te_matmul_s8_quant_check(te_node *node, te_prepare_ctx *ctx, const te_matmul_plan *mp,
                                   te_matmul_s8_quant *q)
{
    float s_a, s_b, s_y;
    te_status st;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "a", -1, &s_a, &q->a_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->in[1], "b", -1, &s_b, &q->b_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", -1, &s_y, &q->y_zp)) != TE_OK)
        return st;
    const int64_t bound = (int64_t)mp->k * te_s8_reach(q->a_zp) * te_s8_reach(q->b_zp);
    if (bound > INT32_MAX)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "K = %lu: the int32 accumulator could reach %lld; supported: "
                               "K * %lld * %lld <= 2^31 - 1", (unsigned long)mp->k,
                               (long long)bound, (long long)te_s8_reach(q->a_zp),
                               (long long)te_s8_reach(q->b_zp));
    const double real = ((double)s_a * (double)s_b) / (double)s_y;
    return te_prepare_multiplier(ctx, node, real, "output", &q->mult, &q->shift);
}
