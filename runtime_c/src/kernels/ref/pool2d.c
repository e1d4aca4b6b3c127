/*
 * pool2d.c - float32 reference pooling over H and W of an NHWC tensor: max_pool2d
 * (te_max_pool2d_f32__ref) and avg_pool2d (te_avg_pool2d_f32__ref).
 *
 * Output row oy's window starts at oy * stride - pad_begin and has `kernel` taps `dilation` apart.
 * prepare turns every output row and column into a span: the taps that land inside the input
 * (k_begin..k_end, first input index) and, for avg_pool2d with count_include_pad, how many taps lie
 * inside the explicitly padded extent [-pad_begin, size + pad_end) (the ceil-mode overhang beyond it
 * never counts). Max ignores padding; avg divides the sum of the inside taps by rows x cols of inside
 * taps, or of padded-extent taps with count_include_pad. Pads must be smaller than the kernel (the
 * op table's rule); a dilated window that still misses every input pixel is refused at load (its max
 * would be undefined).
 */
#include "te_internal.h"

typedef struct {
    int32_t first;    /* input index of tap k_begin */
    int32_t k_begin;  /* taps [k_begin, k_end) land inside the input */
    int32_t k_end;
    int32_t padded;   /* taps inside [-pad_begin, size + pad_end) */
} te_pool_span;

typedef struct {
    const te_pool_span *rows, *cols;
    int count_include_pad;
} te_pool_plan;

/* Attribute indices of a pooling op: the two share the checks and differ in these. */
typedef struct {
    int kernel, strides, pads, ceil_mode, dilations;  /* attribute indices (-1: absent) */
} te_pool_attrs;

static const te_pool_attrs max_pool_attrs = {TE_MAX_POOL2D_KERNEL,
                                             TE_MAX_POOL2D_STRIDES, TE_MAX_POOL2D_PADS,
                                             TE_MAX_POOL2D_CEIL_MODE, TE_MAX_POOL2D_DILATIONS};
static const te_pool_attrs avg_pool_attrs = {TE_AVG_POOL2D_KERNEL,
                                             TE_AVG_POOL2D_STRIDES, TE_AVG_POOL2D_PADS,
                                             TE_AVG_POOL2D_CEIL_MODE, -1};

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

static te_status pool_prepare(te_node *node, te_prepare_ctx *ctx, const te_pool_attrs *pa,
                              int count_include_pad)
{
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 input and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *x = node->in[0], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", TE_DTYPE_F32, 4)) != TE_OK ||
        (st = te_expect(ctx, node, y, "output", TE_DTYPE_F32, 4)) != TE_OK)
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
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

te_status te_max_pool2d_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    /* Padding never wins a max, so a max pool is treated like avg without count_include_pad. */
    return pool_prepare(node, ctx, &max_pool_attrs, 0);
}

te_status te_avg_pool2d_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    int32_t cip = node->attrs[TE_AVG_POOL2D_COUNT_INCLUDE_PAD].i;
    if (cip != 0 && cip != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "avg_pool2d: count_include_pad must be 0 or 1, got %d", cip);
    return pool_prepare(node, ctx, &avg_pool_attrs, cip);
}

void te_max_pool2d_f32_eval(const te_node *node, void *scratch)
{
    (void)scratch;
    const te_pool_plan *p = (const te_pool_plan *)node->state;
    const te_tensor *xt = node->in[0], *yt = node->out[0];
    const float *x = (const float *)xt->data;
    float *y = (float *)yt->data;
    const size_t n = (size_t)xt->dims[0], h = (size_t)xt->dims[1], w = (size_t)xt->dims[2];
    const size_t c = (size_t)xt->dims[3], oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2];
    const size_t dh = (size_t)node->attrs[TE_MAX_POOL2D_DILATIONS].ints[0];
    const size_t dw = (size_t)node->attrs[TE_MAX_POOL2D_DILATIONS].ints[1];

    for (size_t b = 0; b < n; b++) {
        const float *xb = x + b * h * w * c;
        for (size_t oy = 0; oy < oh; oy++) {
            const te_pool_span *r = &p->rows[oy];
            const size_t ny = (size_t)(r->k_end - r->k_begin);
            for (size_t ox = 0; ox < ow; ox++) {
                const te_pool_span *s = &p->cols[ox];
                const size_t nx = (size_t)(s->k_end - s->k_begin);
                const float *x0 = xb + ((size_t)r->first * w + (size_t)s->first) * c;
                float *yp = y + ((b * oh + oy) * ow + ox) * c;
                for (size_t ch = 0; ch < c; ch++) {
                    float m = x0[ch];  /* prepare ensured the window has this pixel */
                    for (size_t ky = 0; ky < ny; ky++)
                        for (size_t kx = 0; kx < nx; kx++) {
                            float v = x0[(ky * dh * w + kx * dw) * c + ch];
                            if (v > m)
                                m = v;
                        }
                    yp[ch] = m;
                }
            }
        }
    }
}

void te_avg_pool2d_f32_eval(const te_node *node, void *scratch)
{
    (void)scratch;
    const te_pool_plan *p = (const te_pool_plan *)node->state;
    const te_tensor *xt = node->in[0], *yt = node->out[0];
    const float *x = (const float *)xt->data;
    float *y = (float *)yt->data;
    const size_t n = (size_t)xt->dims[0], h = (size_t)xt->dims[1], w = (size_t)xt->dims[2];
    const size_t c = (size_t)xt->dims[3], oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2];

    for (size_t b = 0; b < n; b++) {
        const float *xb = x + b * h * w * c;
        for (size_t oy = 0; oy < oh; oy++) {
            const te_pool_span *r = &p->rows[oy];
            const size_t ny = (size_t)(r->k_end - r->k_begin);
            for (size_t ox = 0; ox < ow; ox++) {
                const te_pool_span *s = &p->cols[ox];
                const size_t nx = (size_t)(s->k_end - s->k_begin);
                const float *x0 = xb + ((size_t)r->first * w + (size_t)s->first) * c;
                float *yp = y + ((b * oh + oy) * ow + ox) * c;
                const float count = p->count_include_pad
                                        ? (float)((int64_t)r->padded * s->padded)
                                        : (float)((int64_t)ny * (int64_t)nx);
                for (size_t ch = 0; ch < c; ch++) {
                    float acc = 0.0f;
                    for (size_t ky = 0; ky < ny; ky++)
                        for (size_t kx = 0; kx < nx; kx++)
                            acc += x0[(ky * w + kx) * c + ch];
                    yp[ch] = acc / count;
                }
            }
        }
    }
}
