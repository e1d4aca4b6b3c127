/*
 * unary.c - float32 reference kernels of the elementwise activations: clip, leaky_relu, sigmoid,
 * tanh, hard_sigmoid, hard_swish. The output has the input's shape; eval is one pass over `count`
 * elements through the op's row function. NaN inputs give NaN outputs, as in numpy.
 */
#include <math.h>

#include "te_internal.h"

typedef void (*unary_row_fn)(float *out, const float *x, size_t n, const te_attr *attrs);

static te_status unary_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status s;
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 input and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    if ((s = te_expect(ctx, node, node->in[0], "input", TE_DTYPE_F32, -1)) != TE_OK ||
        (s = te_expect(ctx, node, node->out[0], "output", TE_DTYPE_F32, -1)) != TE_OK)
        return s;
    return te_expect_dims(ctx, node, node->out[0], "output", node->in[0]->rank, node->in[0]->dims);
}

static void unary_run(const te_node *node, unary_row_fn row)
{
    row((float *)node->out[0]->data, (const float *)node->in[0]->data, node->out[0]->count,
        node->attrs);
}

static void clip_row(float *out, const float *x, size_t n, const te_attr *attrs)
{
    const float lo = attrs[TE_CLIP_MIN].f, hi = attrs[TE_CLIP_MAX].f;
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = te_clampf(x[i], lo, hi);
}

static void leaky_relu_row(float *out, const float *x, size_t n, const te_attr *attrs)
{
    const float alpha = attrs[TE_LEAKY_RELU_ALPHA].f;
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
}

/* 1 / (1 + exp(-x)), evaluated so that exp never overflows: for x < 0 as e / (1 + e), e = exp(x). */
static void sigmoid_row(float *out, const float *x, size_t n, const te_attr *attrs)
{
    size_t i;
    (void)attrs;
    for (i = 0; i < n; i++) {
        if (x[i] >= 0.0f) {
            out[i] = 1.0f / (1.0f + expf(-x[i]));
        } else {
            const float e = expf(x[i]);
            out[i] = e / (1.0f + e);
        }
    }
}

static void tanh_row(float *out, const float *x, size_t n, const te_attr *attrs)
{
    size_t i;
    (void)attrs;
    for (i = 0; i < n; i++)
        out[i] = tanhf(x[i]);
}

/* max(0, min(1, v)) written with comparisons that keep a NaN v (fminf/fmaxf would drop it). */
static float unit_clamp(float v)
{
    v = v > 1.0f ? 1.0f : v;
    return v < 0.0f ? 0.0f : v;
}

static void hard_sigmoid_row(float *out, const float *x, size_t n, const te_attr *attrs)
{
    const float alpha = attrs[TE_HARD_SIGMOID_ALPHA].f, beta = attrs[TE_HARD_SIGMOID_BETA].f;
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = unit_clamp(alpha * x[i] + beta);
}

static void hard_swish_row(float *out, const float *x, size_t n, const te_attr *attrs)
{
    size_t i;
    (void)attrs;
    for (i = 0; i < n; i++)
        out[i] = x[i] * unit_clamp(x[i] * (1.0f / 6.0f) + 0.5f); /* hard_sigmoid(1/6, 1/2) */
}

te_status te_clip_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const float lo = node->attrs[TE_CLIP_MIN].f, hi = node->attrs[TE_CLIP_MAX].f;
    te_status s = unary_prepare(node, ctx);
    if (s != TE_OK)
        return s;
    if (isnan(lo) || isnan(hi))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "clip [%g, %g]: NaN bound; the bounds must "
                               "be numbers (infinite for none)", (double)lo, (double)hi);
    return TE_OK;
}

te_status te_leaky_relu_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return unary_prepare(node, ctx);
}

te_status te_sigmoid_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return unary_prepare(node, ctx);
}

te_status te_tanh_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return unary_prepare(node, ctx);
}

te_status te_hard_sigmoid_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return unary_prepare(node, ctx);
}

te_status te_hard_swish_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return unary_prepare(node, ctx);
}

void te_clip_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    unary_run(node, clip_row);
}

void te_leaky_relu_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    unary_run(node, leaky_relu_row);
}

void te_sigmoid_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    unary_run(node, sigmoid_row);
}

void te_tanh_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    unary_run(node, tanh_row);
}

void te_hard_sigmoid_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    unary_run(node, hard_sigmoid_row);
}

void te_hard_swish_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    unary_run(node, hard_swish_row);
}
