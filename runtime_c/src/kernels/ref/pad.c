/*
 * pad.c - reference pad of float32 (te_pad_f32__ref) and int8 (te_pad_s8__ref) with numpy.pad's
 * modes 'constant', 'reflect' and 'edge'. pads holds the begins then the ends (ONNX order). A
 * negative pad crops; as in onnxruntime and the numpy reference, the crop comes first and the
 * positive pads then extend the cropped range (which matters for reflect and edge). Prepare builds,
 * for every axis, a table from output index to input index (-1: the constant value), so eval is a
 * table walk: one lookup per axis and row, then one per element along the last axis. The int8
 * kernel keeps the input's quantization parameters and pads with the constant quantized by them
 * (docs/quantization.md); the two kernels share everything else.
 */
#include <stdint.h>
#include <string.h>

#include "quant.h"

typedef struct {
    int rank;                         /* >= 1 (a scalar is padded as a vector of one) */
    size_t rows;                      /* output rows: product of all output dims but the last */
    int32_t out_dims[TE_MAX_RANK];
    ptrdiff_t in_strides[TE_MAX_RANK];
    const int32_t *map[TE_MAX_RANK];  /* map[d][o]: input index along d of output index o, or -1 */
    float value;                      /* the constant of te_pad_f32 */
    int8_t qvalue;                    /* the constant of te_pad_s8, quantized */
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

/* Check the node (input and output of `dtype`) and build its tables; the caller sets the value. */
static te_status pad_prepare(te_node *node, te_prepare_ctx *ctx, te_dtype dtype)
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
    if ((s = te_expect(ctx, node, x, "input", dtype, -1)) != TE_OK ||
        (s = te_expect(ctx, node, node->out[0], "output", dtype, x->rank)) != TE_OK)
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
    build_tables(st, maps, x, pads->ints, dims, mode);
    node->state = st;
    node->macs = 0;
    return TE_OK;
}

te_status te_pad_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status s = pad_prepare(node, ctx, TE_DTYPE_F32);
    if (s == TE_OK)
        ((pad_state *)node->state)->value = node->attrs[TE_PAD_VALUE].f;
    return s;
}

te_status te_pad_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    float scale;
    int32_t zero_point;
    te_status s = pad_prepare(node, ctx, TE_DTYPE_I8);
    if (s != TE_OK || (s = te_expect_same_qparams(ctx, node, node->in[0], node->out[0])) != TE_OK)
        return s;
    scale = node->in[0]->quant->scales[0];
    zero_point = node->in[0]->quant->zero_points[0];
    ((pad_state *)node->state)->qvalue =
        (int8_t)te_quantize_value(node->attrs[TE_PAD_VALUE].f, scale, zero_point, -128, 127);
    return TE_OK;
}

/* Fill one output row of n elements: src[i] >= 0 reads in[src[i]] when the row lies inside the
 * input (`inside`), anything else is the constant. */
typedef void (*pad_row_fn)(void *out, const void *in, const int32_t *src, size_t n, int inside,
                           const pad_state *st);

static void pad_row_f32(void *out, const void *in, const int32_t *src, size_t n, int inside,
                        const pad_state *st)
{
    float *o = (float *)out;
    const float *x = (const float *)in;
    size_t i;
    for (i = 0; i < n; i++)
        o[i] = inside && src[i] >= 0 ? x[src[i]] : st->value;
}

static void pad_row_s8(void *out, const void *in, const int32_t *src, size_t n, int inside,
                       const pad_state *st)
{
    int8_t *o = (int8_t *)out;
    const int8_t *x = (const int8_t *)in;
    size_t i;
    for (i = 0; i < n; i++)
        o[i] = inside && src[i] >= 0 ? x[src[i]] : st->qvalue;
}

/* Walk the output rows (odometer over the outer dims) and fill each with `row`. */
static void pad_run(const te_node *node, size_t elem_size, pad_row_fn row)
{
    const pad_state *st = (const pad_state *)node->state;
    const unsigned char *x = (const unsigned char *)node->in[0]->data;
    unsigned char *out = (unsigned char *)node->out[0]->data;
    const int last = st->rank - 1;
    const size_t n = (size_t)st->out_dims[last];
    int32_t idx[TE_MAX_RANK] = {0};
    size_t r;
    int d;
    for (r = 0; r < st->rows; r++, out += n * elem_size) {
        /* Where the row starts in the input, unless some outer index falls in a constant pad. */
        ptrdiff_t base = 0;
        int inside = 1;
        for (d = 0; d < last; d++) {
            const int32_t src = st->map[d][idx[d]];
            inside &= src >= 0;
            base += (ptrdiff_t)src * st->in_strides[d];
        }
        row(out, inside ? x + base * (ptrdiff_t)elem_size : x, st->map[last], n, inside, st);
        for (d = last - 1; d >= 0; d--) {
            if (++idx[d] < st->out_dims[d])
                break;
            idx[d] = 0;
        }
    }
}

void te_pad_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    pad_run(node, sizeof(float), pad_row_f32);
}

void te_pad_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    pad_run(node, 1, pad_row_s8);
}
