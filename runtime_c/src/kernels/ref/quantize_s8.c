/*
 * quantize_s8.c - the reference kernels at the borders of INT8 regions (docs/quantization.md):
 *   quantize   (te_quantize_s8__ref)   float32 -> int8: y = quantize_value(x, s_y, z_y), i.e.
 *              clamp(rint(x / s_y) + z_y, -128, 127) in float32, ties to even, NaN -> z_y,
 *              infinities to the bounds (te_quantize_value, fixed_point.c);
 *   dequantize (te_dequantize_s8__ref) int8 -> float32: y = s_x * (float)(x - z_x).
 * kernels.def keys each by its output dtype: int8 for quantize, float32 for dequantize.
 */
#include "quant.h"

typedef struct {
    float scale;
    int32_t zero_point;
} qparams;

/* One float32 and one int8 tensor of the same shape; q is the int8 one, whose parameters are kept. */
static te_status border_prepare(te_node *node, te_prepare_ctx *ctx, const te_tensor *f,
                                const char *f_what, const te_tensor *q, const char *q_what)
{
    qparams *p;
    float scale;
    int32_t zero_point;
    te_status s;
    if ((s = te_expect(ctx, node, f, f_what, TE_DTYPE_F32, -1)) != TE_OK ||
        (s = te_expect_qparams(ctx, node, q, q_what, -1, &scale, &zero_point)) != TE_OK ||
        (s = te_expect_dims(ctx, node, node->out[0], "output", node->in[0]->rank,
                            node->in[0]->dims)) != TE_OK)
        return s;
    p = (qparams *)te_prepare_alloc(ctx, sizeof *p);
    if (p == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its parameters");
    p->scale = scale;
    p->zero_point = zero_point;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

static te_status expect_unary(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 input and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    return TE_OK;
}

te_status te_quantize_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status s = expect_unary(node, ctx);
    return s != TE_OK ? s : border_prepare(node, ctx, node->in[0], "input", node->out[0], "output");
}

te_status te_dequantize_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status s = expect_unary(node, ctx);
    return s != TE_OK ? s : border_prepare(node, ctx, node->out[0], "output", node->in[0], "input");
}

void te_quantize_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)task;
    const qparams *p = (const qparams *)node->state;
    const float *x = (const float *)node->in[0]->data;
    int8_t *out = (int8_t *)node->out[0]->data;
    const size_t n = node->out[0]->count;
    size_t i;
    (void)scratch;
    for (i = 0; i < n; i++)
        out[i] = (int8_t)te_quantize_value(x[i], p->scale, p->zero_point, -128, 127);
}

void te_dequantize_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)task;
    const qparams *p = (const qparams *)node->state;
    const int8_t *x = (const int8_t *)node->in[0]->data;
    float *out = (float *)node->out[0]->data;
    const size_t n = node->out[0]->count;
    size_t i;
    (void)scratch;
    for (i = 0; i < n; i++)
        out[i] = p->scale * (float)(x[i] - p->zero_point);
}
