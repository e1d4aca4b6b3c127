/*
 * requant_s8.h - the output step of the INT8 kernels that requantize an int32 accumulator
 * (conv2d, fully_connected, matmul, mean): y = clamp(requantize(acc, M, shift) + z_y, lo, hi)
 * (docs/quantization.md), and the bound prepare steps use to prove that accumulator never
 * overflows int32.
 */
#ifndef TE_REF_REQUANT_S8_H
#define TE_REF_REQUANT_S8_H

#include "fixed_point.h"

/* clamp(requantize(acc, m, shift) + zero_point, lo, hi) with lo, hi in [-128, 127]. The sum is
 * taken in 64 bits: requantize may return values near INT32_MAX, where adding z_y would overflow. */
static inline int8_t te_requant_s8(int32_t acc, int32_t m, int shift, int32_t zero_point,
                                   int32_t lo, int32_t hi)
{
    int64_t v = (int64_t)te_requantize(acc, m, shift) + zero_point;
    v = v < lo ? lo : v;
    return (int8_t)(v > hi ? hi : v);
}

/* The largest |q - zero_point| of an int8 q: how far one centred activation can reach. */
static inline int64_t te_s8_reach(int32_t zero_point)
{
    return zero_point >= 0 ? 128 + (int64_t)zero_point : 127 - (int64_t)zero_point;
}

#endif /* TE_REF_REQUANT_S8_H */
