/*
 * conv2d_s8_kxk.h - the INT8 convolution of any window, stride, dilation and pads (one group) as
 * im2col plus the NEON matrix product (gemm_s8_neon.h), shared by the plain kernel
 * (conv2d_s8_kxk.c) and the dot-product one (neon_dot/conv2d_s8_kxk.c).
 *
 * A task unit is a block of TE_NEON_CONV_S8_PIXELS output pixels: their windows are copied into
 * the calling thread's scratch as rows of k = kh*kw*c values (im2col_s8.h), then multiplied by
 * every output channel's weights, packed at load as for a 1x1 convolution (the OHWI weight is
 * [o, k] row-major). A tap outside the image holds the input's zero point and contributes
 * (z_x - z_x) * w = 0, as the reference's skipped tap does, so the product's folded bias stays
 * exact.
 */
#ifndef TE_NEON_CONV2D_S8_KXK_H
#define TE_NEON_CONV2D_S8_KXK_H

#if defined(__ARM_NEON)
#include "gemm_s8_neon.h"
#include "kernels/ref/im2col_s8.h"

#define TE_NEON_CONV_S8_PIXELS (2 * TE_NEON_GEMM_S8_MR)  /* output pixels per im2col block */

typedef struct {
    te_neon_gemm_s8 g;  /* m = n*oh*ow pixels, n = o channels, k = kh*kw*c */
    te_conv2d_shape s;
    int8_t x_zero_point;
} te_neon_conv2d_s8_kxk;

/* Task `task` of `tasks`: its contiguous range of pixel blocks of y (NHWC) from x (NHWC). */
TE_NEON_GEMM_INLINE void te_neon_conv2d_s8_kxk_task(const te_neon_conv2d_s8_kxk *p,
                                                    const int8_t *x, int8_t *y, int8_t *scratch,
                                                    int tasks, int task)
{
    const size_t m = p->g.m, n = p->g.n, k = p->g.k;
    const uint64_t blocks = (m + TE_NEON_CONV_S8_PIXELS - 1) / TE_NEON_CONV_S8_PIXELS;
    int64_t b0, b1;
    te_task_range(blocks, tasks, task, &b0, &b1);
    for (size_t b = (size_t)b0; b < (size_t)b1; b++) {
        const size_t p0 = b * TE_NEON_CONV_S8_PIXELS;
        const size_t rows = m - p0 < TE_NEON_CONV_S8_PIXELS ? m - p0 : TE_NEON_CONV_S8_PIXELS;
        te_im2col_s8(&p->s, p->x_zero_point, x, p0, rows, scratch);
        TE_NEON_GEMM_S8_BLOCK(&p->g, scratch, k, y + p0 * n, rows, 0, n);
    }
}

#endif /* __ARM_NEON */
#endif /* TE_NEON_CONV2D_S8_KXK_H */
