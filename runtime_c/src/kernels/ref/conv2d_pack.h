/*
 * conv2d_pack.h - what the portable conv2d kernels (float32 and INT8) share: their weight layouts,
 * packed once at prepare so that eval's innermost loop runs over unit-stride rows the compiler
 * vectorizes, and the clipping of a window to the taps inside the input.
 *
 * A conv2d's OHWI weight [O, KH, KW, I] (I = C / group input channels and og = O / group output
 * channels per group) becomes one of:
 * - TE_CONV2D_DEPTHWISE (group == C == O: output channel c reads input channel c only):
 *   [KH * KW][C]. A tap is a row over channels: acc[c] += (x[c] - z) * w[tap][c].
 * - TE_CONV2D_GENERAL (every other conv): [group][KH * KW * I][og]. One input value (a tap and an
 *   input channel of the group) scales a row over the group's output channels:
 *   acc[j] += (x - z) * w[g][(ky, kx, ic)][j].
 * Both are a transpose of [rows][cols] blocks: the depthwise one is one [C][KH * KW] block, the
 * general one is group blocks of [og][KH * KW * I]. Vectorizing across channels keeps each output's
 * own sum in the reference order, (ky, kx, ic) ascending, whatever the vector width: float results
 * do not depend on it.
 */
#ifndef TE_REF_CONV2D_PACK_H
#define TE_REF_CONV2D_PACK_H

#include "layer_shape.h"

typedef enum { TE_CONV2D_GENERAL = 0, TE_CONV2D_DEPTHWISE = 1 } te_conv2d_layout;

/* The layout a checked conv2d's weights are packed into. */
static inline te_conv2d_layout te_conv2d_layout_of(const te_conv2d_shape *s)
{
    return s->group == s->c && s->group == s->o ? TE_CONV2D_DEPTHWISE : TE_CONV2D_GENERAL;
}

/* Pack the OHWI weight w of a checked conv2d into packed (as many bytes, not overlapping w) in the
 * given layout; elem_size is the bytes of one value: 1 (int8) or 4 (float32). */
void te_conv2d_pack_weights(const te_conv2d_shape *s, te_conv2d_layout layout, const void *w,
                            void *packed, size_t elem_size);

/* Allocate load-time memory for the constant weight w (node's input 1) and pack it into *packed
 * with te_conv2d_pack_weights; TE_ERR_NOMEM with a message when the allocation fails. */
te_status te_conv2d_pack_const(te_prepare_ctx *ctx, const te_node *node, const te_conv2d_shape *s,
                               te_conv2d_layout layout, size_t elem_size, const void **packed);

/* The taps k in [*lo, *hi) of a window along one axis that fall inside the input: those with
 * 0 <= start + k * dilation < size (start: the window's first position, negative when it begins
 * in the padding). *lo == *hi when none does. */
static inline void te_conv2d_taps_inside(int64_t start, int64_t size, int64_t k, int64_t dilation,
                                         int64_t *lo, int64_t *hi)
{
    int64_t first = start < 0 ? (-start + dilation - 1) / dilation : 0;
    int64_t end = start < size ? (size - 1 - start) / dilation + 1 : 0;
    end = end < k ? end : k;
    *lo = first < end ? first : end;
    *hi = end;
}

#endif /* TE_REF_CONV2D_PACK_H */
