/*
 * dwconv3x3_f32.c - float32 depthwise 3x3 convolution on NEON (te_dwconv3x3_f32_c16__neon):
 * stride 1 or 2 on each axis, any pads, channel multiplier 1, constant weight; 16 channels per
 * step, then 8, 4 and a scalar tail. The algorithm and why it is bit-identical with
 * te_conv2d_f32__ref are in dwconv_f32_neon.h.
 */
#include "dwconv_f32_neon.h"

#if defined(__ARM_NEON)

te_status te_dwconv3x3_f32_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return te_dwconv_f32_neon_prepare_window(node, ctx, 3);
}

void te_dwconv3x3_f32_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    te_dwf_eval(node, task, 3);
}

#endif /* __ARM_NEON */
