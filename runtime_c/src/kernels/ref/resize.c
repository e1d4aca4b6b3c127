/*
 * resize.c - float32 reference resize of H and W of an NHWC tensor (te_resize_f32__ref), ONNX Resize
 * (opsets 11-21) with mode nearest or linear (bilinear). The source coordinates and the attribute
 * checks are resize_plan.h's (shared with the int8 kernel): nearest reads the rounded coordinate,
 * linear blends the two neighbours floor and floor + 1 (the last index repeats at the edge). prepare
 * builds one table entry per output row and column (two source indices and two weights), so eval
 * only gathers and blends.
 */
#include "resize_plan.h"

typedef struct {
    int32_t i0, i1;  /* source indices (nearest: i1 == i0) */
    float w0, w1;    /* their weights (nearest: 1, 0) */
} te_resize_tap;

typedef struct {
    const te_resize_tap *rows, *cols;
} te_resize_plan;

/* Fill taps[0..out) for one axis. */
static void resize_taps(te_resize_tap *taps, int64_t out, int64_t in, float scale, int mode,
                        int coord_mode, int nearest_mode)
{
    for (int64_t i = 0; i < out; i++) {
        const float src = te_resize_source(i, out, in, scale, mode, coord_mode, nearest_mode);
        const int32_t i0 = (int32_t)src;  /* floor: src is in [0, in - 1] */
        if (mode == TE_INTERP_NEAREST) {
            taps[i].i0 = taps[i].i1 = i0;
            taps[i].w0 = 1.0f;
            taps[i].w1 = 0.0f;
        } else {
            taps[i].i0 = i0;
            taps[i].i1 = i0 + 1 < in ? i0 + 1 : i0;
            taps[i].w1 = src - (float)i0;
            taps[i].w0 = 1.0f - taps[i].w1;
        }
    }
}

te_status te_resize_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status st = te_resize_check(node, ctx, TE_DTYPE_F32);
    if (st != TE_OK)
        return st;
    const te_tensor *x = node->in[0], *y = node->out[0];
    const te_attr *a = node->attrs;
    const float *scales = a[TE_RESIZE_SCALES].floats;
    const int32_t mode = a[TE_RESIZE_MODE].i, coord_mode = a[TE_RESIZE_COORD_MODE].i;
    const int32_t nearest_mode = a[TE_RESIZE_NEAREST_MODE].i;
    const int32_t oh = y->dims[1], ow = y->dims[2];
    te_resize_plan *p = (te_resize_plan *)te_prepare_alloc(ctx, sizeof *p);
    te_resize_tap *rows = (te_resize_tap *)te_resize_alloc(ctx, oh, sizeof *rows);
    te_resize_tap *cols = (te_resize_tap *)te_resize_alloc(ctx, ow, sizeof *cols);
    if (!p || !rows || !cols)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its tables");
    resize_taps(rows, oh, x->dims[1], scales[0], mode, coord_mode, nearest_mode);
    resize_taps(cols, ow, x->dims[2], scales[1], mode, coord_mode, nearest_mode);
    p->rows = rows;
    p->cols = cols;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

void te_resize_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_resize_plan *p = (const te_resize_plan *)node->state;
    const te_tensor *xt = node->in[0], *yt = node->out[0];
    const float *x = (const float *)xt->data;
    float *y = (float *)yt->data;
    const size_t n = (size_t)xt->dims[0], h = (size_t)xt->dims[1], w = (size_t)xt->dims[2];
    const size_t c = (size_t)xt->dims[3], oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2];
    const int linear = node->attrs[TE_RESIZE_MODE].i == TE_INTERP_LINEAR;

    for (size_t b = 0; b < n; b++) {
        const float *xb = x + b * h * w * c;
        for (size_t oy = 0; oy < oh; oy++) {
            const te_resize_tap *r = &p->rows[oy];
            const float *row0 = xb + (size_t)r->i0 * w * c, *row1 = xb + (size_t)r->i1 * w * c;
            for (size_t ox = 0; ox < ow; ox++) {
                const te_resize_tap *s = &p->cols[ox];
                const float *p00 = row0 + (size_t)s->i0 * c, *p01 = row0 + (size_t)s->i1 * c;
                const float *p10 = row1 + (size_t)s->i0 * c, *p11 = row1 + (size_t)s->i1 * c;
                float *yp = y + ((b * oh + oy) * ow + ox) * c;
                if (!linear) {
                    for (size_t ch = 0; ch < c; ch++)
                        yp[ch] = p00[ch];
                    continue;
                }
                for (size_t ch = 0; ch < c; ch++) {
                    const float top = s->w0 * p00[ch] + s->w1 * p01[ch];
                    const float bottom = s->w0 * p10[ch] + s->w1 * p11[ch];
                    yp[ch] = r->w0 * top + r->w1 * bottom;
                }
            }
        }
    }
}
