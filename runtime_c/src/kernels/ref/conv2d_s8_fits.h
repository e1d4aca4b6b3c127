/*
 * conv2d_s8_fits.h - the INT8 conv2d shapes the specialized kernels take (kernels/neon/,
 * kernels/neon_dot/, kernels/avx2/), checked once for every ISA. Each function runs te_conv2d_check
 * (int8 activations and weights, int32 bias) into *s, then returns TE_ERR_UNSUPPORTED with a
 * message for a node outside the specialization, so that the loader takes the next kernel.
 */
#ifndef TE_REF_CONV2D_S8_FITS_H
#define TE_REF_CONV2D_S8_FITS_H

#include "layer_shape.h"

/* A pointwise conv2d: 1x1, stride 1, no padding, one group (a plain matrix product). */
te_status te_conv2d_s8_fits_pointwise(te_node *node, te_prepare_ctx *ctx, te_conv2d_shape *s);

/* Any one-group conv2d (the im2col kernels). */
te_status te_conv2d_s8_fits_one_group(te_node *node, te_prepare_ctx *ctx, te_conv2d_shape *s);

/* A depthwise k x k conv2d with strides 1 or 2 and no dilation (dwconv_window.h's te_dwconv_fits). */
te_status te_conv2d_s8_fits_depthwise(te_node *node, te_prepare_ctx *ctx, int k,
                                      te_conv2d_shape *s);

#endif /* TE_REF_CONV2D_S8_FITS_H */
