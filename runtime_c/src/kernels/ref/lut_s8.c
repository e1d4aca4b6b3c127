/*
 * lut_s8.c - int8 reference lookup table (te_lut_s8__ref): y = table[x + 128], table an int8[256]
 * input. The quantizer computes the table at build time from the op it replaces (sigmoid, tanh,
 * hard_sigmoid, hard_swish, leaky_relu) and both tensors' parameters (docs/quantization.md), so the
 * kernel needs no arithmetic; prepare only checks that x and y are quantized int8 of one shape.
 */
#include "quant.h"

te_status te_lut_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    static const int32_t table_dims[1] = {256};
    float scale;
    int32_t zero_point;
    te_status s;
    if (node->n_in != 2 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 2 inputs (x, table) and 1 output, got "
                               "%d and %d", node->n_in, node->n_out);
    if ((s = te_expect_qparams(ctx, node, node->in[0], "input", -1, &scale, &zero_point)) != TE_OK ||
        (s = te_expect_qparams(ctx, node, node->out[0], "output", -1, &scale, &zero_point)) != TE_OK ||
        (s = te_expect(ctx, node, node->in[1], "table", TE_DTYPE_I8, 1)) != TE_OK ||
        (s = te_expect_dims(ctx, node, node->in[1], "table", 1, table_dims)) != TE_OK)
        return s;
    node->macs = 0;
    return te_expect_dims(ctx, node, node->out[0], "output", node->in[0]->rank, node->in[0]->dims);
}

void te_lut_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)task;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    const int8_t *table = (const int8_t *)node->in[1]->data;
    int8_t *out = (int8_t *)node->out[0]->data;
    const size_t n = node->out[0]->count;
    size_t i;
    (void)scratch;
    for (i = 0; i < n; i++)
        out[i] = table[x[i] + 128];
}
