/* requant_s8.c - the per-channel requantization of the NEON INT8 kernels, laid out for vector
 * loads (requant_s8_neon.h). */
#include "requant_s8_neon.h"

#if defined(__ARM_NEON)

te_status te_neon_requant_prepare(te_node *node, te_prepare_ctx *ctx, const te_channel_requant *rq,
                                  const int64_t *bias, size_t channels, te_neon_requant *out)
{
    const size_t padded = te_neon_padded(channels);
    if (padded > SIZE_MAX / (4 * sizeof(int32_t)))
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu channels do not fit in memory",
                               (unsigned long)channels);
    /* One block: mult, left, right, bias; te_prepare_alloc zeroes the padding lanes. */
    int32_t *block = (int32_t *)te_prepare_alloc(ctx, 4 * padded * sizeof(int32_t));
    if (!block)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for %lu multipliers",
                               (unsigned long)channels);
    int32_t *mult = block, *left = block + padded, *right = block + 2 * padded;
    int32_t *b = block + 3 * padded;
    for (size_t c = 0; c < channels; c++) {
        const int32_t shift = rq->shift[c];
        mult[c] = rq->mult[c];
        left[c] = shift > 0 ? shift : 0;
        right[c] = shift < 0 ? shift : 0;
        b[c] = (int32_t)bias[c];
    }
    out->mult = mult;
    out->left = left;
    out->right = right;
    out->bias = b;
    return TE_OK;
}

#endif /* __ARM_NEON */
