/*
 * softmax_s8.c - INT8 reference softmax along one axis (te_softmax_s8__ref), lines as the float
 * kernel (axis_plan.h).
 *
 * Input 1 is exp_table, a constant int32[256] computed at build time: exp_table[d] =
 * rint(exp(-s_x * d) * 2^16). docs/quantization.md, per line:
 *   d = max(x) - x (0..255),  e = exp_table[d],  S = sum e (64 bits),
 *   y = sat8(-128 + (2 * 256 * e + S) / (2 * S))   (unsigned, truncating: round half up)
 * The output's parameters are fixed at (1/256, -128), so y + 128 counts 256ths of probability.
 * Prepare checks the table's entries lie in [0, 2^16] with exp_table[0] > 0, so that S >= 1 (the
 * line's max has d = 0) and no sum overflows.
 */
#include "axis_plan.h"
#include "quant.h"

#define TE_EXP_TABLE_ONE 65536  /* exp(0) in Q16 */

te_status te_softmax_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in != 2 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 2 inputs (x, exp_table) and 1 output, got %d and %d; the "
                               "INT8 softmax needs the exp_table the quantizer computes",
                               node->n_in, node->n_out);
    te_softmax_plan *p = (te_softmax_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_softmax_check(node, ctx, TE_DTYPE_I8, p);
    if (st != TE_OK)
        return st;
    float s_x, s_y;
    int32_t z_x, z_y;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", -1, &s_x, &z_x)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", -1, &s_y, &z_y)) != TE_OK)
        return st;
    if (s_y != 1.0f / 256 || z_y != -128)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "output parameters (%g, %d); the INT8 softmax writes (1/256, -128)",
                               (double)s_y, (int)z_y);

    const te_tensor *table = node->in[1];
    const int32_t table_dims[1] = {256};
    if ((st = te_expect(ctx, node, table, "exp_table", TE_DTYPE_I32, 1)) != TE_OK ||
        (st = te_expect_dims(ctx, node, table, "exp_table", 1, table_dims)) != TE_OK)
        return st;
    if (table->storage != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "exp_table '%s' is computed at run time; it must be a constant",
                               table->name);
    const int32_t *e = (const int32_t *)table->data;
    for (int d = 0; d < 256; d++)
        if (e[d] < 0 || e[d] > TE_EXP_TABLE_ONE || (d == 0 && e[d] == 0))
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                   "exp_table[%d] = %d; entries are exp(-scale * d) in Q16: "
                                   "[0, 65536], and entry 0 > 0", d, (int)e[d]);
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

void te_softmax_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_softmax_plan *p = (const te_softmax_plan *)node->state;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    const int32_t *table = (const int32_t *)node->in[1]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    const size_t n = p->n, inner = p->inner;

    for (size_t o = 0; o < p->outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            const int8_t *xl = x + o * n * inner + i;  /* the line, elements `inner` apart */
            int8_t *yl = y + o * n * inner + i;
            int32_t max = xl[0];
            for (size_t j = 1; j < n; j++)
                max = xl[j * inner] > max ? xl[j * inner] : max;
            uint64_t sum = 0;
            for (size_t j = 0; j < n; j++)
                sum += (uint64_t)table[max - xl[j * inner]];
            for (size_t j = 0; j < n; j++) {
                const uint64_t e = (uint64_t)table[max - xl[j * inner]];
                const uint64_t q = (2 * 256 * e + sum) / (2 * sum);  /* 0..256 */
                yl[j * inner] = (int8_t)(q > 255 ? 127 : (int32_t)q - 128);
            }
        }
    }
}
