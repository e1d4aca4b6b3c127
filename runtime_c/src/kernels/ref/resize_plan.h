/*
 * resize_plan.h - what the float32 and int8 resize kernels share (resize.c, resize_s8.c): the
 * attribute checks and the source coordinate of every output index. ONNX Resize (opsets 11-21) over
 * H and W of an NHWC tensor, modes nearest or linear (bilinear).
 *
 * Output index i maps to a source coordinate by the coordinate transform, in float32 as onnxruntime
 * computes it (scale is the `scales` attribute of that axis, out the output length, in the input's):
 *   half_pixel           (i + 0.5) / scale - 0.5
 *   asymmetric           i / scale
 *   align_corners        i * (in - 1) / (out - 1), or 0 when out == 1
 *   pytorch_half_pixel   (i + 0.5) / scale - 0.5, or 0 when out == 1
 *   tf_half_pixel_for_nn (i + 0.5) / scale
 * nearest rounds it (round_prefer_floor / round_prefer_ceil at halves, within a tolerance, floor,
 * ceil); both modes then clamp it to [0, in - 1]. An axis that keeps its length with scale 1 maps
 * one-to-one. The int8 kernel takes the same float32 coordinates and only turns the linear weights
 * into Q11 integers (docs/quantization.md), so both kernels sample the same neighbours.
 */
#ifndef TE_REF_RESIZE_PLAN_H
#define TE_REF_RESIZE_PLAN_H

#include <math.h>

#include "te_internal.h"

static inline float te_resize_coord(int coord_mode, int64_t i, float scale, int64_t out, int64_t in)
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

static inline float te_resize_round(int nearest_mode, float v)
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

/* The source coordinate of output index i along one axis, rounded (nearest) and clamped to
 * [0, in - 1]: floor of it is the first neighbour, what is left the linear weight of the second.
 * An axis that keeps its length with scale 1 maps one-to-one (as onnxruntime and the spec's
 * reference implementation do; only tf_half_pixel_for_nn would shift it by half a pixel otherwise).
 * Clamping happens in float, before any conversion to int, so that extreme scales cannot overflow
 * an index. */
static inline float te_resize_source(int64_t i, int64_t out, int64_t in, float scale, int mode,
                                     int coord_mode, int nearest_mode)
{
    const float last = (float)(in - 1);
    float src = scale == 1.0f && out == in ? (float)i : te_resize_coord(coord_mode, i, scale, out, in);
    if (mode == TE_INTERP_NEAREST)
        src = te_resize_round(nearest_mode, src);
    return src < 0.0f ? 0.0f : (src > last ? last : src);
}

/* Check the node: one NHWC input and output of `dtype`, the output (n, size[0], size[1], c), and the
 * attributes' values. */
static inline te_status te_resize_check(te_node *node, te_prepare_ctx *ctx, te_dtype dtype)
{
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 1 input and 1 output, got %d and %d", node->n_in,
                               node->n_out);
    const te_tensor *x = node->in[0], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", dtype, 4)) != TE_OK ||
        (st = te_expect(ctx, node, y, "output", dtype, 4)) != TE_OK)
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
    return te_expect_dims(ctx, node, y, "output", 4, out_dims);
}

/* te_prepare_alloc room for n table entries of `size` bytes, NULL when out of memory. n fits the
 * arena; the guard only matters where size_t is 32 bits. */
static inline void *te_resize_alloc(te_prepare_ctx *ctx, int32_t n, size_t size)
{
    return (uint64_t)n > SIZE_MAX / size ? NULL : te_prepare_alloc(ctx, (size_t)n * size);
}

#endif /* TE_REF_RESIZE_PLAN_H */
