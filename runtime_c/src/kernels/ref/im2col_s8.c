/* im2col_s8.c - the patches of an INT8 NHWC convolution as matrix rows (im2col_s8.h). */
#include "im2col_s8.h"

#include <string.h>

/* memcpy for the short pieces of a window row (a 3x3 stem copies 9 bytes at a time), where a call
 * to the C library costs more than the copy: overlapping fixed-size moves, all in bounds. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, size_t n)
{
    uint64_t a, b;
    uint32_t c, d;
    if (n > 16) {
        memcpy(dst, src, n);
    } else if (n >= 8) {
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        memcpy(&c, src, 4);
        memcpy(&d, src + n - 4, 4);
        memcpy(dst, &c, 4);
        memcpy(dst + n - 4, &d, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
    }
}

void te_im2col_s8(const te_conv2d_shape *s, int8_t zero_point, const int8_t *x, size_t p0,
                  size_t rows, int8_t *dst)
{
    const size_t c = (size_t)s->c, kw = (size_t)s->kw, row_bytes = (size_t)s->kh * kw * c;
    const size_t plane = (size_t)s->oh * (size_t)s->ow;
    for (size_t p = p0; p < p0 + rows; p++) {
        const size_t b = p / plane, oy = p % plane / (size_t)s->ow, ox = p % (size_t)s->ow;
        const int64_t iy0 = (int64_t)oy * s->sh - s->pt, ix0 = (int64_t)ox * s->sw - s->pl;
        const int whole = s->dw == 1 && ix0 >= 0 && ix0 + (int64_t)kw <= s->w;
        int8_t *row = dst + (p - p0) * row_bytes;
        for (int32_t ky = 0; ky < s->kh; ky++) {
            const int64_t iy = iy0 + (int64_t)ky * s->dh;
            int8_t *out = row + (size_t)ky * kw * c;
            if (iy < 0 || iy >= s->h) {
                memset(out, zero_point, kw * c);
                continue;
            }
            const int8_t *line = x + ((b * (size_t)s->h + (size_t)iy) * (size_t)s->w) * c;
            if (whole) {  /* the window row is kw * c contiguous bytes */
                copy_bytes(out, line + (size_t)ix0 * c, kw * c);
                continue;
            }
            for (int32_t kx = 0; kx < s->kw; kx++) {
                const int64_t ix = ix0 + (int64_t)kx * s->dw;
                if (ix < 0 || ix >= s->w)
                    memset(out + (size_t)kx * c, zero_point, c);
                else
                    copy_bytes(out + (size_t)kx * c, line + (size_t)ix * c, c);
            }
        }
    }
}

