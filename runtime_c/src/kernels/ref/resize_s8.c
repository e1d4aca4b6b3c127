/*
 * resize_s8.c - int8 reference resize of H and W of an NHWC tensor (te_resize_s8__ref); the output
 * keeps the input's quantization parameters. The source coordinates are the float kernel's, from
 * resize_plan.h (float32, same expressions), so both kernels sample the same neighbours.
 *
 * nearest copies the neighbour. linear (docs/quantization.md) turns each axis' fraction into a Q11
 * weight, w1 = (int32)rint((c - floor(c)) * 2048) and w0 = 2048 - w1, and blends the four neighbours
 * in int32: acc = sum w_h * w_w * (x - z_x), |acc| <= 2048 * 2048 * 255 < 2^31; then
 * y = sat8(z_y + ((acc + 2^21) >> 22)) with a flooring shift.
 */
#include <string.h>

#include "quant.h"
#include "resize_plan.h"

typedef struct {
    int32_t i0, i1;  /* source indices (nearest: i1 == i0) */
    int32_t w0, w1;  /* their Q11 weights, w0 + w1 == 2048 (nearest: 2048, 0) */
} resize_tap_q11;

typedef struct {
    const resize_tap_q11 *rows, *cols;
    int32_t zero_point;  /* the input's, which is also the output's */
} resize_plan_s8;

#define Q11_ONE 2048

static void resize_taps_q11(resize_tap_q11 *taps, int64_t out, int64_t in, float scale, int mode,
                            int coord_mode, int nearest_mode)
{
    for (int64_t i = 0; i < out; i++) {
        const float src = te_resize_source(i, out, in, scale, mode, coord_mode, nearest_mode);
        const int32_t i0 = (int32_t)src;  /* floor: src is in [0, in - 1] */
        taps[i].i0 = i0;
        taps[i].i1 = mode == TE_INTERP_LINEAR && i0 + 1 < in ? i0 + 1 : i0;
        /* (src - i0) * 2048 is exact in float32 (a power of two); rintf rounds ties to even. */
        taps[i].w1 = mode == TE_INTERP_LINEAR ? (int32_t)rintf((src - (float)i0) * (float)Q11_ONE) : 0;
        taps[i].w0 = Q11_ONE - taps[i].w1;
    }
}

te_status te_resize_s8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status st = te_resize_check(node, ctx, TE_DTYPE_I8);
    if (st != TE_OK || (st = te_expect_same_qparams(ctx, node, node->in[0], node->out[0])) != TE_OK)
        return st;
    const te_tensor *x = node->in[0], *y = node->out[0];
    const te_attr *a = node->attrs;
    const float *scales = a[TE_RESIZE_SCALES].floats;
    const int32_t mode = a[TE_RESIZE_MODE].i, coord_mode = a[TE_RESIZE_COORD_MODE].i;
    const int32_t nearest_mode = a[TE_RESIZE_NEAREST_MODE].i;
    const int32_t oh = y->dims[1], ow = y->dims[2];
    resize_plan_s8 *p = (resize_plan_s8 *)te_prepare_alloc(ctx, sizeof *p);
    resize_tap_q11 *rows = (resize_tap_q11 *)te_resize_alloc(ctx, oh, sizeof *rows);
    resize_tap_q11 *cols = (resize_tap_q11 *)te_resize_alloc(ctx, ow, sizeof *cols);
    if (!p || !rows || !cols)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its tables");
    resize_taps_q11(rows, oh, x->dims[1], scales[0], mode, coord_mode, nearest_mode);
    resize_taps_q11(cols, ow, x->dims[2], scales[1], mode, coord_mode, nearest_mode);
    p->rows = rows;
    p->cols = cols;
    p->zero_point = x->quant->zero_points[0];
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

/* One output pixel of c channels from its four neighbours (row taps r, column taps s). */
static void blend_pixel(int8_t *yp, const int8_t *p00, const int8_t *p01, const int8_t *p10,
                        const int8_t *p11, size_t c, const resize_tap_q11 *r,
                        const resize_tap_q11 *s, int32_t zp)
{
    for (size_t ch = 0; ch < c; ch++) {
        const int32_t top = s->w0 * (p00[ch] - zp) + s->w1 * (p01[ch] - zp);
        const int32_t bottom = s->w0 * (p10[ch] - zp) + s->w1 * (p11[ch] - zp);
        const int32_t v = zp + te_rounding_shift_right(r->w0 * top + r->w1 * bottom, 22);
        yp[ch] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
}

void te_resize_s8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const resize_plan_s8 *p = (const resize_plan_s8 *)node->state;
    const te_tensor *xt = node->in[0], *yt = node->out[0];
    const int8_t *x = (const int8_t *)xt->data;
    int8_t *y = (int8_t *)yt->data;
    const size_t n = (size_t)xt->dims[0], h = (size_t)xt->dims[1], w = (size_t)xt->dims[2];
    const size_t c = (size_t)xt->dims[3], oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2];
    const int linear = node->attrs[TE_RESIZE_MODE].i == TE_INTERP_LINEAR;

    for (size_t b = 0; b < n; b++) {
        const int8_t *xb = x + b * h * w * c;
        for (size_t oy = 0; oy < oh; oy++) {
            const resize_tap_q11 *r = &p->rows[oy];
            const int8_t *row0 = xb + (size_t)r->i0 * w * c, *row1 = xb + (size_t)r->i1 * w * c;
            for (size_t ox = 0; ox < ow; ox++) {
                const resize_tap_q11 *s = &p->cols[ox];
                int8_t *yp = y + ((b * oh + oy) * ow + ox) * c;
                if (!linear) {
                    memcpy(yp, row0 + (size_t)s->i0 * c, c);
                    continue;
                }
                blend_pixel(yp, row0 + (size_t)s->i0 * c, row0 + (size_t)s->i1 * c,
                            row1 + (size_t)s->i0 * c, row1 + (size_t)s->i1 * c, c, r, s,
                            p->zero_point);
            }
        }
    }
}
