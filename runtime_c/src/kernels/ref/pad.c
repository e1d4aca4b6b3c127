/*
 * pad.c - float32 reference pad with numpy.pad's modes 'constant', 'reflect' and 'edge'. pads holds
 * the begins then the ends (ONNX order). A negative pad crops; as in onnxruntime and the numpy
 * reference, the crop comes first and the positive pads then extend the cropped range (which matters
 * for reflect and edge). Prepare builds, for every axis, a table from output index to input index
 * (-1: the constant value), so eval is a table walk: one lookup per axis and row, then one per element
 * along the last axis.
 */
#include <stdint.h>
#include <string.h>

#include "te_internal.h"

typedef struct {
    int rank;                         /* >= 1 (a scalar is padded as a vector of one) */
    size_t rows;                      /* output rows: product of all output dims but the last */
    int32_t out_dims[TE_MAX_RANK];
    ptrdiff_t in_strides[TE_MAX_RANK];
    const int32_t *map[TE_MAX_RANK];  /* map[d][o]: input index along d of output index o, or -1 */
    float value;
} pad_state;

/* One axis: the input range [lo, lo + len) left after cropping, and the positive begin pad. */
typedef struct {
    int64_t lo, len, begin;
} pad_axis;

static pad_axis crop_axis(int64_t dim, int64_t begin, int64_t end)
{
    pad_axis a;
    const int64_t hi = dim + (end < 0 ? end : 0);
    a.lo = begin < 0 ? -begin : 0;
    a.len = hi > a.lo ? hi - a.lo : 0;
    a.begin = begin > 0 ? begin : 0;
    return a;
}

/* Input index read by output index o along axis a, or -1 for the constant. Reflect is numpy's:
 * the kept range mirrored without repeating its edge, again and again (period 2 * (len - 1)).
 * Prepare has refused reflect and edge on an axis cropped to nothing. */
static int32_t source_index(int64_t o, pad_axis a, int mode)
{
    int64_t j = o - a.begin, period;
    if (j >= 0 && j < a.len)
        return (int32_t)(a.lo + j);
    if (mode == TE_PADMODE_CONSTANT)
        return -1;
    if (mode == TE_PADMODE_EDGE)
        return (int32_t)(a.lo + (j < 0 ? 0 : a.len - 1));
    if (a.len == 1)
        return (int32_t)a.lo;
    period = 2 * (a.len - 1);
    j %= period;
    j += j < 0 ? period : 0;
    return (int32_t)(a.lo + (j < a.len ? j : period - j));
}

/* Fill st's shape, strides and per-axis tables (maps holds sum(dims) + 1 entries). */
static void build_tables(pad_state *st, int32_t *maps, const te_tensor *x, const int32_t *pads,
                         const int32_t *dims, int mode)
{
    const int rank = x->rank;
    int i;
    int32_t o;
    st->rank = rank > 0 ? rank : 1;
    st->rows = 1;
    if (rank == 0) {  /* nothing to pad: copy the one element */
        st->out_dims[0] = 1;
        st->in_strides[0] = 1;
        maps[0] = 0;
        st->map[0] = maps;
    }
    for (i = rank - 1; i >= 0; i--) {
        const pad_axis a = crop_axis(x->dims[i], pads[i], pads[i + rank]);
        st->out_dims[i] = dims[i];
        st->in_strides[i] = i == rank - 1 ? 1 : st->in_strides[i + 1] * x->dims[i + 1];
        for (o = 0; o < dims[i]; o++)
            maps[o] = source_index(o, a, mode);
        st->map[i] = maps;
        maps += dims[i];
        if (i < rank - 1)
            st->rows *= (size_t)dims[i];
    }
}

te_status te_pad_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_attr *pads = &node->attrs[TE_PAD_PADS];
    const int mode = node->attrs[TE_PAD_MODE].i;
    const te_tensor *x = node->in[0];
    int32_t dims[TE_MAX_RANK];
    size_t map_total = 0;
    int32_t *maps;
    pad_state *st;
    int i, rank;
    te_status s;
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 input and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    if ((s = te_expect(ctx, node, x, "input", TE_DTYPE_F32, -1)) != TE_OK ||
        (s = te_expect(ctx, node, node->out[0], "output", TE_DTYPE_F32, x->rank)) != TE_OK)
        return s;
    rank = x->rank;
    if (mode < TE_PADMODE_CONSTANT || mode > TE_PADMODE_EDGE)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "mode %d; supported: 0 constant, 1 reflect, "
                               "2 edge", mode);
    if (pads->n != 2u * (uint32_t)rank)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "%u pads for an input of rank %d; pad needs "
                               "2 * rank (begins, then ends)", (unsigned)pads->n, rank);
    for (i = 0; i < rank; i++) {
        const int64_t begin = pads->ints[i], end = pads->ints[i + rank];
        const int64_t d = (int64_t)x->dims[i] + begin + end;
        if (d < 0 || d > INT32_MAX)
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "dim %d: %ld padded by %ld and %ld gives "
                                   "%ld", i, (long)x->dims[i], (long)begin, (long)end, (long)d);
        /* The op table's rule (tinyedge/ir/ops.py); eval itself would reflect any distance. */
        if (mode == TE_PADMODE_REFLECT && (begin >= x->dims[i] || end >= x->dims[i]))
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "dim %d: reflect pads %ld and %ld must "
                                   "be smaller than the dim %ld", i, (long)begin, (long)end,
                                   (long)x->dims[i]);
        if (mode != TE_PADMODE_CONSTANT && d > 0 && crop_axis(x->dims[i], begin, end).len == 0)
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "dim %d: pads %ld and %ld crop it to "
                                   "nothing, so mode %d has no edge to copy", i, (long)begin,
                                   (long)end, mode);
        dims[i] = (int32_t)d;
        map_total += (size_t)d;
    }
    if ((s = te_expect_dims(ctx, node, node->out[0], "output", rank, dims)) != TE_OK)
        return s;
    /* The output's dims passed the loader's size checks, so this only guards 32-bit size_t. */
    if (map_total >= SIZE_MAX / sizeof *maps)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "pad tables of %lu entries are too large",
                               (unsigned long)map_total);
    st = (pad_state *)te_prepare_alloc(ctx, sizeof *st);
    maps = (int32_t *)te_prepare_alloc(ctx, (map_total + 1) * sizeof *maps);
    if (st == NULL || maps == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for the pad tables");
    st->value = node->attrs[TE_PAD_VALUE].f;
    build_tables(st, maps, x, pads->ints, dims, mode);
    node->state = st;
    node->macs = 0;
    return TE_OK;
}

void te_pad_f32_eval(const te_node *node, void *scratch)
{
    const pad_state *st = (const pad_state *)node->state;
    const float *x = (const float *)node->in[0]->data;
    float *out = (float *)node->out[0]->data;
    const int last = st->rank - 1;
    const int32_t *last_map = st->map[last];
    const size_t n = (size_t)st->out_dims[last];
    int32_t idx[TE_MAX_RANK] = {0};
    size_t r, i;
    int d;
    (void)scratch;
    for (r = 0; r < st->rows; r++, out += n) {
        /* Where the row starts in the input, unless some outer index falls in a constant pad. */
        ptrdiff_t base = 0;
        int inside = 1;
        for (d = 0; d < last; d++) {
            const int32_t src = st->map[d][idx[d]];
            inside &= src >= 0;
            base += (ptrdiff_t)src * st->in_strides[d];
        }
        for (i = 0; i < n; i++) {
            const int32_t src = last_map[i];
            out[i] = inside && src >= 0 ? x[base + src] : st->value;
        }
        for (d = last - 1; d >= 0; d--) {  /* next row: odometer over the outer dims */
            if (++idx[d] < st->out_dims[d])
                break;
            idx[d] = 0;
        }
    }
}
