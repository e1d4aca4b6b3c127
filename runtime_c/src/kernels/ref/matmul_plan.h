/*
 * matmul_plan.h - the batch plan of matmul (numpy.matmul semantics for ranks 2..6), shared by the
 * float32 and INT8 kernels.
 *
 * a [..., M, K] @ b [..., K, N] -> [batch..., M, N], where the batch dims of a and b broadcast as in
 * numpy (missing leading dims and dims of 1 repeat). te_matmul_check aligns both batch shapes to
 * the output's and stores per-dim element strides (0 where an input repeats); eval walks the output
 * batches in order, stepping both operands' offsets with te_matmul_next_batch (an odometer, last
 * batch dim fastest).
 */
#ifndef TE_REF_MATMUL_PLAN_H
#define TE_REF_MATMUL_PLAN_H

#include "te_internal.h"

typedef struct {
    int batch_rank;                      /* output rank - 2 */
    int32_t batch_dims[TE_MAX_RANK];     /* output batch dims */
    size_t a_stride[TE_MAX_RANK];        /* elements to step a per batch index, 0 if broadcast */
    size_t b_stride[TE_MAX_RANK];
    size_t m, k, n;
} te_matmul_plan;

/* Check a matmul node (2 inputs and the output of `dtype`, ranks, K agreement, batch broadcasting,
 * output shape) and fill *p. */
te_status te_matmul_check(te_node *node, te_prepare_ctx *ctx, te_dtype dtype, te_matmul_plan *p);

/* The INT8 matmul's quantization (docs/quantization.md), the same for every INT8 kernel:
 *   acc[i, j] = sum_k (a[i, k] - a_zp) * (b[k, j] - b_zp)
 *   y = sat8(requantize(acc, mult, shift) + y_zp),  real multiplier (s_a * s_b) / s_y in double */
typedef struct {
    int32_t a_zp, b_zp, y_zp, mult;
    int shift;
} te_matmul_s8_quant;

/* Read the per-tensor parameters of a, b and the output into *q; refuse (TE_ERR_SHAPE) a K whose
 * int32 accumulator could overflow (K * reach(a_zp) * reach(b_zp) > 2^31 - 1) and a multiplier the
 * runtime cannot represent. */
te_status te_matmul_s8_quant_check(te_node *node, te_prepare_ctx *ctx, const te_matmul_plan *mp,
                                   te_matmul_s8_quant *q);

/* Advance the batch odometer idx (zeroed before the first batch) and both operand offsets to the
 * next output batch. */
static inline void te_matmul_next_batch(const te_matmul_plan *p, int32_t *idx, size_t *a_off,
                                        size_t *b_off)
{
    for (int d = p->batch_rank - 1; d >= 0; d--) {
        *a_off += p->a_stride[d];
        *b_off += p->b_stride[d];
        if (++idx[d] < p->batch_dims[d])
            return;
        *a_off -= p->a_stride[d] * (size_t)idx[d];
        *b_off -= p->b_stride[d] * (size_t)idx[d];
        idx[d] = 0;
    }
}

#endif /* TE_REF_MATMUL_PLAN_H */
