/*
 * mean_s8.c - INT8 reference mean over a set of axes (te_mean_s8__ref), shapes and axes as the
 * float kernel (axis_plan.h).
 *
 * docs/quantization.md: sum = sum (x - z_x) over the n reduced elements (int32), then
 *   y = sat8(requantize(sum, M, shift) + z_y),  m = (double)s_x / ((double)s_y * (double)n)
 * Prepare refuses an n whose sum could overflow int32 (n * reach(z_x) > 2^31 - 1).
 */
#include "axis_plan.h"
#include "quant.h"
#include "requant_s8.h"

typedef struct {
    te_mean_plan mp;
    int32_t x_zp, y_zp, mult;
    int shift;
} te_mean_s8_plan;

te_status te_mean_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_mean_s8_plan *p = (te_mean_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_mean_check(node, ctx, TE_DTYPE_I8, &p->mp);
    if (st != TE_OK)
        return st;
    float s_x, s_y;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", -1, &s_x, &p->x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", -1, &s_y, &p->y_zp)) != TE_OK)
        return st;
    const size_t n = p->mp.red_count;
    if (n > (size_t)(INT32_MAX / te_s8_reach(p->x_zp)))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "%lu elements per output could overflow the int32 sum; supported: "
                               "at most %ld", (unsigned long)n,
                               (long)(INT32_MAX / te_s8_reach(p->x_zp)));
    const double real = (double)s_x / ((double)s_y * (double)n);
    if ((st = te_prepare_multiplier(ctx, node, real, "output", &p->mult, &p->shift)) != TE_OK)
        return st;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

void te_mean_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_mean_s8_plan *p = (const te_mean_s8_plan *)node->state;
    const te_mean_plan *mp = &p->mp;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    const size_t outputs = node->out[0]->count;
    const int32_t x_zp = p->x_zp;
    int32_t ki[TE_MAX_RANK] = {0};
    size_t base = 0;

    for (size_t o = 0; o < outputs; o++) {
        int32_t ri[TE_MAX_RANK] = {0};
        size_t off = 0;
        int32_t sum = 0;
        for (size_t r = 0; r < mp->red_count; r++) {
            sum += (int32_t)x[base + off] - x_zp;
            te_odometer_next(mp->n_red, mp->red_dims, mp->red_strides, ri, &off);
        }
        y[o] = te_requant_s8(sum, p->mult, p->shift, p->y_zp, -128, 127);
        te_odometer_next(mp->n_keep, mp->keep_dims, mp->keep_strides, ki, &base);
    }
}
