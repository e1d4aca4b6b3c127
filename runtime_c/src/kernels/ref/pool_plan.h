/*
 * pool_plan.h - the window tables of max_pool2d and avg_pool2d over H and W of an NHWC tensor,
 * shared by the float32 and INT8 kernels.
 *
 * Output row oy's window starts at oy * stride - pad_begin and has `kernel` taps `dilation` apart.
 * Prepare turns every output row and column into a span: the taps that land inside the input
 * (k_begin..k_end, first input index) and, for avg_pool2d with count_include_pad, how many taps lie
 * inside the explicitly padded extent [-pad_begin, size + pad_end) (the ceil-mode overhang beyond it
 * never counts). Max ignores padding; avg divides the sum of the inside taps by rows x cols of inside
 * taps, or of padded-extent taps with count_include_pad. Pads must be smaller than the kernel (the
 * op table's rule); a window that misses every input pixel is refused at load unless
 * count_include_pad defines it (its max or its mean over no pixel would be undefined).
 */
#ifndef TE_REF_POOL_PLAN_H
#define TE_REF_POOL_PLAN_H

#include "te_internal.h"

typedef struct {
    int32_t first;    /* input index of tap k_begin */
    int32_t k_begin;  /* taps [k_begin, k_end) land inside the input */
    int32_t k_end;
    int32_t padded;   /* taps inside [-pad_begin, size + pad_end) */
} te_pool_span;

typedef struct {
    const te_pool_span *rows, *cols;
    int count_include_pad;
    int32_t dh, dw;  /* dilations (1 for avg_pool2d) */
} te_pool_plan;

/* Which pooling op: its attribute indices (the two share the checks and differ in these). */
typedef struct {
    int kernel, strides, pads, ceil_mode, dilations;  /* attribute indices (-1: absent) */
} te_pool_attrs;

extern const te_pool_attrs te_max_pool_attrs, te_avg_pool_attrs;

/* Check a pooling node (1 input and 1 output NHWC of `dtype`, kernel, strides, pads, dilations,
 * ceil_mode, output shape), build its window tables and set node->state to the te_pool_plan. */
te_status te_pool_prepare(te_node *node, te_prepare_ctx *ctx, te_dtype dtype,
                          const te_pool_attrs *pa, int count_include_pad);

/* Read an avg_pool2d node's count_include_pad into *cip, checked to be 0 or 1. */
te_status te_avg_pool_count_include_pad(te_node *node, te_prepare_ctx *ctx, int *cip);

#endif /* TE_REF_POOL_PLAN_H */
