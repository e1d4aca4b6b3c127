/*
 * dwconv_s8_avx2.h - what the AVX2 INT8 depthwise kernels share (te_dwconv3x3_s8_c16__avx2,
 * te_dwconv5x5_s8_c16__avx2): a conv2d with group == C == O (channel multiplier 1), a K x K window
 * (K = 3 or 5), no dilation, strides 1 or 2 on each axis and any pads (kernels/ref/
 * dwconv_window.h's te_dwconv_fits). The same walk as the NEON kernels (kernels/neon/
 * dwconv_s8_neon.h), with AVX2's multiply step.
 *
 * Algorithm, per output row of a task and per block of 16 channels (then one of 8, then a scalar
 * tail), every pixel over all K * K taps (padding included, see below):
 *   acc = sum_t x_t * w_t;  y = requant(acc + bias - z_x * sum_t w_t)  (the bias folded at prepare)
 * two taps at a time: both taps' 16 int8 inputs sign-extended to int16 (VPMOVSXBW), interleaved
 * channel by channel (VPUNPCKLWD/HWD) and multiplied by the pair's weights, packed at prepare as
 * int16 pairs in that order, with VPMADDWD: each int32 lane gets x_t * w_t + x_t+1 * w_t+1 of one
 * channel, exact. 8 instructions for 32 MACs. When K * K is odd the last tap pairs with a zero
 * input and weight. The interleave leaves channels 0-3, 8-11 in one accumulator and 4-7, 12-15 in
 * the other; two lane permutes restore their order before the output step.
 * Exactness: integer sums; the folded sum equals bias + sum_t (x_t - z_x) * w_t, which the
 * reference's overflow proof keeps inside int32; partial sums may leave it, but the lanes add
 * modulo 2^32, so the final value is exact (the scalar tail sums in int64).
 * Padding, as the NEON kernels: the interior columns of a row (window columns all inside the
 * input) read the input in place, a window row above or below the input reading a row of z_x in
 * scratch; the border pixels left and right of them read a strip of their window rows copied
 * into scratch with z_x in the padding. A padded tap adds (z_x - z_x) * w = 0, as in the reference.
 * Output step: requant_s8_avx2.h.
 * Limits: channel multiplier 1 only; dilation 1 only; other nodes are refused with
 * TE_ERR_UNSUPPORTED (the loader takes the next kernel).
 */
#ifndef TE_AVX2_DWCONV_S8_AVX2_H
#define TE_AVX2_DWCONV_S8_AVX2_H

#if defined(__AVX2__)
#include <string.h>

#include "requant_s8_avx2.h"
#include "kernels/ref/layer_shape.h"
#include "kernels/ref/requant_s8.h"

#define TE_AVX2_DW_MAX_K 5

typedef struct {
    te_conv2d_shape s;
    int32_t k;             /* the window's side */
    const int16_t *wp;     /* per tap pair, per block of 16 channels (padded): 32 int16 (below) */
    size_t blocks;         /* blocks of 16 channels, the last one padded with zero weights */
    const int8_t *w;       /* the OHWI weight in place ([C][k * k]): the scalar tail's */
    te_avx2_requant rq;    /* rq.bias: bias - z_x * sum of the channel's weights (folded) */
    te_avx2_output out;    /* lo and hi moved by -z_y */
    int32_t x_zp;
    int32_t ox_lo, ox_hi;  /* output columns whose window columns are all inside the input */
} te_avx2_dwconv_s8_plan;

/* Check that node is a depthwise k x k conv2d this family runs and build its plan into
 * node->state (weights packed, z_x folded into the bias, requantization laid out, scratch, MACs
 * and tasks set); TE_ERR_UNSUPPORTED for other conv2d nodes. */
te_status te_avx2_dwconv_s8_prepare_window(te_node *node, te_prepare_ctx *ctx, int k);

/* The packed weights of tap pair `pair` and block b: 16 int16 for channels 0-3 and 8-11 of the
 * block, then 16 for channels 4-7 and 12-15, each channel's two taps side by side (the order of
 * VPUNPCKLWD and VPUNPCKHWD of the two taps' inputs). */
static inline const int16_t *te_avx2_dw_pair(const te_avx2_dwconv_s8_plan *p, int pair, size_t b)
{
    return p->wp + ((size_t)pair * p->blocks + b) * 32;
}

/* ---- eval, inlined into each kernel with its K constant ---- */

#define TE_AVX2_DW_UNROLL _Pragma("GCC unroll 32")

/* acc (16 channels, interleaved order) += x0 * w0 + x1 * w1; x1 NULL: a zero input. */
TE_AVX2_INLINE void te_avx2_dw_mac16(__m256i acc[2], const int8_t *x0, const int8_t *x1,
                                     const int16_t *w)
{
    const __m256i a = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x0));
    const __m256i b = x1 ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x1))
                         : _mm256_setzero_si256();
    acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b),
                                                        _mm256_loadu_si256((const __m256i *)w)));
    const __m256i w_hi = _mm256_loadu_si256((const __m256i *)(w + 16));
    acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w_hi));
}

/* acc (8 channels: 0-3, 4-7) += x0 * w0 + x1 * w1 with 128-bit vectors; the weights are the low
 * halves of the block's two packed vectors. */
TE_AVX2_INLINE void te_avx2_dw_mac8(__m128i acc[2], const int8_t *x0, const int8_t *x1,
                                    const int16_t *w)
{
    const __m128i a = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)x0));
    const __m128i b = x1 ? _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)x1))
                         : _mm_setzero_si128();
    acc[0] = _mm_add_epi32(acc[0], _mm_madd_epi16(_mm_unpacklo_epi16(a, b),
                                                  _mm_loadu_si128((const __m128i *)w)));
    acc[1] = _mm_add_epi32(acc[1], _mm_madd_epi16(_mm_unpackhi_epi16(a, b),
                                                  _mm_loadu_si128((const __m128i *)(w + 16))));
}

/* The output step of 8 channels from ch into yp. */
TE_AVX2_INLINE void te_avx2_dw_store8(const te_avx2_dwconv_s8_plan *p, __m256i acc, int64_t ch,
                                      int8_t *yp)
{
    const te_avx2_requant_vec q = te_avx2_requant_load(&p->rq, (size_t)ch);
    const __m256i v = te_avx2_requant8(acc, &q, p->rq.shift_left,
                                       _mm256_set1_epi32(p->out.zero_point),
                                       _mm256_set1_epi32(p->out.lo), _mm256_set1_epi32(p->out.hi));
    te_avx2_store_s8x8(yp, v, 8);
}

/* n output pixels of one row, channels ch.. (16 when wide, else 8): pixel i's window row ky
 * starts at xr[ky] + i * sw * C (channel 0), its output at y + i * C. K and wide are constants of
 * the caller: the tap loops unroll. */
TE_AVX2_INLINE void te_avx2_dw_pixels(const te_avx2_dwconv_s8_plan *p, const int8_t *const *xr,
                                      int64_t n, int64_t ch, const int K, const int wide,
                                      int8_t *y)
{
    const int64_t c = p->s.c, step = p->s.sw * c;
    const size_t b = (size_t)ch / 16;
    const int8_t *r[TE_AVX2_DW_MAX_K];
    TE_AVX2_DW_UNROLL
    for (int ky = 0; ky < K; ky++)
        r[ky] = xr[ky] + ch;
    int8_t *yp = y + ch;
    for (int64_t i = 0; i < n; i++, yp += c) {
        __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        __m128i acc8[2] = {_mm_setzero_si128(), _mm_setzero_si128()};
        /* Taps in pairs, t = ky * K + kx; the last one with a zero when K * K is odd. */
        TE_AVX2_DW_UNROLL
        for (int t = 0; t < K * K; t += 2) {
            const int8_t *x0 = r[t / K] + i * step + (t % K) * c;
            const int8_t *x1 = t + 1 < K * K ? r[(t + 1) / K] + i * step + ((t + 1) % K) * c : NULL;
            if (wide)
                te_avx2_dw_mac16(acc, x0, x1, te_avx2_dw_pair(p, t / 2, b));
            else
                te_avx2_dw_mac8(acc8, x0, x1, te_avx2_dw_pair(p, t / 2, b));
        }
        if (wide) {  /* [0-3 | 8-11], [4-7 | 12-15] -> [0-7], [8-15] */
            te_avx2_dw_store8(p, _mm256_permute2x128_si256(acc[0], acc[1], 0x20), ch, yp);
            te_avx2_dw_store8(p, _mm256_permute2x128_si256(acc[0], acc[1], 0x31), ch + 8, yp + 8);
        } else {
            const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(acc8[0]), acc8[1], 1);
            te_avx2_dw_store8(p, v, ch, yp);
        }
    }
}

/* The same n pixels, every channel: blocks of 16, one of 8, then the scalar tail. */
TE_AVX2_INLINE void te_avx2_dw_pixels_all(const te_avx2_dwconv_s8_plan *p, const int8_t *const *xr,
                                          int64_t n, const int K, int8_t *y)
{
    const int64_t c = p->s.c, sw = p->s.sw, c16 = c / 16 * 16, c8 = c / 8 * 8;
    int64_t ch = 0;
    for (; ch < c16; ch += 16)
        te_avx2_dw_pixels(p, xr, n, ch, K, 1, y);
    if (ch < c8)
        te_avx2_dw_pixels(p, xr, n, ch, K, 0, y);
    const int32_t lo = p->out.lo + p->out.zero_point, hi = p->out.hi + p->out.zero_point;
    for (int64_t i = 0; i < n && c8 < c; i++)
        for (ch = c8; ch < c; ch++) {
            int64_t acc = p->rq.bias[ch];  /* folded: int64 keeps the partial sums exact */
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++)
                    acc += xr[ky][(i * sw + kx) * c + ch] * p->w[ch * K * K + ky * K + kx];
            const int shift = p->rq.left[ch] - p->rq.right[ch];  /* one of the two is 0 */
            y[i * c + ch] = te_requant_s8((int32_t)acc, p->rq.mult[ch], shift, p->out.zero_point,
                                          lo, hi);
        }
}

/* The window rows of a run of border pixels as K rows of `cols` columns from input column ix0,
 * in strip (row ky at ky * cols * C), z_x where they reach into the padding. rows[ky]: the input
 * row of window row ky, NULL when in the padding. */
TE_AVX2_INLINE void te_avx2_dw_strip(const te_avx2_dwconv_s8_plan *p, const int8_t *const *rows,
                                     int64_t ix0, int64_t cols, const int K, int8_t *strip)
{
    const int64_t c = p->s.c, wd = p->s.w;
    int64_t first = ix0 < 0 ? -ix0 : 0, end = wd - ix0;  /* the columns inside: [first, end) */
    first = first < cols ? first : cols;
    end = end < cols ? end : cols;
    end = end > first ? end : first;
    for (int ky = 0; ky < K; ky++) {
        int8_t *dst = strip + ky * cols * c;
        if (!rows[ky]) {
            memset(dst, p->x_zp, (size_t)(cols * c));
            continue;
        }
        memset(dst, p->x_zp, (size_t)(first * c));
        if (end > first)
            memcpy(dst + first * c, rows[ky] + (ix0 + first) * c, (size_t)((end - first) * c));
        memset(dst + end * c, p->x_zp, (size_t)((cols - end) * c));
    }
}

/* Task `task` of a depthwise K x K node (its output rows, image by image). scratch: a row of W
 * pixels of z_x (the window rows in the padding, for interior pixels), then a strip
 * (te_avx2_dw_strip) for the border pixels left and right of the interior. */
TE_AVX2_INLINE void te_avx2_dw_eval(const te_node *node, void *scratch, int task, const int K)
{
    const te_avx2_dwconv_s8_plan *p = (const te_avx2_dwconv_s8_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    const int64_t h = s->h, wd = s->w, c = s->c, oh = s->oh, ow = s->ow, sw = s->sw;
    const int64_t lo = p->ox_lo, hi = p->ox_hi > p->ox_lo ? p->ox_hi : p->ox_lo;
    int8_t *zrow = (int8_t *)scratch, *strip = zrow + wd * c;
    memset(zrow, p->x_zp, (size_t)(wd * c));
    int64_t row0, row1;  /* this task's output rows b * oh + oy */
    te_task_range((uint64_t)s->n * (uint64_t)oh, node->tasks, task, &row0, &row1);
    for (int64_t row = row0; row < row1; row++) {
        const int64_t b = row / oh, iy0 = row % oh * s->sh - s->pt;
        int8_t *yr = y + row * ow * c;
        const int8_t *rows[TE_AVX2_DW_MAX_K];
        for (int ky = 0; ky < K; ky++) {
            const int64_t iy = iy0 + ky;
            rows[ky] = iy >= 0 && iy < h ? x + ((b * h + iy) * wd) * c : NULL;
        }
        /* The interior columns [lo, hi) in place, then the border ones [0, lo) and [hi, ow)
         * through a strip; one call site, so the unrolled code is instantiated once. */
        for (int part = 0; part < 3; part++) {
            const int64_t ox0 = part == 0 ? lo : part == 1 ? 0 : hi;
            const int64_t ox1 = part == 0 ? hi : part == 1 ? lo : ow;
            if (ox0 >= ox1)
                continue;
            const int8_t *xr[TE_AVX2_DW_MAX_K];
            if (part == 0) {
                for (int ky = 0; ky < K; ky++)
                    xr[ky] = (rows[ky] ? rows[ky] : zrow) + (lo * sw - s->pl) * c;
            } else {
                const int64_t cols = (ox1 - 1 - ox0) * sw + K;
                te_avx2_dw_strip(p, rows, ox0 * sw - s->pl, cols, K, strip);
                for (int ky = 0; ky < K; ky++)
                    xr[ky] = strip + ky * cols * c;
            }
            te_avx2_dw_pixels_all(p, xr, ox1 - ox0, K, yr + ox0 * c);
        }
    }
}

#endif /* __AVX2__ */
#endif /* TE_AVX2_DWCONV_S8_AVX2_H */
