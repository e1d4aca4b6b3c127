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

#endif /* TE_REF_WEIGHTS_S8_H */
