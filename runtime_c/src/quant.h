/*
 * quant.h - load-time helpers shared by the INT8 kernels' prepare steps (docs/quantization.md).
 */
#ifndef TE_QUANT_H
#define TE_QUANT_H

#include "fixed_point.h"
#include "te_internal.h"

/* Check that t is int8 (any rank when rank < 0) with per-tensor parameters, and return them.
 * Fails with TE_ERR_SHAPE naming the node and `what` otherwise. */
te_status te_expect_qparams(te_prepare_ctx *ctx, const te_node *node, const te_tensor *t,
                            const char *what, int rank, float *scale, int32_t *zero_point);

/* Check that a and b have the same per-tensor parameters (ops that copy values: pools, pad,
 * reshape, transpose, slice, resize). */
te_status te_expect_same_qparams(te_prepare_ctx *ctx, const te_node *node, const te_tensor *a,
                                 const te_tensor *b);

/* te_quantize_multiplier with a message naming the node and `what` when real cannot be represented. */
te_status te_prepare_multiplier(te_prepare_ctx *ctx, const te_node *node, double real,
                                const char *what, int32_t *m, int *shift);

/* The INT8 bounds of a fused clamp [act_min, act_max] for an output with (scale, zero_point);
 * fails on a NaN bound. */
te_status te_prepare_clamp(te_prepare_ctx *ctx, const te_node *node, float act_min, float act_max,
                           float scale, int32_t zero_point, int32_t *lo, int32_t *hi);

#endif /* TE_QUANT_H */
