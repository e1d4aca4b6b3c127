/* gemm_s8.c - the block of the NEON INT8 matrix product (gemm_s8_neon.h) with SDOT as its step,
 * which every dot-product kernel calls (the plain one is in kernels/neon/gemm_s8.c). */
/* Built under the condition of neon_dot/conv2d_s8_1x1.c (and of its kernels.def line). */
#if defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD) && defined(__ARM_FEATURE_QRDMX)
#define TE_NEON_GEMM_S8_DOT
#include "kernels/neon/gemm_s8_neon.h"

void te_neon_gemm_s8_block_dot(const te_neon_gemm_s8 *g, const int8_t *x, size_t x_stride,
                               int8_t *y, size_t rows, size_t j0, size_t j1)
{
    te_neon_gemm_s8_block_body(g, x, x_stride, y, rows, j0, j1);
}

#endif /* __ARM_NEON && __ARM_FEATURE_DOTPROD && __ARM_FEATURE_QRDMX */
