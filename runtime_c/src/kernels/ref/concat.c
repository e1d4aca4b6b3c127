/*
 * concat.c - float32 reference concat: inputs joined along one axis. Seen as 2-D, every input is
 * `outer` rows of chunk_i = dims[axis] * inner elements (outer: product of the dims before the axis,
 * inner: after it), and an output row is the inputs' rows back to back.
 */
#include <stdio.h>
#include <string.h>

#include "te_internal.h"

typedef struct {
    size_t outer;    /* rows */
    size_t chunk[];  /* per input: elements of one row */
} concat_state;

te_status te_concat_f32_prepare(te_node *node, te_prepare_ctx *ctx)
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
    if ((s = te_expect(ctx, node, first, "input 0", TE_DTYPE_F32, -1)) != TE_OK)
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
        if ((s = te_expect(ctx, node, t, what, TE_DTYPE_F32, rank)) != TE_OK)
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
    if ((s = te_expect(ctx, node, node->out[0], "output", TE_DTYPE_F32, rank)) != TE_OK ||
        (s = te_expect_dims(ctx, node, node->out[0], "output", rank, dims)) != TE_OK)
        return s;
    st = (concat_state *)te_prepare_alloc(ctx, sizeof *st + (size_t)node->n_in * sizeof st->chunk[0]);
    if (st == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for the concat plan");
    st->outer = 1;
    for (i = 0; i < axis; i++)
        st->outer *= (size_t)dims[i];
    for (i = axis + 1; i < rank; i++)
        inner *= (size_t)dims[i];
    for (k = 0; k < node->n_in; k++)
        st->chunk[k] = (size_t)node->in[k]->dims[axis] * inner;
    node->state = st;
    node->macs = 0;
    return TE_OK;
}

void te_concat_f32_eval(const te_node *node, void *scratch)
{
    const concat_state *st = (const concat_state *)node->state;
    float *out = (float *)node->out[0]->data;
    size_t r;
    int k;
    (void)scratch;
    for (r = 0; r < st->outer; r++) {
        for (k = 0; k < node->n_in; k++) {
            const float *x = (const float *)node->in[k]->data + r * st->chunk[k];
            memcpy(out, x, st->chunk[k] * sizeof *out);
            out += st->chunk[k];
        }
    }
}
