/*
 * dwconv_window.h - the shape questions the NEON and AVX2 depthwise kernels share: does a
 * conv2d fit their specialization, and which output columns have their whole window inside the
 * input (those run without bounds checks; the others take the clipped border path).
 */
#ifndef TE_REF_DWCONV_WINDOW_H
#define TE_REF_DWCONV_WINDOW_H

#include "conv2d_pack.h"

/* A depthwise k x k conv2d (group = channels = outputs, channel multiplier 1), no dilation,
 * strides 1 or 2 on each axis. */
static inline int te_dwconv_fits(const te_conv2d_shape *s, int k)
{
    return s->group == s->c && s->group == s->o && s->kh == k && s->kw == k && s->dh == 1 &&
           s->dw == 1 && (s->sh == 1 || s->sh == 2) && (s->sw == 1 || s->sw == 2);
}

/* The first output column whose window starts inside the input (ix0 >= 0) and the end of those
 * whose window ends inside (ix0 + k <= w), both within [0, ow]. */
static inline void te_dwconv_interior_columns(const te_conv2d_shape *s, int k, int32_t *lo,
                                              int32_t *hi)
{
    const int64_t first = ((int64_t)s->pl + s->sw - 1) / s->sw;
    const int64_t room = (int64_t)s->w - k + s->pl;  /* ox * sw <= room */
    const int64_t end = room < 0 ? 0 : room / s->sw + 1;
    *lo = (int32_t)(first < s->ow ? first : s->ow);
    *hi = (int32_t)(end < s->ow ? end : s->ow);
}

#endif /* TE_REF_DWCONV_WINDOW_H */
