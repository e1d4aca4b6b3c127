/*
 * im2col_s8.h - the patches of an INT8 NHWC convolution as rows of a matrix, for the KxK kernels
 * (kernels/neon/ and kernels/avx2/ conv2d_s8_kxk.c; portable C): row p holds output pixel p's window in the weight's OHWI order
 * ([kh][kw][c]), so that the convolution is that matrix times the weight [o, kh*kw*c] transposed.
 * Taps outside the image hold the input's zero point (the value of a real 0, which is what the
 * padding adds).
 */
#ifndef TE_REF_IM2COL_S8_H
#define TE_REF_IM2COL_S8_H

#include "layer_shape.h"

/* Rows for output pixels [p0, p0 + rows) (pixels numbered over [n, oh, ow]) of x (NHWC, s's
 * shape) into dst, kh*kw*c bytes each, one after the other. */
void te_im2col_s8(const te_conv2d_shape *s, int8_t zero_point, const int8_t *x, size_t p0,
                  size_t rows, int8_t *dst);

#endif /* TE_REF_IM2COL_S8_H */
