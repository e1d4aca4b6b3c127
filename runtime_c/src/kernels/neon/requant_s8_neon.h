/*
 * requant_s8_neon.h - the INT8 output step of the NEON kernels, four lanes at a time, bit-exact
 * with te_requant_s8 (kernels/ref/requant_s8.h, docs/quantization.md):
 *   SQSHL by max(shift, 0), SQRDMULH by M, SRSHR by max(-shift, 0) (vrshlq with a negative
 *   count), then + z_y saturating (the reference adds in 64 bits; saturating at INT32_MAX gives the
 *   same value once clamped to [lo, hi] inside int8), then clamp (hi wins when lo > hi, as the
 *   reference's order of comparisons).
 * Also the per-channel multipliers laid out for vector loads: padded to a multiple of 8 lanes.
 */
#ifndef TE_NEON_REQUANT_S8_NEON_H
#define TE_NEON_REQUANT_S8_NEON_H

#if defined(__ARM_NEON)
#include <arm_neon.h>

#include "kernels/ref/weights_s8.h"

#define TE_NEON_CHANNEL_PAD 8

/* Per-channel requantization as vector operands; arrays of te_neon_padded(channels) entries, the
 * padding lanes computing a discarded 0. */
typedef struct {
    const int32_t *mult;   /* M_c */
    const int32_t *left;   /* max(shift_c, 0) */
    const int32_t *right;  /* -max(-shift_c, 0): vrshlq's count for a rounding right shift */
    const int32_t *bias;   /* what the kernel adds to each accumulator (its own meaning) */
} te_neon_requant;

/* The output step's per-tensor operands. */
typedef struct {
    int32_t zero_point, lo, hi;
} te_neon_output;

static inline size_t te_neon_padded(size_t channels)
{
    return (channels + TE_NEON_CHANNEL_PAD - 1) / TE_NEON_CHANNEL_PAD * TE_NEON_CHANNEL_PAD;
}

/* Lay out rq's channels for vector loads, with bias[c] (int64, already in int32 range) as the
 * bias lanes; fails with TE_ERR_NOMEM. */
te_status te_neon_requant_prepare(te_node *node, te_prepare_ctx *ctx, const te_channel_requant *rq,
                                  const int64_t *bias, size_t channels, te_neon_requant *out);

/* clamp(requantize(acc, M, shift) + z_y, lo, hi) in four lanes. */
static inline int32x4_t te_neon_requant4(int32x4_t acc, int32x4_t mult, int32x4_t left,
                                         int32x4_t right, int32x4_t zero_point, int32x4_t lo,
                                         int32x4_t hi)
{
    int32x4_t v = vqshlq_s32(acc, left);
    v = vqrdmulhq_s32(v, mult);
    v = vrshlq_s32(v, right);
    v = vqaddq_s32(v, zero_point);
    return vminq_s32(vmaxq_s32(v, lo), hi);
}

/* Two clamped int32x4 (values in [-128, 127]) as eight int8. */
static inline int8x8_t te_neon_narrow8(int32x4_t a, int32x4_t b)
{
    return vmovn_s16(vcombine_s16(vmovn_s32(a), vmovn_s32(b)));
}

/* Requantize acc (channels c..c+3 of rq) and return the four int8 in the low lanes. */
static inline int8x8_t te_neon_requant_channels4(int32x4_t acc, const te_neon_requant *rq,
                                                 size_t c, const te_neon_output *o)
{
    const int32x4_t v = te_neon_requant4(vaddq_s32(acc, vld1q_s32(rq->bias + c)),
                                         vld1q_s32(rq->mult + c), vld1q_s32(rq->left + c),
                                         vld1q_s32(rq->right + c), vdupq_n_s32(o->zero_point),
                                         vdupq_n_s32(o->lo), vdupq_n_s32(o->hi));
    return te_neon_narrow8(v, v);
}

#endif /* __ARM_NEON */
#endif /* TE_NEON_REQUANT_S8_NEON_H */
