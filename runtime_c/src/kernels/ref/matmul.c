/*
 * matmul.c - float32 reference batched matrix product (te_matmul_f32__ref), numpy.matmul semantics
 * for ranks 2..6.
 *
 * a [..., M, K] @ b [..., K, N] -> [batch..., M, N] with numpy broadcasting of the batch dims
 * (matmul_plan.h). Eval walks the output batches in order and runs a plain M x N x K loop, summing
 * in k order.
 */
#include "matmul_plan.h"

te_status te_matmul_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_matmul_plan *p = (te_matmul_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_matmul_check(node, ctx, TE_DTYPE_F32, p);
    if (st != TE_OK)
        return st;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)p->k;
    return TE_OK;
}

void te_matmul_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_matmul_plan *p = (const te_matmul_plan *)node->state;
    const float *a = (const float *)node->in[0]->data, *b = (const float *)node->in[1]->data;
    float *y = (float *)node->out[0]->data;
    const size_t m = p->m, k = p->k, n = p->n;
    const size_t batches = node->out[0]->count / (m * n);
    int32_t idx[TE_MAX_RANK] = {0};
    size_t a_off = 0, b_off = 0;

    for (size_t bt = 0; bt < batches; bt++) {
        const float *ab = a + a_off, *bb = b + b_off;
        float *yb = y + bt * m * n;
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < n; j++) {
                float acc = 0.0f;
                for (size_t q = 0; q < k; q++)
                    acc += ab[i * k + q] * bb[q * n + j];
                yb[i * n + j] = acc;
            }
        }
        te_matmul_next_batch(p, idx, &a_off, &b_off);
    }
}
