/* quant.c - load-time helpers shared by the INT8 kernels (see quant.h). */
#include "quant.h"

#include <math.h>

te_status te_expect_qparams(te_prepare_ctx *ctx, const te_node *node, const te_tensor *t,
                            const char *what, int rank, float *scale, int32_t *zero_point)
{
    te_status st = te_expect(ctx, node, t, what, TE_DTYPE_I8, rank);
    if (st != TE_OK)
        return st;
    if (t->quant == NULL || t->quant->n != 1 || t->quant->axis != -1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "%s '%s' needs per-tensor quantization parameters", what, t->name);
    const int32_t zp = t->quant->zero_points[0];
    if (zp < -128 || zp > 127)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "%s '%s': zero point %d outside [-128, 127]",
                               what, t->name, (int)zp);
    *scale = t->quant->scales[0];
    *zero_point = zp;
    return TE_OK;
}

te_status te_expect_same_qparams(te_prepare_ctx *ctx, const te_node *node, const te_tensor *a,
                                 const te_tensor *b)
{
    float sa = 0.0f, sb = 0.0f;  /* set on TE_OK; initialized for gcc's -Wmaybe-uninitialized */
    int32_t za = 0, zb = 0;
    te_status st;
    if ((st = te_expect_qparams(ctx, node, a, "input", -1, &sa, &za)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, b, "output", -1, &sb, &zb)) != TE_OK)
        return st;
    if (sa != sb || za != zb)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "output parameters (%g, %d) must equal the input's (%g, %d)",
                               (double)sb, (int)zb, (double)sa, (int)za);
    return TE_OK;
}

te_status te_prepare_multiplier(te_prepare_ctx *ctx, const te_node *node, double real,
                                const char *what, int32_t *m, int *shift)
{
    if (te_quantize_multiplier(real, m, shift) != TE_OK)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "%s multiplier %g is not in (0, 2^30): the scales do not fit", what,
                               real);
    return TE_OK;
}

te_status te_prepare_clamp(te_prepare_ctx *ctx, const te_node *node, float act_min, float act_max,
                           float scale, int32_t zero_point, int32_t *lo, int32_t *hi)
{
    if (isnan(act_min) || isnan(act_max))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g]: NaN bound",
                               (double)act_min, (double)act_max);
    *lo = te_quantize_value(act_min, scale, zero_point, -128, 127);
    *hi = te_quantize_value(act_max, scale, zero_point, -128, 127);
    return TE_OK;
}
