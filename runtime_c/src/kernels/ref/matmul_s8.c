/*
 * matmul_s8.c - INT8 reference batched matrix product (te_matmul_s8__ref), numpy.matmul semantics
 * for ranks 2..6 (batch broadcasting as the float kernel, matmul_plan.h).
 *
 * a, b and y are int8 with per-tensor parameters. docs/quantization.md:
 *   acc[i, j] = sum_k (a[i, k] - z_a) * (b[k, j] - z_b)
 *   y = sat8(requantize(acc, M, shift) + z_y),  m = ((double)s_a * (double)s_b) / (double)s_y
 * Eval builds each output row in an int32 scratch row: for each k it adds a[i, k] times row k of b,
 * an inner loop over j that vectorizes; the order of the int32 sum does not change its value.
 * Prepare refuses a K whose accumulator could overflow int32 (K * reach(z_a) * reach(z_b)).
 */
#include "matmul_plan.h"
#include "requant_s8.h"

typedef struct {
    te_matmul_plan mp;
    te_matmul_s8_quant q;
} te_matmul_s8_plan;

te_status te_matmul_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_matmul_s8_plan *p = (te_matmul_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_matmul_check(node, ctx, TE_DTYPE_I8, &p->mp);
    if (st != TE_OK)
        return st;
    if ((st = te_matmul_s8_quant_check(node, ctx, &p->mp, &p->q)) != TE_OK)
        return st;
    node->state = p;
    node->scratch_size = p->mp.n * sizeof(int32_t);
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)p->mp.k;
    return TE_OK;
}

void te_matmul_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)task;
    const te_matmul_s8_plan *p = (const te_matmul_s8_plan *)node->state;
    const te_matmul_plan *mp = &p->mp;
    const int8_t *a = (const int8_t *)node->in[0]->data, *b = (const int8_t *)node->in[1]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    int32_t *acc = (int32_t *)scratch;  /* one output row */
    const size_t m = mp->m, k = mp->k, n = mp->n;
    const size_t batches = node->out[0]->count / (m * n);
    const int32_t a_zp = p->q.a_zp, b_zp = p->q.b_zp;
    int32_t idx[TE_MAX_RANK] = {0};
    size_t a_off = 0, b_off = 0;

    for (size_t bt = 0; bt < batches; bt++) {
        const int8_t *ab = a + a_off, *bb = b + b_off;
        int8_t *yb = y + bt * m * n;
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < n; j++)
                acc[j] = 0;
            for (size_t q = 0; q < k; q++) {
                const int32_t av = (int32_t)ab[i * k + q] - a_zp;
                const int8_t *br = bb + q * n;
                for (size_t j = 0; j < n; j++)
                    acc[j] += av * ((int32_t)br[j] - b_zp);
            }
            for (size_t j = 0; j < n; j++)
                yb[i * n + j] = te_requant_s8(acc[j], p->q.mult, p->q.shift, p->q.y_zp, -128, 127);
        }
        te_matmul_next_batch(mp, idx, &a_off, &b_off);
    }
}
