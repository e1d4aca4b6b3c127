/*
 * conv2d_s8_kxk.c - INT8 convolution of any window, stride, dilation and pads with one group,
 * AVX2 (te_conv2d_s8_kxk_3x8c8__avx2): im2col of blocks of output pixels (kernels/neon/
 * im2col_s8.h, portable C), then the matrix product of gemm_s8_avx2.h, bit-exact with
 * te_conv2d_s8__ref. Grouped and depthwise convolutions are refused with TE_ERR_UNSUPPORTED (the
 * depthwise kernels and the reference take them); kernels.def lists the 1x1 kernel first, so this
 * one gets the 1x1 convolutions that one refuses (strided, padded).
 *
 * A task unit is a block of TE_AVX2_CONV_S8_PIXELS output pixels: their windows are copied into
 * the calling thread's scratch as rows of k = kh*kw*c values, then multiplied by every output
 * channel's weights, packed at load as for a 1x1 convolution (the OHWI weight is [o, k]
 * row-major). A tap outside the image holds the input's zero point and contributes
 * (z_x - z_x) * w = 0, as the reference's skipped tap does, so the product's folded bias stays
 * exact.
 */
#include "gemm_s8_avx2.h"

#if defined(__AVX2__)
#include "kernels/ref/conv2d_s8_fits.h"
#include "kernels/ref/im2col_s8.h"

#define TE_AVX2_CONV_S8_PIXELS (4 * TE_AVX2_GEMM_S8_MR)  /* output pixels per im2col block */

typedef struct {
    te_avx2_gemm_s8 g;  /* m = n*oh*ow pixels, n = o channels, k = kh*kw*c */
    te_conv2d_shape s;
    int8_t x_zero_point;
} te_avx2_conv2d_s8_kxk;

te_status te_conv2d_s8_kxk_avx2_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_conv2d_shape s;
    te_status st = te_conv2d_s8_fits_one_group(node, ctx, &s);
    if (st != TE_OK)
        return st;
    te_avx2_conv2d_s8_kxk *p = (te_avx2_conv2d_s8_kxk *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    const size_t pixels = (size_t)s.n * (size_t)s.oh * (size_t)s.ow;
    const size_t k = (size_t)s.kh * (size_t)s.kw * (size_t)s.c, o = (size_t)s.o;
    if ((st = te_avx2_gemm_s8_prepare(node, ctx, 4, pixels, o, k,
                                      node->attrs[TE_CONV2D_ACT_MIN].f,
                                      node->attrs[TE_CONV2D_ACT_MAX].f, &p->g)) != TE_OK)
        return st;
    if (k > SIZE_MAX / TE_AVX2_CONV_S8_PIXELS)  /* k = the weight's bytes per channel */
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM,
                               "windows of %lu values do not fit in memory", (unsigned long)k);
    p->s = s;
    p->x_zero_point = (int8_t)node->in[0]->quant->zero_points[0];
    node->state = p;
    node->scratch_size = TE_AVX2_CONV_S8_PIXELS * k;
    node->tasks = te_split_tasks((pixels + TE_AVX2_CONV_S8_PIXELS - 1) / TE_AVX2_CONV_S8_PIXELS,
                                 node->macs);
    return TE_OK;
}

void te_conv2d_s8_kxk_avx2_eval(const te_node *node, void *scratch, int task)
{
    const te_avx2_conv2d_s8_kxk *p = (const te_avx2_conv2d_s8_kxk *)node->state;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    const size_t m = p->g.m, n = p->g.n, k = p->g.k;
    const uint64_t blocks = (m + TE_AVX2_CONV_S8_PIXELS - 1) / TE_AVX2_CONV_S8_PIXELS;
    int64_t b0, b1;
    te_task_range(blocks, node->tasks, task, &b0, &b1);
    for (size_t b = (size_t)b0; b < (size_t)b1; b++) {
        const size_t p0 = b * TE_AVX2_CONV_S8_PIXELS;
        const size_t rows = m - p0 < TE_AVX2_CONV_S8_PIXELS ? m - p0 : TE_AVX2_CONV_S8_PIXELS;
        te_im2col_s8(&p->s, p->x_zero_point, x, p0, rows, (int8_t *)scratch);
        te_avx2_gemm_s8_block(&p->g, (const int8_t *)scratch, k, y + p0 * n, rows, 0, n);
    }
}

#endif /* __AVX2__ */
