/*
 * requant_s8_avx2.h - the INT8 output step of the AVX2 kernels, eight lanes at a time, bit-exact
 * with te_requant_s8 (kernels/ref/requant_s8.h, docs/quantization.md). AVX2 has no SQRDMULH or
 * saturating shift, so each step of the rule is spelled out:
 * - saturating left shift by max(shift, 0): VPSLLVD, and where shifting back (VPSRAVD) does not
 *   give the value again it overflowed: INT32_MAX or INT32_MIN by its sign;
 * - SQRDMULH by M: floor((x * M + 2^30) / 2^31) from VPMULDQ's 64-bit products of the even lanes
 *   and of the odd ones shifted down; M is in [0, 2^31 - 1], so it never saturates and the
 *   quotient fits int32 (bits 31..62 of the sum, the same for a logical or an arithmetic shift);
 * - rounding right shift by r = max(-shift, 0): floor(x / 2^r) plus bit r - 1 of x, which is
 *   floor((x + 2^(r-1)) / 2^r) without the sum that could overflow int32;
 * - + z_y then clamp to [lo, hi] as clamp to [lo - z_y, hi - z_y] then + z_y: the same value (hi
 *   when lo > hi, as the reference), with no sum beyond int32.
 */
#ifndef TE_AVX2_REQUANT_S8_AVX2_H
#define TE_AVX2_REQUANT_S8_AVX2_H

#if defined(__AVX2__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define TE_AVX2_INLINE static inline __attribute__((always_inline))
#else
#define TE_AVX2_INLINE static inline
#endif

/* Per-channel operands, arrays padded to a multiple of 8 channels (zero lanes compute a discarded
 * value). */
typedef struct {
    const int32_t *mult;   /* M_c */
    const int32_t *left;   /* max(shift_c, 0) */
    const int32_t *right;  /* max(-shift_c, 0) */
    const int32_t *half;   /* bit right_c - 1 (0 when right_c is 0): the rounding bit's mask */
    const int32_t *bias;   /* what the kernel adds to each accumulator (its own meaning) */
    int shift_left;        /* whether a channel shifts left (a multiplier of 1 or more) */
} te_avx2_requant;

/* The per-tensor operands: z_y and the clamp moved by -z_y. */
typedef struct {
    int32_t zero_point, lo, hi;
} te_avx2_output;

/* The operands of 8 channels as vectors. */
typedef struct {
    __m256i bias, mult, left, right, half;
} te_avx2_requant_vec;

TE_AVX2_INLINE te_avx2_requant_vec te_avx2_requant_load(const te_avx2_requant *rq, size_t c)
{
    te_avx2_requant_vec q;
    q.bias = _mm256_loadu_si256((const __m256i *)(rq->bias + c));
    q.mult = _mm256_loadu_si256((const __m256i *)(rq->mult + c));
    q.left = _mm256_loadu_si256((const __m256i *)(rq->left + c));
    q.right = _mm256_loadu_si256((const __m256i *)(rq->right + c));
    q.half = _mm256_loadu_si256((const __m256i *)(rq->half + c));
    return q;
}

/* clamp(requantize(acc + bias, M, shift) + z_y, lo, hi) in eight lanes; lo and hi are already
 * moved by -z_y. shift_left: whether any lane's shift is positive (else the left shift, a no-op,
 * is skipped). */
TE_AVX2_INLINE __m256i te_avx2_requant8(__m256i acc, const te_avx2_requant_vec *q, int shift_left,
                                        __m256i zero_point, __m256i lo, __m256i hi)
{
    __m256i x = _mm256_add_epi32(acc, q->bias);
    if (shift_left) {  /* saturating left shift */
        const __m256i shifted = _mm256_sllv_epi32(x, q->left);
        const __m256i same = _mm256_cmpeq_epi32(_mm256_srav_epi32(shifted, q->left), x);
        const __m256i sat = _mm256_xor_si256(_mm256_srai_epi32(x, 31),
                                             _mm256_set1_epi32(INT32_MAX));
        x = _mm256_blendv_epi8(sat, shifted, same);
    }
    /* Doubling high multiply, rounded. */
    const __m256i round = _mm256_set1_epi64x((int64_t)1 << 30);
    const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, q->mult), round);
    const __m256i odd = _mm256_add_epi64(
        _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(q->mult, 32)), round);
    const __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1),
                                         0xAA);
    /* Rounding right shift. */
    const __m256i bit = _mm256_min_epu32(_mm256_and_si256(h, q->half), _mm256_set1_epi32(1));
    __m256i v = _mm256_add_epi32(_mm256_srav_epi32(h, q->right), bit);
    v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
    return _mm256_add_epi32(v, zero_point);
}

/* Store the first count (1..8) of eight int32 lanes holding values in [-128, 127] as int8. */
TE_AVX2_INLINE void te_avx2_store_s8x8(int8_t *y, __m256i v, size_t count)
{
    __m256i p = _mm256_packs_epi32(v, v);  /* per 128-bit lane: v0..v3 twice (int16) */
    p = _mm256_packs_epi16(p, p);          /* per lane: its four values four times (int8) */
    const __m128i b = _mm_unpacklo_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    if (count == 8) {
        _mm_storel_epi64((__m128i *)y, b);
    } else {
        int8_t t[16];
        _mm_storeu_si128((__m128i *)t, b);
        memcpy(y, t, count);
    }
}

#endif /* __AVX2__ */
#endif /* TE_AVX2_REQUANT_S8_AVX2_H */
