/*
 * layer_shape.h - the shape and attribute checks of the layers with weights (conv2d and
 * fully_connected), shared by their float32 and INT8 kernels so that both accept exactly the same
 * geometry with the same messages. The dtypes are parameters: float32 everywhere for the float
 * kernels; int8 activations and weights with an int32 bias for the INT8 ones.
 */
#ifndef TE_REF_LAYER_SHAPE_H
#define TE_REF_LAYER_SHAPE_H

#include "te_internal.h"

/* dtypes a layer's kernel takes: x and y, weight, bias. */
typedef struct {
    te_dtype act, weight, bias;
} te_layer_dtypes;

/* A checked conv2d: x NHWC [n, h, w, c], weight OHWI [o, kh, kw, ci] with ci = c / group, output
 * NHWC [n, oh, ow, o]. */
typedef struct {
    int32_t n, h, w, c;
    int32_t o, kh, kw, ci;
    int32_t oh, ow, group;
    int32_t sh, sw, dh, dw;  /* strides and dilations (h, w) */
    int32_t pt, pl;          /* top and left pads */
} te_conv2d_shape;

/* Check a conv2d node: 2 or 3 inputs, dtypes and ranks, strides, dilations, pads, group against
 * the channel counts, bias [o], output shape. The fused clamp is the caller's (float and INT8
 * read it differently). Fills *s. */
/* strides and dilations: 2 values >= 1 (h, w); pads: 4 values >= 0 (top, left, bottom, right).
 * The attribute checks conv2d and conv_transpose2d share. */
te_status te_expect_window_attrs(te_prepare_ctx *ctx, const te_node *node, const te_attr *strides,
                                 const te_attr *dil, const te_attr *pads);

te_status te_conv2d_check(te_node *node, te_prepare_ctx *ctx, te_layer_dtypes dt,
                          te_conv2d_shape *s);

/* A checked fully_connected: x [..., k] seen as m rows, weight [n, k], output [..., n]. */
typedef struct {
    size_t m, n, k;
} te_fc_shape;

/* Check a fully_connected node: 2 or 3 inputs, dtypes, x rank >= 1, K agreement, bias [n], output
 * shape. Fills *s. */
te_status te_fully_connected_check(te_node *node, te_prepare_ctx *ctx, te_layer_dtypes dt,
                                   te_fc_shape *s);

#endif /* TE_REF_LAYER_SHAPE_H */
