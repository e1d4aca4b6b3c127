/*
 * dwconv3x3_s8.c - INT8 depthwise 3x3 convolution, plain NEON (te_dwconv3x3_s8_c16__neon): stride
 * 1 or 2 on each axis, any pads, channel multiplier 1; 16 channels per step, then 8, then a scalar
 * tail. The algorithm and its bit-exactness argument are in dwconv_s8_neon.h.
 */
#include "dwconv_s8_neon.h"

#if defined(__ARM_NEON)

te_status te_dwconv3x3_s8_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return te_dwconv_s8_neon_prepare_window(node, ctx, 3);
}

void te_dwconv3x3_s8_neon_eval(const te_node *node, void *scratch, int task)
{
    te_dw_eval(node, scratch, task, 3);
}

#endif /* __ARM_NEON */
