/*
 * binary_s8.c - int8 reference kernels of add and mul with numpy broadcasting and the fused clamp
 * (te_add_s8__ref, te_mul_s8__ref), as docs/quantization.md states them:
 *
 *   add: t = 2 * max(s_a, s_b), m_a = s_a / t, m_b = s_b / t, m_y = t / (2^20 * s_y) (double);
 *        a' = requantize((a - z_a) * 2^20, M_a, shift_a), b' likewise;
 *        y = clampq(requantize(a' + b', M_y, shift_y) + z_y)
 *   mul: y = clampq(requantize((a - z_a) * (b - z_b), M, shift) + z_y), m = s_a * s_b / s_y
 *
 * The inputs are brought to a common scale with 20 bits of headroom (|a - z_a| * 2^20 < 2^28 and
 * m_a, m_b <= 1/2, so a' + b' cannot overflow). Prepare builds the broadcast loop as the float
 * kernels do (broadcast.h) and precomputes the multipliers and the clamp bounds; eval walks the rows.
 */
#include "broadcast.h"
#include "quant.h"
#include "requant_s8.h"

typedef struct {
    te_loop loop;
    int32_t z_a, z_b, z_y;
    int32_t m_a, m_b, m_y;  /* add: three multipliers; mul: m_y only */
    int shift_a, shift_b, shift_y;
    int32_t lo, hi;         /* the fused clamp in the output's integers */
} binary_s8_state;

#define ADD_LEFT_SHIFT 20

typedef void (*binary_s8_row_fn)(int8_t *out, const int8_t *a, ptrdiff_t sa, const int8_t *b,
                                 ptrdiff_t sb, size_t n, const binary_s8_state *st);

/* Check shapes and parameters and build the loop; the op's prepare adds its multipliers. */
static te_status binary_s8_prepare(te_node *node, te_prepare_ctx *ctx, int clamp_attr,
                                   float *s_a, float *s_b, float *s_y)
{
    binary_s8_state *st;
    int32_t dims[TE_MAX_RANK];
    int rank;
    te_loop loop;
    te_status s;
    if (node->n_in != 2 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 2 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    st = (binary_s8_state *)te_prepare_alloc(ctx, sizeof *st);
    if (st == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for the broadcast plan");
    if ((s = te_expect_qparams(ctx, node, node->in[0], "input 0", -1, s_a, &st->z_a)) != TE_OK ||
        (s = te_expect_qparams(ctx, node, node->in[1], "input 1", -1, s_b, &st->z_b)) != TE_OK ||
        (s = te_expect_qparams(ctx, node, node->out[0], "output", -1, s_y, &st->z_y)) != TE_OK)
        return s;
    if (te_broadcast_loop(node->in[0], node->in[1], &rank, dims, &loop) != 0)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "inputs '%s' and '%s' do not broadcast (numpy rules: trailing dims "
                               "equal or 1)", node->in[0]->name, node->in[1]->name);
    if ((s = te_expect_dims(ctx, node, node->out[0], "output", rank, dims)) != TE_OK)
        return s;
    te_loop_collapse(&loop);
    st->loop = loop;
    if ((s = te_prepare_clamp(ctx, node, node->attrs[clamp_attr].f, node->attrs[clamp_attr + 1].f,
                              *s_y, st->z_y, &st->lo, &st->hi)) != TE_OK)
        return s;
    node->state = st;
    node->macs = 0;
    return TE_OK;
}

static void binary_s8_run(const te_node *node, binary_s8_row_fn row)
{
    const binary_s8_state *st = (const binary_s8_state *)node->state;
    const te_loop *loop = &st->loop;
    const int8_t *a = (const int8_t *)node->in[0]->data;
    const int8_t *b = (const int8_t *)node->in[1]->data;
    int8_t *out = (int8_t *)node->out[0]->data;
    const int last = loop->rank - 1;
    const size_t rows = te_loop_rows(loop), n = loop->dims[last];
    size_t idx[TE_MAX_RANK] = {0}, r;
    ptrdiff_t off[TE_LOOP_MAX_OPERANDS] = {0, 0, 0};
    for (r = 0; r < rows; r++) {
        row(out + off[0], a + off[1], loop->strides[1][last], b + off[2], loop->strides[2][last], n,
            st);
        te_loop_next(loop, idx, off);
    }
}

static void add_s8_row(int8_t *out, const int8_t *a, ptrdiff_t sa, const int8_t *b, ptrdiff_t sb,
                       size_t n, const binary_s8_state *st)
{
    size_t i;
    for (i = 0; i < n; i++) {
        const int32_t a2 = te_requantize((a[(ptrdiff_t)i * sa] - st->z_a) * (1 << ADD_LEFT_SHIFT),
                                         st->m_a, st->shift_a);
        const int32_t b2 = te_requantize((b[(ptrdiff_t)i * sb] - st->z_b) * (1 << ADD_LEFT_SHIFT),
                                         st->m_b, st->shift_b);
        out[i] = te_requant_s8(a2 + b2, st->m_y, st->shift_y, st->z_y, st->lo, st->hi);
    }
}

static void mul_s8_row(int8_t *out, const int8_t *a, ptrdiff_t sa, const int8_t *b, ptrdiff_t sb,
                       size_t n, const binary_s8_state *st)
{
    size_t i;
    for (i = 0; i < n; i++) {
        const int32_t prod = (a[(ptrdiff_t)i * sa] - st->z_a) * (b[(ptrdiff_t)i * sb] - st->z_b);
        out[i] = te_requant_s8(prod, st->m_y, st->shift_y, st->z_y, st->lo, st->hi);
    }
}

te_status te_add_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    float s_a, s_b, s_y;
    binary_s8_state *st;
    double t;
    te_status s = binary_s8_prepare(node, ctx, TE_ADD_ACT_MIN, &s_a, &s_b, &s_y);
    if (s != TE_OK)
        return s;
    st = (binary_s8_state *)node->state;
    t = 2.0 * ((double)s_a > (double)s_b ? (double)s_a : (double)s_b);
    if ((s = te_prepare_multiplier(ctx, node, (double)s_a / t, "input 0", &st->m_a,
                                   &st->shift_a)) != TE_OK ||
        (s = te_prepare_multiplier(ctx, node, (double)s_b / t, "input 1", &st->m_b,
                                   &st->shift_b)) != TE_OK ||
        (s = te_prepare_multiplier(ctx, node, t / ((double)(1 << ADD_LEFT_SHIFT) * (double)s_y),
                                   "output", &st->m_y, &st->shift_y)) != TE_OK)
        return s;
    return TE_OK;
}

te_status te_mul_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    float s_a, s_b, s_y;
    binary_s8_state *st;
    te_status s = binary_s8_prepare(node, ctx, TE_MUL_ACT_MIN, &s_a, &s_b, &s_y);
    if (s != TE_OK)
        return s;
    st = (binary_s8_state *)node->state;
    return te_prepare_multiplier(ctx, node, ((double)s_a * (double)s_b) / (double)s_y, "output",
                                 &st->m_y, &st->shift_y);
}

void te_add_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    binary_s8_run(node, add_s8_row);
}

void te_mul_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    binary_s8_run(node, mul_s8_row);
}
