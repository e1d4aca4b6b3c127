/*
 * binary.c - float32 reference kernels of the broadcasting binary ops: add, sub, mul, div (each with
 * the fused clamp [act_min, act_max]) and prelu (x where x >= 0, else slope * x).
 *
 * Prepare broadcasts the two input shapes as numpy does, checks the output shape against the result
 * and keeps the collapsed loop (broadcast.h). Eval walks the loop's rows and calls the op's row
 * function; along a row each input steps by 1 (a full operand) or 0 (a broadcast one).
 */
#include <math.h>

#include "broadcast.h"

typedef struct {
    te_loop loop;
    float act_min, act_max;
} binary_state;

typedef void (*binary_row_fn)(float *out, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb,
                              size_t n, float lo, float hi);

/* Check inputs and output, build the loop; clamp_attr is the index of act_min (act_max follows) or
 * -1 for an op without a fused clamp. */
static te_status binary_prepare(te_node *node, te_prepare_ctx *ctx, int clamp_attr)
{
    binary_state *st;
    int32_t dims[TE_MAX_RANK];
    int rank;
    te_loop loop;
    te_status s;
    if (node->n_in != 2 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 2 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    if ((s = te_expect(ctx, node, node->in[0], "input 0", TE_DTYPE_F32, -1)) != TE_OK ||
        (s = te_expect(ctx, node, node->in[1], "input 1", TE_DTYPE_F32, -1)) != TE_OK ||
        (s = te_expect(ctx, node, node->out[0], "output", TE_DTYPE_F32, -1)) != TE_OK)
        return s;
    if (te_broadcast_loop(node->in[0], node->in[1], &rank, dims, &loop) != 0)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "inputs '%s' and '%s' do not broadcast (numpy rules: trailing dims "
                               "equal or 1)", node->in[0]->name, node->in[1]->name);
    if ((s = te_expect_dims(ctx, node, node->out[0], "output", rank, dims)) != TE_OK)
        return s;
    te_loop_collapse(&loop);
    st = (binary_state *)te_prepare_alloc(ctx, sizeof *st);
    if (st == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for the broadcast plan");
    st->loop = loop;
    st->act_min = -INFINITY;
    st->act_max = INFINITY;
    if (clamp_attr >= 0) {
        st->act_min = node->attrs[clamp_attr].f;
        st->act_max = node->attrs[clamp_attr + 1].f;
        if (isnan(st->act_min) || isnan(st->act_max))
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g]: NaN bound",
                                   (double)st->act_min, (double)st->act_max);
    }
    node->state = st;
    node->macs = 0;
    return TE_OK;
}

static void binary_run(const te_node *node, binary_row_fn row)
{
    const binary_state *st = (const binary_state *)node->state;
    const te_loop *loop = &st->loop;
    const float *a = (const float *)node->in[0]->data;
    const float *b = (const float *)node->in[1]->data;
    float *out = (float *)node->out[0]->data;
    const int last = loop->rank - 1;
    const size_t rows = te_loop_rows(loop), n = loop->dims[last];
    size_t idx[TE_MAX_RANK] = {0}, r;
    ptrdiff_t off[TE_LOOP_MAX_OPERANDS] = {0, 0, 0};
    for (r = 0; r < rows; r++) {
        row(out + off[0], a + off[1], loop->strides[1][last], b + off[2], loop->strides[2][last], n,
            st->act_min, st->act_max);
        te_loop_next(loop, idx, off);
    }
}

static void add_row(float *out, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb, size_t n,
                    float lo, float hi)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = te_clampf(a[(ptrdiff_t)i * sa] + b[(ptrdiff_t)i * sb], lo, hi);
}

static void sub_row(float *out, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb, size_t n,
                    float lo, float hi)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = te_clampf(a[(ptrdiff_t)i * sa] - b[(ptrdiff_t)i * sb], lo, hi);
}

static void mul_row(float *out, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb, size_t n,
                    float lo, float hi)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = te_clampf(a[(ptrdiff_t)i * sa] * b[(ptrdiff_t)i * sb], lo, hi);
}

static void div_row(float *out, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb, size_t n,
                    float lo, float hi)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = te_clampf(a[(ptrdiff_t)i * sa] / b[(ptrdiff_t)i * sb], lo, hi);
}

/* a is x, b the slope; prelu has no clamp (lo, hi are -inf, inf and unused). */
static void prelu_row(float *out, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb, size_t n,
                      float lo, float hi)
{
    size_t i;
    (void)lo;
    (void)hi;
    for (i = 0; i < n; i++) {
        float x = a[(ptrdiff_t)i * sa];
        out[i] = x >= 0.0f ? x : b[(ptrdiff_t)i * sb] * x;
    }
}

te_status te_add_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return binary_prepare(node, ctx, TE_ADD_ACT_MIN);
}

te_status te_sub_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return binary_prepare(node, ctx, TE_SUB_ACT_MIN);
}

te_status te_mul_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return binary_prepare(node, ctx, TE_MUL_ACT_MIN);
}

te_status te_div_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return binary_prepare(node, ctx, TE_DIV_ACT_MIN);
}

te_status te_prelu_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status st = binary_prepare(node, ctx, -1);
    if (st != TE_OK)
        return st;
    /* ONNX broadcasts the slope to x only: the output keeps x's shape. */
    return te_expect_dims(ctx, node, node->out[0], "output (x's shape)", node->in[0]->rank,
                          node->in[0]->dims);
}

void te_add_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    binary_run(node, add_row);
}

void te_sub_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    binary_run(node, sub_row);
}

void te_mul_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    binary_run(node, mul_row);
}

void te_div_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    binary_run(node, div_row);
}

void te_prelu_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    binary_run(node, prelu_row);
}
