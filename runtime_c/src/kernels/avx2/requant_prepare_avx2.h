/*
 * requant_prepare_avx2.h - the load-time half of requant_s8_avx2.h: the per-channel multipliers
 * of weights_s8.h laid out for eight-lane loads (requant_s8.c).
 */
#ifndef TE_AVX2_REQUANT_PREPARE_AVX2_H
#define TE_AVX2_REQUANT_PREPARE_AVX2_H

#if defined(__AVX2__)
#include "requant_s8_avx2.h"
#include "kernels/ref/weights_s8.h"

#define TE_AVX2_CHANNEL_PAD 8

/* channels rounded up to the eight lanes of a vector. */
static inline size_t te_avx2_padded(size_t channels)
{
    return (channels + TE_AVX2_CHANNEL_PAD - 1) / TE_AVX2_CHANNEL_PAD * TE_AVX2_CHANNEL_PAD;
}

/* Lay out rq's channels for vector loads (te_avx2_padded(channels) entries each), with bias[c]
 * (int64, already in int32 range) as the bias lanes; fails with TE_ERR_NOMEM. */
te_status te_avx2_requant_prepare(te_node *node, te_prepare_ctx *ctx, const te_channel_requant *rq,
                                  const int64_t *bias, size_t channels, te_avx2_requant *out);

#endif /* __AVX2__ */
#endif /* TE_AVX2_REQUANT_PREPARE_AVX2_H */
