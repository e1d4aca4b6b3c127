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
    /* floor division by 2^32 without relying on >> of a negative value */
    int64_t q = p >= 0 ? p / 4294967296LL : -((-p + 4294967295LL) / 4294967296LL);
    return te_sat32(q);
}

/* (x + 2^(r-1)) >> r, flooring, for r in [1, 31]; x for r == 0. Computed in 64 bits: no overflow. */
static inline int32_t te_rounding_shift_right(int32_t x, int r)
{
    if (r <= 0)
        return x;
    int64_t v = (int64_t)x + ((int64_t)1 << (r - 1));
    int64_t d = (int64_t)1 << r;
    return (int32_t)(v >= 0 ? v / d : -((-v + d - 1) / d));
}

/* acc * m * 2^(shift - 31): saturating left shift by max(shift, 0), SQRDMULH, rounding right shift
 * by max(-shift, 0). m in [2^30, 2^31 - 1] or 0, shift in [-31, 30]. */
static inline int32_t te_requantize(int32_t acc, int32_t m, int shift)
{
    int32_t x = shift > 0 ? te_sat32((int64_t)acc * ((int64_t)1 << shift)) : acc;
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
