/*
 * dwconv5x5_s8.c - INT8 depthwise 5x5 convolution, AVX2 (te_dwconv5x5_s8_c16__avx2): stride
 * 1 or 2 on each axis, any pads, channel multiplier 1; 16 channels per step, then 8, then a scalar
 * tail. The algorithm and its bit-exactness argument are in dwconv_s8_avx2.h.
 */
#include "dwconv_s8_avx2.h"

#if defined(__AVX2__)

te_status te_dwconv5x5_s8_avx2_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return te_avx2_dwconv_s8_prepare_window(node, ctx, 5);
}

void te_dwconv5x5_s8_avx2_eval(const te_node *node, void *scratch, int task)
{
    te_avx2_dw_eval(node, scratch, task, 5);
}

#endif /* __AVX2__ */
