/*
 * conv2d_s8_1x1.c - INT8 pointwise convolution as a matrix product, AVX2
 * (te_conv2d_s8_1x1_3x8c8__avx2): a 1x1, stride 1, unpadded, single-group conv2d over NHWC is
 * y [n*h*w, o] = x [n*h*w, c] times the OHWI weight [o, c] transposed (gemm_s8_avx2.h), bit-exact
 * with te_conv2d_s8__ref. Any other conv2d is refused with TE_ERR_UNSUPPORTED so the loader takes
 * the next kernel. Tasks take blocks of pixels by output channels (te_avx2_gemm_s8_units).
 */
#include "gemm_s8_avx2.h"

#if defined(__AVX2__)
#include "kernels/ref/conv2d_s8_fits.h"

te_status te_conv2d_s8_1x1_avx2_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_conv2d_shape s;
    te_status st = te_conv2d_s8_fits_pointwise(node, ctx, &s);
    if (st != TE_OK)
        return st;
    te_avx2_gemm_s8 *g = (te_avx2_gemm_s8 *)te_prepare_alloc(ctx, sizeof *g);
    if (!g)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    const size_t pixels = (size_t)s.n * (size_t)s.h * (size_t)s.w;
    if ((st = te_avx2_gemm_s8_prepare(node, ctx, 4, pixels, (size_t)s.o, (size_t)s.c,
                                      node->attrs[TE_CONV2D_ACT_MIN].f,
                                      node->attrs[TE_CONV2D_ACT_MAX].f, g)) != TE_OK)
        return st;
    node->state = g;
    node->tasks = te_split_tasks(te_avx2_gemm_s8_units(g->m, g->n), node->macs);
    return TE_OK;
}

void te_conv2d_s8_1x1_avx2_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    te_avx2_gemm_s8_task((const te_avx2_gemm_s8 *)node->state, (const int8_t *)node->in[0]->data,
                         (int8_t *)node->out[0]->data, node->tasks, task);
}

#endif /* __AVX2__ */
