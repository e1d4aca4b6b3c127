/*
 * resize.c - float32 reference resize of H and W of an NHWC tensor (te_resize_f32__ref), ONNX Resize
 * (opsets 11-21) with mode nearest or linear (bilinear).
 *
 * Output index i maps to a source coordinate by the coordinate transform, in float32 as onnxruntime
 * computes it (scale is the `scales` attribute of that axis, out the output length, in the input's):
 *   half_pixel           (i + 0.5) / scale - 0.5
 *   asymmetric           i / scale
 *   align_corners        i * (in - 1) / (out - 1), or 0 when out == 1
 *   pytorch_half_pixel   (i + 0.5) / scale - 0.5, or 0 when out == 1
 *   tf_half_pixel_for_nn (i + 0.5) / scale
 * nearest rounds it (round_prefer_floor / round_prefer_ceil at halves, within a tolerance, floor,
 * ceil) and clamps to [0, in - 1]; linear clamps it to [0, in - 1] and blends the two neighbours
 * floor and floor + 1 (the last index repeats at the edge). An axis that keeps its length with scale
 * 1 maps one-to-one. prepare builds one table entry per output row and column (two source indices
 * and two weights), so eval only gathers and blends.
 */
#include <math.h>

#include "te_internal.h"

typedef struct {
    int32_t i0, i1;  /* source indices (nearest: i1 == i0) */
    float w0, w1;    /* their weights (nearest: 1, 0) */
} te_resize_tap;

typedef struct {
    const te_resize_tap *rows, *cols;
} te_resize_plan;

static float resize_source_coord(int coord_mode, int64_t i, float scale, int64_t out, int64_t in)
{
    const float x = (float)i;
    switch (coord_mode) {
    case TE_COORD_ASYMMETRIC:
        return x / scale;
    case TE_COORD_ALIGN_CORNERS:
        return out == 1 ? 0.0f : x * (float)(in - 1) / (float)(out - 1);
    case TE_COORD_PYTORCH_HALF_PIXEL:
        return out == 1 ? 0.0f : (x + 0.5f) / scale - 0.5f;
    case TE_COORD_TF_HALF_PIXEL_FOR_NN:
        return (x + 0.5f) / scale;
    default: /* TE_COORD_HALF_PIXEL */
        return (x + 0.5f) / scale - 0.5f;
    }
}

/* A coordinate within this distance of k + 0.5 is a tie: float32 turns exact ties into near ones
 * (2 / (4/7) comes out as 3.4999998). onnxruntime 1.32 rounds such near ties (on either side) as
 * ties, and the numpy reference uses this tolerance (TIE_TOLERANCE in tinyedge/reference/resize.py).
 */
#define TE_RESIZE_TIE_TOLERANCE 1e-6f

static float resize_round(int nearest_mode, float v)
{
    const float below = floorf(v), frac = v - below;  /* exact in float */
    if (nearest_mode == TE_NEAREST_FLOOR)
        return below;
    if (nearest_mode == TE_NEAREST_CEIL)
        return ceilf(v);
    if (fabsf(frac - 0.5f) <= TE_RESIZE_TIE_TOLERANCE)
        return nearest_mode == TE_NEAREST_ROUND_PREFER_CEIL ? below + 1.0f : below;
    return frac > 0.5f ? below + 1.0f : below;
}

/* Fill taps[0..out) for one axis. An axis that keeps its length with scale 1 maps one-to-one (as
 * onnxruntime and the spec's reference implementation do; only tf_half_pixel_for_nn would shift it
 * by half a pixel otherwise). Clamping happens in float, before any conversion to int, so that
 * extreme scales cannot overflow an index. */
static void resize_taps(te_resize_tap *taps, int64_t out, int64_t in, float scale, int mode,
                        int coord_mode, int nearest_mode)
{
    const float last = (float)(in - 1);
    const int identity = scale == 1.0f && out == in;
    for (int64_t i = 0; i < out; i++) {
        float src = identity ? (float)i : resize_source_coord(coord_mode, i, scale, out, in);
        if (mode == TE_INTERP_NEAREST)
            src = resize_round(nearest_mode, src);
        src = src < 0.0f ? 0.0f : (src > last ? last : src);
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
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 1 input and 1 output, got %d and %d", node->n_in,
                               node->n_out);
    const te_tensor *x = node->in[0], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", TE_DTYPE_F32, 4)) != TE_OK ||
        (st = te_expect(ctx, node, y, "output", TE_DTYPE_F32, 4)) != TE_OK)
        return st;
    const te_attr *a = node->attrs;
    const te_attr *size = &a[TE_RESIZE_SIZE], *scales = &a[TE_RESIZE_SCALES];
    const int32_t mode = a[TE_RESIZE_MODE].i, coord_mode = a[TE_RESIZE_COORD_MODE].i;
    const int32_t nearest_mode = a[TE_RESIZE_NEAREST_MODE].i;
    if (size->n != 2 || size->ints[0] < 1 || size->ints[1] < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "size must be 2 values >= 1 (h, w), got %u: %d, %d, ...",
                               size->n, size->ints[0], size->ints[1]);
    if (scales->n != 2 || !(scales->floats[0] > 0.0f) || !(scales->floats[1] > 0.0f) ||
        !isfinite(scales->floats[0]) || !isfinite(scales->floats[1]))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "scales must be 2 finite values > 0 (h, w), got %u: %g, %g, ...",
                               scales->n, scales->floats[0], scales->floats[1]);
    if (mode != TE_INTERP_NEAREST && mode != TE_INTERP_LINEAR)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "mode %d unsupported (0 nearest, 1 linear)", mode);
    if (coord_mode < TE_COORD_HALF_PIXEL || coord_mode > TE_COORD_TF_HALF_PIXEL_FOR_NN)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "coord_mode %d unsupported (0 half_pixel, 1 asymmetric, "
                               "2 align_corners, 3 pytorch_half_pixel, 4 tf_half_pixel_for_nn)",
                               coord_mode);
    if (nearest_mode < TE_NEAREST_ROUND_PREFER_FLOOR || nearest_mode > TE_NEAREST_CEIL)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "nearest_mode %d unsupported (0 round_prefer_floor, "
                               "1 round_prefer_ceil, 2 floor, 3 ceil)", nearest_mode);
    int32_t out_dims[4] = {x->dims[0], size->ints[0], size->ints[1], x->dims[3]};
    if ((st = te_expect_dims(ctx, node, y, "output", 4, out_dims)) != TE_OK)
        return st;

    const int32_t oh = size->ints[0], ow = size->ints[1];
    te_resize_plan *p = (te_resize_plan *)te_prepare_alloc(ctx, sizeof *p);
    /* oh and ow fit the arena; this guard only matters where size_t is 32 bits. */
    te_resize_tap *rows = (uint64_t)oh > SIZE_MAX / sizeof *rows ? NULL :
                          (te_resize_tap *)te_prepare_alloc(ctx, (size_t)oh * sizeof *rows);
    te_resize_tap *cols = (uint64_t)ow > SIZE_MAX / sizeof *cols ? NULL :
                          (te_resize_tap *)te_prepare_alloc(ctx, (size_t)ow * sizeof *cols);
    if (!p || !rows || !cols)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its tables");
    resize_taps(rows, oh, x->dims[1], scales->floats[0], mode, coord_mode, nearest_mode);
    resize_taps(cols, ow, x->dims[2], scales->floats[1], mode, coord_mode, nearest_mode);
    p->rows = rows;
    p->cols = cols;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

void te_resize_f32_eval(const te_node *node, void *scratch)
{
    (void)scratch;
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
