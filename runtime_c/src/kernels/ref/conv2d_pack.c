/* conv2d_pack.c - packing conv2d weights for the portable kernels (see conv2d_pack.h). */
#include "conv2d_pack.h"

#include <string.h>

/* dst[b][col][row] = src[b][row][col] for `blocks` blocks of rows x cols values of `size` bytes.
 * Called with a constant size, so each memcpy is one move (and float bits stay as they are). */
static inline void transpose_blocks(unsigned char *dst, const unsigned char *src, size_t blocks,
                                    size_t rows, size_t cols, size_t size)
{
    for (size_t b = 0; b < blocks; b++)
        for (size_t r = 0; r < rows; r++)
            for (size_t k = 0; k < cols; k++)
                memcpy(dst + ((b * cols + k) * rows + r) * size,
                       src + ((b * rows + r) * cols + k) * size, size);
}

void te_conv2d_pack_weights(const te_conv2d_shape *s, te_conv2d_layout layout, const void *w,
                            void *packed, size_t elem_size)
{
    const size_t taps = (size_t)s->kh * (size_t)s->kw;
    const int depthwise = layout == TE_CONV2D_DEPTHWISE;
    const size_t blocks = depthwise ? 1 : (size_t)s->group;
    const size_t rows = depthwise ? (size_t)s->o : (size_t)(s->o / s->group);
    const size_t cols = depthwise ? taps : taps * (size_t)s->ci;
    if (elem_size == 1)
        transpose_blocks((unsigned char *)packed, (const unsigned char *)w, blocks, rows, cols, 1);
    else
        transpose_blocks((unsigned char *)packed, (const unsigned char *)w, blocks, rows, cols, 4);
}

te_status te_conv2d_pack_const(te_prepare_ctx *ctx, const te_node *node, const te_conv2d_shape *s,
                               te_conv2d_layout layout, size_t elem_size, const void **packed)
{
    const te_tensor *w = node->in[1];
    void *dst = te_prepare_alloc(ctx, w->nbytes);
    if (!dst)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM,
                               "out of memory for its packed weights (%lu bytes)",
                               (unsigned long)w->nbytes);
    te_conv2d_pack_weights(s, layout, w->data, dst, elem_size);
    *packed = dst;
    return TE_OK;
}
