/*
 * fully_connected_f32.c - float32 fully connected layer on NEON (te_fully_connected_f32_4x8__neon):
 * prepare transposes the constant weight [N, K] into [K, N], then eval is one GEMM of the M rows of
 * x by it (gemm_f32_4x8.h), bias and clamp fused. A weight computed at run time is refused with
 * TE_ERR_UNSUPPORTED (the reference kernel takes it). Each output is bias + sum over k in order, as
 * te_fully_connected_f32__ref: bit-identical to it.
 */
#if defined(__ARM_NEON)

#include <math.h>

#include "../ref/layer_shape.h"
#include "gemm_f32_4x8.h"

typedef struct {
    te_fc_shape s;
    const float *packed;  /* [K][N] */
} te_fully_connected_f32_neon_plan;

te_status te_fully_connected_f32_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_F32, TE_DTYPE_F32, TE_DTYPE_F32};
    te_fc_shape s;
    te_status st = te_fully_connected_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    if (node->in[1]->storage != 1)
        return TE_ERR_UNSUPPORTED;
    float act_min = node->attrs[TE_FULLY_CONNECTED_ACT_MIN].f;
    float act_max = node->attrs[TE_FULLY_CONNECTED_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);

    te_fully_connected_f32_neon_plan *p =
        (te_fully_connected_f32_neon_plan *)te_prepare_alloc(ctx, sizeof *p);
    float *packed = (float *)te_prepare_alloc(ctx, node->in[1]->nbytes);
    if (!p || !packed)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its packed weights "
                               "(%lu bytes)", (unsigned long)node->in[1]->nbytes);
    const float *w = (const float *)node->in[1]->data;
    for (size_t j = 0; j < s.n; j++)
        for (size_t i = 0; i < s.k; i++)
            packed[i * s.n + j] = w[j * s.k + i];
    p->s = s;
    p->packed = packed;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)s.k;
    return TE_OK;
}

void te_fully_connected_f32_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_fully_connected_f32_neon_plan *p =
        (const te_fully_connected_f32_neon_plan *)node->state;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    te_gemm_f32_4x8__neon(p->s.m, p->s.n, p->s.k, (const float *)node->in[0]->data, p->s.k,
                          p->packed, bt ? (const float *)bt->data : NULL,
                          (float *)node->out[0]->data, p->s.n,
                          node->attrs[TE_FULLY_CONNECTED_ACT_MIN].f,
                          node->attrs[TE_FULLY_CONNECTED_ACT_MAX].f);
}

#endif /* __ARM_NEON */
