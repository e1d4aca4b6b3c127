/*
 * matmul_f32.c - float32 batched matrix product on NEON (te_matmul_f32_4x8__neon), numpy.matmul
 * semantics for ranks 2..6 with broadcast batch dims (kernels/ref/matmul_plan.h).
 *
 * b [..., K, N] is already the [k][n] layout the GEMM wants (gemm_f32_4x8.h), so each output batch
 * is one GEMM of a's M rows by b's matrix in place, from zero and unclamped: whether b is a
 * constant or computed at run time, nothing is packed. Each output is 0 + sum over k in order, as
 * te_matmul_f32__ref: bit-identical to it. The output rows (batch, i) are split among tasks.
 */
#if defined(__ARM_NEON)

#include <math.h>

#include "../ref/matmul_plan.h"
#include "gemm_f32_4x8.h"

te_status te_matmul_f32_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_matmul_plan *p = (te_matmul_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_matmul_check(node, ctx, TE_DTYPE_F32, p);
    if (st != TE_OK)
        return st;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)p->k;
    if (p->n > 0)
        node->tasks = te_split_tasks(node->out[0]->count / p->n, node->macs);
    return TE_OK;
}

/* Offsets of a and b in output batch `bt`: the odometer of te_matmul_next_batch, computed
 * directly so that a task can start anywhere. */
static void batch_offsets(const te_matmul_plan *p, size_t bt, size_t *a_off, size_t *b_off)
{
    *a_off = 0;
    *b_off = 0;
    for (int d = p->batch_rank - 1; d >= 0; d--) {
        const size_t i = bt % (size_t)p->batch_dims[d];
        bt /= (size_t)p->batch_dims[d];
        *a_off += i * p->a_stride[d];
        *b_off += i * p->b_stride[d];
    }
}

void te_matmul_f32_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    const te_matmul_plan *p = (const te_matmul_plan *)node->state;
    const float *a = (const float *)node->in[0]->data, *b = (const float *)node->in[1]->data;
    float *y = (float *)node->out[0]->data;
    const size_t m = p->m, k = p->k, n = p->n;
    if (m * n == 0)
        return;
    int64_t first, end;  /* this task's output rows bt * m + i */
    te_task_range(node->out[0]->count / n, node->tasks, task, &first, &end);
    for (size_t row = (size_t)first; row < (size_t)end;) {
        const size_t bt = row / m, i = row % m;
        const size_t rows = (m - i < (size_t)end - row) ? m - i : (size_t)end - row;
        size_t a_off, b_off;
        batch_offsets(p, bt, &a_off, &b_off);
        te_gemm_f32_4x8__neon(rows, n, k, a + a_off + i * k, k, b + b_off, NULL, y + row * n, n,
                              -INFINITY, INFINITY);
        row += rows;
    }
}

#endif /* __ARM_NEON */
