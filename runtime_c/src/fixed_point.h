/*
 * fixed_point.h - the one requantization rule (docs/quantization.md), in C.
 *
 * Its twin is tinyedge/quantize/fixed_point.py; tests check the two against each other on the edges.
 * The rule is the one ARM NEON computes with its own instructions: SQSHL (saturating left shift),
 * SQRDMULH (saturating rounding doubling high multiply), SRSHR (rounding right shift, ties toward
 * +inf), so SIMD kernels need no fix-up to be bit-exact with the reference kernels.
 */
#ifndef TE_FIXED_POINT_H
#define TE_FIXED_POINT_H

#include <math.h>
#include <stdint.h>

#include "tinyedge.h"

/* Saturate an int64 to int32. */
static inline int32_t te_sat32(int64_t v)
{
    return v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : (int32_t)v);
}

/* sat((2 * x * m + 2^31) >> 32); >> is an arithmetic (flooring) shift. */
static inline int32_t te_sqrdmulh(int32_t x, int32_t m)
{
    int64_t p = 2 * (int64_t)x * (int64_t)m + ((int64_t)1 << 31);
    /* floor(p / 2^32) without >> of a negative value: as an unsigned, p + 2^63 is p's bits with
     * the top one flipped, and its shift is floor(p / 2^32) + 2^31. No branch, no division. */
    int64_t q = (int64_t)(((uint64_t)p ^ ((uint64_t)1 << 63)) >> 32) - ((int64_t)1 << 31);
    return te_sat32(q);
}

/* (x + 2^(r-1)) >> r, flooring, for r in [1, 31]; x for r == 0. The sum is offset by 2^62 to be
 * non-negative, so the shift floors without >> of a negative value, a division or a branch (r
 * varies per channel: a division here was the slow part of requantizing). */
static inline int32_t te_rounding_shift_right(int32_t x, int r)
{
    const int64_t offset = (int64_t)1 << 62;
    int64_t v = (int64_t)x + (((int64_t)1 << r) >> 1) + offset;
    return (int32_t)((v >> r) - (offset >> r));
}

/* acc * m * 2^(shift - 31): saturating left shift by max(shift, 0), SQRDMULH, rounding right shift
 * by max(-shift, 0). m in [2^30, 2^31 - 1] or 0, shift in [-31, 30]. */
static inline int32_t te_requantize(int32_t acc, int32_t m, int shift)
{
    int32_t x = te_sat32((int64_t)acc * ((int64_t)1 << (shift > 0 ? shift : 0)));
    return te_rounding_shift_right(te_sqrdmulh(x, m), shift < 0 ? -shift : 0);
}

static inline int32_t te_clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v; /* as np.clip: hi wins when lo > hi */
}

/* Represent a real multiplier as (*m, *shift) with real ~= m * 2^(shift - 31); see
 * quantize_multiplier in fixed_point.py. Declared (public) in tinyedge.h: te_quantize_multiplier. */

/* clamp(rint(v / scale) + zero_point, qmin, qmax) in float32, ties to even (rintf in the default
 * rounding mode, as numpy's rint), NaN -> zero_point. Inline so that quantize loops vectorize. */
static inline int32_t te_quantize_value(float v, float scale, int32_t zero_point, int32_t qmin,
                                        int32_t qmax)
{
    float q = rintf(v / scale);
    if (isnan(q))
        q = 0.0f;
    const float lo = (float)(qmin - zero_point), hi = (float)(qmax - zero_point);
    q = q < lo ? lo : (q > hi ? hi : q);
    return (int32_t)q + zero_point;
}

#endif /* TE_FIXED_POINT_H */
