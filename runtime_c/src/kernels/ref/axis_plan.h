/*
 * axis_plan.h - how mean and softmax walk their axes, shared by the float32 and INT8 kernels.
 *
 * mean: the input's dims split into kept dims and reduced dims, each with its element stride. The
 * output holds the kept dims in order (keepdims only inserts 1s, which do not move data), so eval
 * walks the outputs in order with an odometer over the kept dims and, for each, visits the reduced
 * elements in increasing input order with a second odometer (te_odometer_next). Empty axes reduce
 * nothing (the output equals the input), as the op table's shape function says.
 *
 * softmax: the input viewed as [outer, n, inner] around the axis; each (outer, inner) line has n
 * elements `inner` apart.
 */
#ifndef TE_REF_AXIS_PLAN_H
#define TE_REF_AXIS_PLAN_H

#include "te_internal.h"

typedef struct {
    int n_keep, n_red;
    int32_t keep_dims[TE_MAX_RANK], red_dims[TE_MAX_RANK];
    size_t keep_strides[TE_MAX_RANK], red_strides[TE_MAX_RANK];
    size_t red_count;  /* elements reduced into each output */
} te_mean_plan;

/* Check a mean node (1 input and 1 output of `dtype`, keepdims, axes in range and distinct, output
 * shape) and fill *p. */
te_status te_mean_check(te_node *node, te_prepare_ctx *ctx, te_dtype dtype, te_mean_plan *p);

/* Step an odometer over dims[0..rank) (last dim fastest) and the element offset that follows it. */
static inline void te_odometer_next(int rank, const int32_t *dims, const size_t *strides,
                                    int32_t *idx, size_t *off)
{
    for (int d = rank - 1; d >= 0; d--) {
        *off += strides[d];
        if (++idx[d] < dims[d])
            return;
        *off -= strides[d] * (size_t)idx[d];
        idx[d] = 0;
    }
}

typedef struct {
    size_t outer, n, inner;
} te_softmax_plan;

/* Check a softmax node's x (input 0) and output (`dtype`, same shape, rank >= 1) and its axis,
 * and fill *p. The caller checks the input count (the INT8 form has an exp_table input). */
te_status te_softmax_check(te_node *node, te_prepare_ctx *ctx, te_dtype dtype, te_softmax_plan *p);

#endif /* TE_REF_AXIS_PLAN_H */
