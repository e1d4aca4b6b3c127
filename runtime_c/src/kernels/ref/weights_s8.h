/*
 * weights_s8.h - load-time checks and per-channel requantization of the INT8 layers with weights
 * (conv2d, fully_connected), docs/quantization.md.
 *
 * The weight is a constant int8 tensor whose axis 0 is the output channel, quantized per channel
 * (axis 0, one scale per channel) or per tensor, with zero points 0 and values in [-127, 127]
 * (symmetric: SIMD kernels rely on -128 never occurring). The optional bias is a constant int32 [O]
 * with the implied scale s_x * s_w[c]. Each channel c gets (M_c, shift_c) for
 * m_c = ((double)s_x * (double)s_w[c]) / (double)s_y. Because weights and bias are constants, the
 * prepare step also proves that no accumulator can overflow int32:
 * |bias[c]| + reach(z_x) * sum |w[c, :]| <= INT32_MAX, so eval never meets undefined behaviour.
 */
#ifndef TE_REF_WEIGHTS_S8_H
#define TE_REF_WEIGHTS_S8_H

#include "quant.h"

/* What eval needs per output channel. */
typedef struct {
    const int32_t *mult;  /* M_c */
    const int32_t *shift; /* shift_c */
} te_channel_requant;

/* Check weight w (channels rows of count / channels values each) and bias (NULL when absent) for
 * an input with (s_x, z_x) and an output scale s_y, and fill *out with te_prepare_alloc memory. */
te_status te_prepare_weights_s8(te_node *node, te_prepare_ctx *ctx, const te_tensor *w,
                                const te_tensor *bias, float s_x, int32_t z_x, float s_y,
                                te_channel_requant *out);

/* The bias with the input zero point folded in, for kernels that multiply the raw int8 input:
 * folded[c] = bias[c] - z_x * sum_i w[c, i] (bias NULL counts as 0), in te_prepare_alloc memory.
 * After te_prepare_weights_s8's overflow proof every value is within int32. Inline on purpose: it
 * is compiled with the calling kernel's ISA flags. In a portable file built for a Pi 5's CPU the
 * vectorizer turns the int8 sum into SDOT, and a Pi 5 runner started on a Pi 4 would die with
 * SIGILL while loading a model (tests/test_kernel_dispatch.py runs exactly that). */
static inline te_status te_fold_input_zero_point(te_node *node, te_prepare_ctx *ctx,
                                                 const te_tensor *w, const te_tensor *bias,
                                                 int32_t z_x, int64_t **folded)
{
    const size_t n = (size_t)w->dims[0], k = w->count / n;
    if (n > SIZE_MAX / sizeof(int64_t))
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu channels do not fit in memory",
                               (unsigned long)n);
    int64_t *out = (int64_t *)te_prepare_alloc(ctx, n * sizeof(int64_t));
    if (!out)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for %lu biases",
                               (unsigned long)n);
    const int8_t *wv = (const int8_t *)w->data;
    const int32_t *b = bias ? (const int32_t *)bias->data : NULL;
    for (size_t c = 0; c < n; c++) {
        int64_t sum = 0;
        for (size_t i = 0; i < k; i++)
            sum += wv[c * k + i];
        /* |bias| + |z_x| * sum |w| <= INT32_MAX (te_prepare_weights_s8): within int32. */
        out[c] = (b ? b[c] : 0) - (int64_t)z_x * sum;
    }
    *folded = out;
    return TE_OK;
}

#endif /* TE_REF_WEIGHTS_S8_H */
