/*
 * conv2d_s8_1x1.c - INT8 pointwise convolution as a matrix product, plain NEON
 * (te_conv2d_s8_1x1_4x4c16__neon on aarch64, _2x4c16 on armv7): a 1x1, stride 1, unpadded,
 * single-group conv2d over NHWC is
 * y [n*h*w, o] = x [n*h*w, c] times the OHWI weight [o, c] transposed (gemm_s8_neon.h), bit-exact
 * with te_conv2d_s8__ref. Any other conv2d is refused with TE_ERR_UNSUPPORTED so the loader takes
 * the next kernel (neon/conv2d_s8_kxk.c takes the other group-1 convolutions). The dot-product
 * kernel (neon_dot/conv2d_s8_1x1.c) shares this prepare. Tasks take blocks of pixels by output
 * channels (te_neon_gemm_s8_units).
 */
#include "gemm_s8_neon.h"

#if defined(__ARM_NEON)
#include "kernels/ref/conv2d_s8_fits.h"

te_status te_conv2d_s8_1x1_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_conv2d_shape s;
    te_status st = te_conv2d_s8_fits_pointwise(node, ctx, &s);
    if (st != TE_OK)
        return st;
    te_neon_gemm_s8 *g = (te_neon_gemm_s8 *)te_prepare_alloc(ctx, sizeof *g);
    if (!g)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    const size_t pixels = (size_t)s.n * (size_t)s.h * (size_t)s.w;
    if ((st = te_neon_gemm_s8_prepare(node, ctx, 4, pixels, (size_t)s.o, (size_t)s.c,
                                      node->attrs[TE_CONV2D_ACT_MIN].f,
                                      node->attrs[TE_CONV2D_ACT_MAX].f, g)) != TE_OK)
        return st;
    node->state = g;
    node->tasks = te_split_tasks(te_neon_gemm_s8_units(g->m, g->n), node->macs);
    return TE_OK;
}

void te_conv2d_s8_1x1_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    te_neon_gemm_s8_task((const te_neon_gemm_s8 *)node->state, (const int8_t *)node->in[0]->data,
                         (int8_t *)node->out[0]->data, node->tasks, task);
}

#endif /* __ARM_NEON */
