/* pool_plan.c - pooling checks and window tables (see pool_plan.h). */
#include "pool_plan.h"

const te_pool_attrs te_max_pool_attrs = {TE_MAX_POOL2D_KERNEL, TE_MAX_POOL2D_STRIDES,
                                         TE_MAX_POOL2D_PADS, TE_MAX_POOL2D_CEIL_MODE,
                                         TE_MAX_POOL2D_DILATIONS};
const te_pool_attrs te_avg_pool_attrs = {TE_AVG_POOL2D_KERNEL, TE_AVG_POOL2D_STRIDES,
                                         TE_AVG_POOL2D_PADS, TE_AVG_POOL2D_CEIL_MODE, -1};

/* Fill spans[0..out) for one axis; returns the first output index whose window misses the input,
 * or -1 when every window has an input pixel. */
static int64_t pool_spans(te_pool_span *spans, int64_t out, int64_t size, int64_t k, int64_t stride,
                          int64_t dilation, int64_t pad_begin, int64_t pad_end)
{
    int64_t empty = -1;
    for (int64_t o = 0; o < out; o++) {
        const int64_t start = o * stride - pad_begin;  /* >= -pad_begin */
        int64_t kb = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
        int64_t ke = start >= size ? 0 : (size - 1 - start) / dilation + 1;
        int64_t pe = start >= size + pad_end ? 0 : (size + pad_end - 1 - start) / dilation + 1;
        if (kb > k)
            kb = k;
        if (ke > k)
            ke = k;
        if (pe > k)
            pe = k;
        if (ke <= kb) {
            ke = kb;
            if (empty < 0)
                empty = o;
        }
        spans[o].first = (int32_t)(kb < ke ? start + kb * dilation : 0);
        spans[o].k_begin = (int32_t)kb;
        spans[o].k_end = (int32_t)ke;
        spans[o].padded = (int32_t)pe;
    }
    return empty;
}

te_status te_pool_prepare(te_node *node, te_prepare_ctx *ctx, te_dtype dtype,
                          const te_pool_attrs *pa, int count_include_pad)
{
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 input and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *x = node->in[0], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", dtype, 4)) != TE_OK ||
        (st = te_expect(ctx, node, y, "output", dtype, 4)) != TE_OK)
        return st;
    const te_attr *a = node->attrs;
    const te_attr *kernel = &a[pa->kernel], *strides = &a[pa->strides], *pads = &a[pa->pads];
    int32_t dh = 1, dw = 1;
    if (kernel->n != 2 || kernel->ints[0] < 1 || kernel->ints[1] < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "kernel must be 2 values >= 1 (h, w), got %u: %d, %d, ...",
                               kernel->n, kernel->ints[0], kernel->ints[1]);
    if (strides->n != 2 || strides->ints[0] < 1 || strides->ints[1] < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "strides must be 2 values >= 1 (h, w), got %u: %d, %d, ...",
                               strides->n, strides->ints[0], strides->ints[1]);
    if (pads->n != 4 || pads->ints[0] < 0 || pads->ints[1] < 0 || pads->ints[2] < 0 ||
        pads->ints[3] < 0)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "pads must be 4 values >= 0 (top, left, bottom, right), got %u: "
                               "%d, %d, %d, %d, ...",
                               pads->n, pads->ints[0], pads->ints[1], pads->ints[2], pads->ints[3]);
    /* The op table's rule (as PyTorch's): a pad never reaches a whole kernel. */
    if (pads->ints[0] >= kernel->ints[0] || pads->ints[2] >= kernel->ints[0] ||
        pads->ints[1] >= kernel->ints[1] || pads->ints[3] >= kernel->ints[1])
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "pads (%d, %d, %d, %d) must be smaller than the kernel (%d, %d)",
                               pads->ints[0], pads->ints[1], pads->ints[2], pads->ints[3],
                               kernel->ints[0], kernel->ints[1]);
    if (pa->dilations >= 0) {
        const te_attr *dil = &a[pa->dilations];
        if (dil->n != 2 || dil->ints[0] < 1 || dil->ints[1] < 1)
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                   "dilations must be 2 values >= 1 (h, w), got %u: %d, %d, "
                                   "...", dil->n, dil->ints[0], dil->ints[1]);
        dh = dil->ints[0];
        dw = dil->ints[1];
    }
    int32_t ceil_mode = a[pa->ceil_mode].i;
    if (ceil_mode != 0 && ceil_mode != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "ceil_mode must be 0 or 1, got %d",
                               ceil_mode);

    const int32_t h = x->dims[1], w = x->dims[2];
    const int32_t kh = kernel->ints[0], kw = kernel->ints[1];
    const int32_t pt = pads->ints[0], pl = pads->ints[1], pb = pads->ints[2], pr = pads->ints[3];
    int64_t oh = te_window_out(h, kh, strides->ints[0], dh, pt, pb, ceil_mode);
    int64_t ow = te_window_out(w, kw, strides->ints[1], dw, pl, pr, ceil_mode);
    if (oh < 1 || ow < 1 || oh > INT32_MAX || ow > INT32_MAX)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "kernel %dx%d with dilations (%d, %d) does not fit the padded "
                               "%dx%d input", kh, kw, dh, dw, h, w);
    int32_t out_dims[4] = {x->dims[0], (int32_t)oh, (int32_t)ow, x->dims[3]};
    if ((st = te_expect_dims(ctx, node, y, "output", 4, out_dims)) != TE_OK)
        return st;

    /* oh and ow fit the arena; this guard only matters where size_t is 32 bits. */
    if ((uint64_t)oh > SIZE_MAX / sizeof(te_pool_span) ||
        (uint64_t)ow > SIZE_MAX / sizeof(te_pool_span))
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "window tables too large");
    te_pool_plan *p = (te_pool_plan *)te_prepare_alloc(ctx, sizeof *p);
    te_pool_span *rows = (te_pool_span *)te_prepare_alloc(ctx, (size_t)oh * sizeof *rows);
    te_pool_span *cols = (te_pool_span *)te_prepare_alloc(ctx, (size_t)ow * sizeof *cols);
    if (!p || !rows || !cols)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for window tables");
    int64_t er = pool_spans(rows, oh, h, kh, strides->ints[0], dh, pt, pb);
    int64_t ec = pool_spans(cols, ow, w, kw, strides->ints[1], dw, pl, pr);
    /* With count_include_pad an all-padding window is well defined: its mean is 0. */
    if (!count_include_pad && (er >= 0 || ec >= 0))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "the window of output %s %lld covers no input pixel; supported: "
                               "pads that leave every window at least one input pixel",
                               er >= 0 ? "row" : "column", (long long)(er >= 0 ? er : ec));
    p->rows = rows;
    p->cols = cols;
    p->count_include_pad = count_include_pad;
    p->dh = dh;
    p->dw = dw;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

te_status te_avg_pool_count_include_pad(te_node *node, te_prepare_ctx *ctx, int *cip)
{
    int32_t v = node->attrs[TE_AVG_POOL2D_COUNT_INCLUDE_PAD].i;
    if (v != 0 && v != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "avg_pool2d: count_include_pad must be 0 or 1, got %d", v);
    *cip = v;
    return TE_OK;
}
