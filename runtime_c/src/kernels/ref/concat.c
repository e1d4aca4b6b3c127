/*
 * concat.c - reference concat of float32 (te_concat_f32__ref) and int8 (te_concat_s8__ref): inputs
 * joined along one axis. Seen as 2-D, every input is `outer` rows of chunk_i = dims[axis] * inner
 * elements (outer: product of the dims before the axis, inner: after it), and an output row is the
 * inputs' rows back to back. In int8 an input with the output's (scale, zero point) is copied and
 * any other is rescaled to the output's parameters (docs/quantization.md):
 *   y = sat8(requantize(x - z_x, M, shift) + z_y),  M * 2^(shift - 31) ~= s_x / s_y.
 */
#include <stdio.h>
#include <string.h>

#include "quant.h"
#include "requant_s8.h"

typedef struct {
    size_t chunk;      /* elements of one row */
    int rescale;       /* int8: 0 copies, 1 requantizes with (m, shift, zero_point) */
    int32_t m;
    int shift;
    int32_t zero_point;
} concat_input;

typedef struct {
    size_t outer;         /* rows */
    int32_t zero_point;   /* int8: the output's */
    concat_input in[];    /* one per input */
} concat_state;

/* Check the shapes (inputs and output of `dtype`) and plan the rows; the int8 prepare adds the
 * rescaling. */
static te_status concat_prepare(te_node *node, te_prepare_ctx *ctx, te_dtype dtype)
{
    const te_tensor *first = node->in[0];
    const int32_t axis_attr = node->attrs[TE_CONCAT_AXIS].i;
    int32_t dims[TE_MAX_RANK];
    concat_state *st;
    size_t inner = 1;
    int64_t axis_sum = 0;
    int i, k, axis, rank;
    te_status s;
    if (node->n_in < 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 or more inputs and 1 output, got %d "
                               "and %d", node->n_in, node->n_out);
    if ((s = te_expect(ctx, node, first, "input 0", dtype, -1)) != TE_OK)
        return s;
    rank = first->rank;
    if (rank < 1 || axis_attr < -rank || axis_attr >= rank)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "axis %ld for inputs of rank %d; the axis "
                               "must lie in -rank..rank-1 (rank >= 1)", (long)axis_attr, rank);
    axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
    for (k = 0; k < node->n_in; k++) {
        const te_tensor *t = node->in[k];
        char what[32];
        snprintf(what, sizeof what, "input %d", k);
        if ((s = te_expect(ctx, node, t, what, dtype, rank)) != TE_OK)
            return s;
        for (i = 0; i < rank; i++)
            if (i != axis && t->dims[i] != first->dims[i])
                return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "input %d '%s' has dim %d = %ld, "
                                       "input 0 has %ld; only the axis %d may differ", k, t->name, i,
                                       (long)t->dims[i], (long)first->dims[i], axis);
        axis_sum += t->dims[axis];
    }
    if (axis_sum > INT32_MAX)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "output dim %d would be %ld", axis,
                               (long)axis_sum);
    for (i = 0; i < rank; i++)
        dims[i] = i == axis ? (int32_t)axis_sum : first->dims[i];
    if ((s = te_expect(ctx, node, node->out[0], "output", dtype, rank)) != TE_OK ||
        (s = te_expect_dims(ctx, node, node->out[0], "output", rank, dims)) != TE_OK)
        return s;
    st = (concat_state *)te_prepare_alloc(ctx, sizeof *st + (size_t)node->n_in * sizeof st->in[0]);
    if (st == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for the concat plan");
    st->outer = 1;
    for (i = 0; i < axis; i++)
        st->outer *= (size_t)dims[i];
    for (i = axis + 1; i < rank; i++)
        inner *= (size_t)dims[i];
    for (k = 0; k < node->n_in; k++)
        st->in[k].chunk = (size_t)node->in[k]->dims[axis] * inner;
    node->state = st;
    node->macs = 0;
    return TE_OK;
}

te_status te_concat_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return concat_prepare(node, ctx, TE_DTYPE_F32);
}

te_status te_concat_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    float s_y, s_x;
    int32_t z_y, z_x;
    concat_state *st;
    te_status s = concat_prepare(node, ctx, TE_DTYPE_I8);
    int k;
    if (s != TE_OK ||
        (s = te_expect_qparams(ctx, node, node->out[0], "output", -1, &s_y, &z_y)) != TE_OK)
        return s;
    st = (concat_state *)node->state;
    st->zero_point = z_y;
    for (k = 0; k < node->n_in; k++) {
        concat_input *in = &st->in[k];
        char what[32];
        snprintf(what, sizeof what, "input %d", k);
        if ((s = te_expect_qparams(ctx, node, node->in[k], what, -1, &s_x, &z_x)) != TE_OK)
            return s;
        in->rescale = s_x != s_y || z_x != z_y;
        in->zero_point = z_x;
        if (in->rescale &&
            (s = te_prepare_multiplier(ctx, node, (double)s_x / (double)s_y, what, &in->m,
                                       &in->shift)) != TE_OK)
            return s;
    }
    return TE_OK;
}

void te_concat_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)task;
    const concat_state *st = (const concat_state *)node->state;
    float *out = (float *)node->out[0]->data;
    size_t r;
    int k;
    (void)scratch;
    for (r = 0; r < st->outer; r++) {
        for (k = 0; k < node->n_in; k++) {
            const size_t chunk = st->in[k].chunk;
            memcpy(out, (const float *)node->in[k]->data + r * chunk, chunk * sizeof *out);
            out += chunk;
        }
    }
}

/* One row of an input whose parameters differ from the output's. */
static void concat_rescale_row(int8_t *out, const int8_t *x, size_t n, const concat_input *in,
                               int32_t z_y)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = te_requant_s8(x[i] - in->zero_point, in->m, in->shift, z_y, -128, 127);
}

void te_concat_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)task;
    const concat_state *st = (const concat_state *)node->state;
    int8_t *out = (int8_t *)node->out[0]->data;
    size_t r;
    int k;
    (void)scratch;
    for (r = 0; r < st->outer; r++) {
        for (k = 0; k < node->n_in; k++) {
            const concat_input *in = &st->in[k];
            const int8_t *x = (const int8_t *)node->in[k]->data + r * in->chunk;
            if (in->rescale)
                concat_rescale_row(out, x, in->chunk, in, st->zero_point);
            else
                memcpy(out, x, in->chunk);
            out += in->chunk;
        }
    }
}
