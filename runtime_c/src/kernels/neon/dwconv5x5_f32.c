/*
 * dwconv5x5_f32.c - float32 depthwise 5x5 convolution on NEON (te_dwconv5x5_f32_c16__neon):
 * stride 1 or 2 on each axis, any pads, channel multiplier 1, constant weight; 16 channels per
 * step, then 8, 4 and a scalar tail. The algorithm and why it is bit-identical with
 * te_conv2d_f32__ref are in dwconv_f32_neon.h.
 */
#include "dwconv_f32_neon.h"

#if defined(__ARM_NEON)

te_status te_dwconv5x5_f32_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return te_dwconv_f32_neon_prepare_window(node, ctx, 5);
}

void te_dwconv5x5_f32_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    te_dwf_eval(node, task, 5);
}

#endif /* __ARM_NEON */
