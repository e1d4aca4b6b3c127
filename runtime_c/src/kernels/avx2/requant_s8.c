/* requant_s8.c - the per-channel requantization of the AVX2 INT8 kernels, laid out for vector
 * loads (requant_s8_avx2.h). */
#include "requant_s8_avx2.h"

#if defined(__AVX2__)
#include "requant_prepare_avx2.h"

te_status te_avx2_requant_prepare(te_node *node, te_prepare_ctx *ctx, const te_channel_requant *rq,
                                  const int64_t *bias, size_t channels, te_avx2_requant *out)
{
    const size_t padded = te_avx2_padded(channels);
    if (padded > SIZE_MAX / (5 * sizeof(int32_t)))
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu channels do not fit in memory",
                               (unsigned long)channels);
    /* One block: mult, left, right, half, bias; te_prepare_alloc zeroes the padding lanes. */
    int32_t *block = (int32_t *)te_prepare_alloc(ctx, 5 * padded * sizeof(int32_t));
    if (!block)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for %lu multipliers",
                               (unsigned long)channels);
    int32_t *mult = block, *left = block + padded, *right = block + 2 * padded;
    int32_t *half = block + 3 * padded, *b = block + 4 * padded;
    out->shift_left = 0;
    for (size_t c = 0; c < channels; c++) {
        const int32_t shift = rq->shift[c];
        mult[c] = rq->mult[c];
        left[c] = shift > 0 ? shift : 0;
        right[c] = shift < 0 ? -shift : 0;
        half[c] = right[c] > 0 ? (int32_t)((uint32_t)1 << (right[c] - 1)) : 0;
        b[c] = (int32_t)bias[c];
        out->shift_left |= left[c] != 0;
    }
    out->mult = mult;
    out->left = left;
    out->right = right;
    out->half = half;
    out->bias = b;
    return TE_OK;
}

#endif /* __AVX2__ */
