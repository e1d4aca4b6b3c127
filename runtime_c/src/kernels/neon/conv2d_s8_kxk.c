/*
 * conv2d_s8_kxk.c - INT8 convolution of any window, stride, dilation and pads with one group,
 * plain NEON (te_conv2d_s8_kxk_4x4c16__neon on aarch64, _2x4c16 on armv7): im2col of blocks of
 * output pixels, then the matrix product of gemm_s8_neon.h (conv2d_s8_kxk.h), bit-exact with
 * te_conv2d_s8__ref. Grouped and depthwise convolutions are refused with TE_ERR_UNSUPPORTED (the
 * depthwise kernels and the reference take them); kernels.def lists the 1x1 kernel first, so this
 * one gets the 1x1 convolutions that one refuses (strided, padded). Its prepare is also the
 * dot-product kernel's (neon_dot/conv2d_s8_kxk.c).
 */
#include "conv2d_s8_kxk.h"

#if defined(__ARM_NEON)
#include "kernels/ref/conv2d_s8_fits.h"

te_status te_conv2d_s8_kxk_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_conv2d_shape s;
    te_status st = te_conv2d_s8_fits_one_group(node, ctx, &s);
    if (st != TE_OK)
        return st;
    te_neon_conv2d_s8_kxk *p = (te_neon_conv2d_s8_kxk *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    const size_t pixels = (size_t)s.n * (size_t)s.oh * (size_t)s.ow;
    const size_t k = (size_t)s.kh * (size_t)s.kw * (size_t)s.c, o = (size_t)s.o;
    if ((st = te_neon_gemm_s8_prepare(node, ctx, 4, pixels, o, k,
                                      node->attrs[TE_CONV2D_ACT_MIN].f,
                                      node->attrs[TE_CONV2D_ACT_MAX].f, &p->g)) != TE_OK)
        return st;
    if (k > SIZE_MAX / TE_NEON_CONV_S8_PIXELS)  /* k = the weight's bytes per channel */
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM,
                               "windows of %lu values do not fit in memory", (unsigned long)k);
    p->s = s;
    p->x_zero_point = (int8_t)node->in[0]->quant->zero_points[0];
    node->state = p;
    node->scratch_size = TE_NEON_CONV_S8_PIXELS * k;
    node->tasks = te_split_tasks((pixels + TE_NEON_CONV_S8_PIXELS - 1) / TE_NEON_CONV_S8_PIXELS,
                                 node->macs);
    return TE_OK;
}

void te_conv2d_s8_kxk_neon_eval(const te_node *node, void *scratch, int task)
{
    te_neon_conv2d_s8_kxk_task((const te_neon_conv2d_s8_kxk *)node->state,
                               (const int8_t *)node->in[0]->data, (int8_t *)node->out[0]->data,
                               (int8_t *)scratch, node->tasks, task);
}

#endif /* __ARM_NEON */
