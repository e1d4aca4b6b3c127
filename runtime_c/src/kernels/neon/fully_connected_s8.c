/*
 * fully_connected_s8.c - INT8 fully connected layer, plain NEON (te_fully_connected_s8_2x4c16__neon):
 * y [m, n] = x [m, k] times the weight [n, k] transposed, requantized (gemm_s8_neon.h), bit-exact
 * with te_fully_connected_s8__ref; every shape the reference takes. The output channels, in
 * blocks of four, are split among tasks (te_internal.h).
 */
#include "gemm_s8_neon.h"

#if defined(__ARM_NEON)
#include "kernels/ref/layer_shape.h"

te_status te_fully_connected_s8_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_I8, TE_DTYPE_I8, TE_DTYPE_I32};
    te_fc_shape s;
    te_status st = te_fully_connected_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    te_neon_gemm_s8 *g = (te_neon_gemm_s8 *)te_prepare_alloc(ctx, sizeof *g);
    if (!g)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    if ((st = te_neon_gemm_s8_prepare(node, ctx, -1, s.m, s.n, s.k,
                                      node->attrs[TE_FULLY_CONNECTED_ACT_MIN].f,
                                      node->attrs[TE_FULLY_CONNECTED_ACT_MAX].f, g)) != TE_OK)
        return st;
    node->state = g;
    node->tasks = te_split_tasks((s.n + 3) / 4, node->macs);
    return TE_OK;
}

void te_fully_connected_s8_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    const te_neon_gemm_s8 *g = (const te_neon_gemm_s8 *)node->state;
    int64_t b0, b1;  /* this task's blocks of four output channels */
    te_task_range((g->n + 3) / 4, node->tasks, task, &b0, &b1);
    const size_t j1 = (size_t)b1 * 4 < g->n ? (size_t)b1 * 4 : g->n;
    te_neon_gemm_s8_run(g, (const int8_t *)node->in[0]->data, (const int8_t *)node->in[1]->data,
                        (int8_t *)node->out[0]->data, 0, g->m, (size_t)b0 * 4, j1);
}

#endif /* __ARM_NEON */
