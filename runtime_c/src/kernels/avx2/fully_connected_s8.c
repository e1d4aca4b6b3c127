/*
 * fully_connected_s8.c - INT8 fully connected layer, AVX2 (te_fully_connected_s8_3x8c8__avx2):
 * y [m, n] = x [m, k] times the weight [n, k] transposed, requantized (gemm_s8_avx2.h), bit-exact
 * with te_fully_connected_s8__ref; every shape the reference takes. Tasks take blocks of rows by
 * output channels (te_avx2_gemm_s8_units).
 */
#include "gemm_s8_avx2.h"

#if defined(__AVX2__)
#include "kernels/ref/layer_shape.h"

te_status te_fully_connected_s8_avx2_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_I8, TE_DTYPE_I8, TE_DTYPE_I32};
    te_fc_shape s;
    te_status st = te_fully_connected_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    te_avx2_gemm_s8 *g = (te_avx2_gemm_s8 *)te_prepare_alloc(ctx, sizeof *g);
    if (!g)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    if ((st = te_avx2_gemm_s8_prepare(node, ctx, -1, s.m, s.n, s.k,
                                      node->attrs[TE_FULLY_CONNECTED_ACT_MIN].f,
                                      node->attrs[TE_FULLY_CONNECTED_ACT_MAX].f, g)) != TE_OK)
        return st;
    node->state = g;
    node->tasks = te_split_tasks(te_avx2_gemm_s8_units(g->m, g->n), node->macs);
    return TE_OK;
}

void te_fully_connected_s8_avx2_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    te_avx2_gemm_s8_task((const te_avx2_gemm_s8 *)node->state, (const int8_t *)node->in[0]->data,
                         (int8_t *)node->out[0]->data, node->tasks, task);
}

#endif /* __AVX2__ */
