/* weights_s8.c - INT8 weight checks and per-channel multipliers (see weights_s8.h). */
#include "weights_s8.h"

#include "requant_s8.h"

/* The weight's quantization: per channel on axis 0 or per tensor, zero points 0. */
static te_status check_weight_quant(te_node *node, te_prepare_ctx *ctx, const te_tensor *w,
                                    int32_t channels)
{
    const te_quant *q = w->quant;
    if (q == NULL || !((q->axis == 0 && q->n == (uint32_t)channels) ||
                       (q->axis == -1 && q->n == 1)))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "weight '%s' needs quantization parameters per output channel "
                               "(axis 0, %d scales) or per tensor (1 scale)", w->name,
                               (int)channels);
    for (uint32_t i = 0; i < q->n; i++)
        if (q->zero_points[i] != 0)
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                   "weight '%s': zero point %d of channel %u; INT8 weights are "
                                   "symmetric (zero point 0)", w->name, (int)q->zero_points[i],
                                   (unsigned)i);
    return TE_OK;
}

te_status te_prepare_weights_s8(te_node *node, te_prepare_ctx *ctx, const te_tensor *w,
                                const te_tensor *bias, float s_x, int32_t z_x, float s_y,
                                te_channel_requant *out)
{
    const int32_t channels = w->dims[0];
    const size_t per_channel = w->count / (size_t)channels;
    te_status st;
    if (w->storage != 1 || (bias && bias->storage != 1))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "%s '%s' is computed at run time; the INT8 kernel takes constant "
                               "weights and bias (quantized at build time)",
                               w->storage != 1 ? "weight" : "bias",
                               w->storage != 1 ? w->name : bias->name);
    if ((st = check_weight_quant(node, ctx, w, channels)) != TE_OK)
        return st;

    int32_t *mult = (int32_t *)te_prepare_alloc(ctx, (size_t)channels * sizeof *mult);
    int32_t *shift = (int32_t *)te_prepare_alloc(ctx, (size_t)channels * sizeof *shift);
    if (!mult || !shift)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for %d multipliers",
                               (int)channels);
    const int8_t *wv = (const int8_t *)w->data;
    const int32_t *bv = bias ? (const int32_t *)bias->data : NULL;
    const int64_t reach = te_s8_reach(z_x);
    for (int32_t c = 0; c < channels; c++) {
        const int8_t *row = wv + (size_t)c * per_channel;
        int64_t sum_abs = 0;
        for (size_t i = 0; i < per_channel; i++) {
            if (row[i] == -128)
                return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                       "weight '%s' holds -128 (channel %d, element %lu); INT8 "
                                       "weights are symmetric, in [-127, 127]", w->name, (int)c,
                                       (unsigned long)i);
            sum_abs += row[i] < 0 ? -row[i] : row[i];
        }
        /* sum_abs <= 127 * count < 2^40 and reach <= 255: no int64 overflow here. */
        const int64_t bias_abs = bv ? (bv[c] < 0 ? -(int64_t)bv[c] : bv[c]) : 0;
        if (bias_abs + reach * sum_abs > INT32_MAX)
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                   "output channel %d's accumulator can reach %lld, beyond int32; "
                                   "supported: |bias| + %lld * sum |weights| <= 2^31 - 1", (int)c,
                                   (long long)(bias_abs + reach * sum_abs), (long long)reach);
        const float s_w = w->quant->scales[w->quant->axis == 0 ? c : 0];
        const double real = ((double)s_x * (double)s_w) / (double)s_y;
        int sh;
        if ((st = te_prepare_multiplier(ctx, node, real, "output channel", &mult[c], &sh)) !=
            TE_OK)
            return st;
        shift[c] = sh;
    }
    out->mult = mult;
    out->shift = shift;
    return TE_OK;
}
