/*
 * conv2d_f32_kxk.c - float32 general convolution on NEON (te_conv2d_f32_kxk_4x8__neon): any kernel
 * size, stride, dilation, padding and group count (depthwise excepted), as GEMMs on the input in
 * place (an implicit im2col: no copy, no scratch).
 *
 * Output pixels of one output row whose windows have the same taps inside the input (all the
 * interior pixels; each border pixel alone) are the rows of a GEMM (gemm_f32_4x8.h) that reads the
 * input directly: row r starts at the pixel's first input value and the next row is sw * C values
 * on. Each window row ky is one GEMM over (kx, ic), contiguous in NHWC when there is one group and
 * no column dilation, else each (ky, kx) is one over ic; the first of a pixel's GEMMs starts from
 * the bias, the others add to the output (te_gemm_f32_4x8_accumulate__neon) and the last clamps.
 * So each output is bias + sum over (ky, kx, ic) in order of the taps inside the input, padding
 * adding no term, exactly as te_conv2d_f32__ref: bit-identical to it.
 *
 * Takes: constant weight, layout TE_CONV2D_GENERAL (conv2d_pack.h). Refused with TE_ERR_UNSUPPORTED
 * (the next kernel takes it): depthwise, a weight computed at run time, and the unpadded one-group
 * 1x1 convolution that te_conv2d_f32_1x1_4x8__neon runs. The output rows (image, oy) are split
 * among tasks (te_internal.h).
 */
#if defined(__ARM_NEON)

#include <math.h>

#include "../ref/conv2d_pack.h"
#include "gemm_f32_4x8.h"

typedef struct {
    te_conv2d_shape s;
    const float *packed;  /* [group][KH * KW * I][og] */
} te_conv2d_f32_kxk_plan;

static int pads_zero(const te_attr *pads)
{
    for (uint32_t i = 0; i < pads->n; i++)
        if (pads->ints[i] != 0)
            return 0;
    return 1;
}

te_status te_conv2d_f32_kxk_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_F32, TE_DTYPE_F32, TE_DTYPE_F32};
    te_conv2d_shape s;
    te_status st = te_conv2d_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    if (te_conv2d_layout_of(&s) != TE_CONV2D_GENERAL || node->in[1]->storage != 1)
        return TE_ERR_UNSUPPORTED;
    if (s.kh == 1 && s.kw == 1 && s.group == 1 && pads_zero(&node->attrs[TE_CONV2D_PADS]))
        return TE_ERR_UNSUPPORTED;  /* te_conv2d_f32_1x1_4x8__neon's */
    float act_min = node->attrs[TE_CONV2D_ACT_MIN].f, act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);

    te_conv2d_f32_kxk_plan *p = (te_conv2d_f32_kxk_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    const void *packed;
    if ((st = te_conv2d_pack_const(ctx, node, &s, TE_CONV2D_GENERAL, sizeof(float), &packed)) != TE_OK)
        return st;
    p->s = s;
    p->packed = (const float *)packed;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)s.kh * (uint64_t)s.kw * (uint64_t)s.ci;
    node->tasks = te_split_tasks((uint64_t)s.n * (uint64_t)s.oh, node->macs);
    return TE_OK;
}

/* What one run of pixels shares: m consecutive output pixels of one output row whose windows have
 * taps ky in [ky0, ky1), kx in [kx0, kx1) inside the input; x0 is the first pixel's window origin
 * (input row iy0, column ix0, channel 0; possibly outside the input, never dereferenced there). */
typedef struct {
    size_t m;
    int64_t iy0, ix0, ky0, ky1, kx0, kx1;
    const float *xb;  /* the image */
    const float *bias;
    float *y;         /* the first pixel's outputs */
    float act_min, act_max;
} te_conv_run;

/* The GEMMs of one run, group by group: k values of x starting at input (iy, ix, g * ci), times
 * packed rows from `tap` (ky * kw + kx) on, into the group's og outputs of each pixel. */
static void run_gemms(const te_conv2d_f32_kxk_plan *p, const te_conv_run *r)
{
    const te_conv2d_shape *s = &p->s;
    const size_t c = (size_t)s->c, ci = (size_t)s->ci, o = (size_t)s->o;
    const size_t og = o / (size_t)s->group, ldx = (size_t)s->sw * c;
    const size_t group_w = (size_t)s->kh * (size_t)s->kw * ci * og;
    const int contiguous = s->group == 1 && s->dw == 1;  /* a window row is one run of (kx, ic) */
    const int64_t per_row = contiguous ? 1 : r->kx1 - r->kx0;
    const int64_t segments = (r->ky1 - r->ky0) * per_row;
    const size_t seg_k = contiguous ? (size_t)(r->kx1 - r->kx0) * ci : ci;

    for (size_t g = 0; g < (size_t)s->group; g++) {
        const float *bias = r->bias ? r->bias + g * og : NULL;
        const float *wg = p->packed + g * group_w;
        float *y = r->y + g * og;
        if (segments == 0) {  /* every tap in the padding: bias only (k = 0 reads no input) */
            te_gemm_f32_4x8__neon(r->m, og, 0, r->xb, ldx, wg, bias, y, o, r->act_min, r->act_max);
            continue;
        }
        int64_t done = 0;
        for (int64_t ky = r->ky0; ky < r->ky1; ky++) {
            const int64_t iy = r->iy0 + ky * s->dh;
            for (int64_t q = 0; q < per_row; q++, done++) {
                const int64_t kx = r->kx0 + q;
                const int64_t ix = r->ix0 + kx * s->dw;
                const float *x = r->xb + ((size_t)iy * (size_t)s->w + (size_t)ix) * c + g * ci;
                const float *w = wg + (size_t)(ky * s->kw + kx) * ci * og;
                const int last = done + 1 == segments;
                const float lo = last ? r->act_min : -INFINITY, hi = last ? r->act_max : INFINITY;
                if (done == 0)
                    te_gemm_f32_4x8__neon(r->m, og, seg_k, x, ldx, w, bias, y, o, lo, hi);
                else
                    te_gemm_f32_4x8_accumulate__neon(r->m, og, seg_k, x, ldx, w, y, o, lo, hi);
            }
        }
    }
}

void te_conv2d_f32_kxk_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    const te_conv2d_f32_kxk_plan *p = (const te_conv2d_f32_kxk_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const float *x = (const float *)node->in[0]->data;
    float *y = (float *)node->out[0]->data;
    const int64_t h = s->h, wd = s->w, c = s->c, o = s->o, oh = s->oh, ow = s->ow;
    te_conv_run r;
    r.bias = bt ? (const float *)bt->data : NULL;
    r.act_min = node->attrs[TE_CONV2D_ACT_MIN].f;
    r.act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    int64_t row0, row1;  /* this task's output rows b * oh + oy */
    te_task_range((uint64_t)s->n * (uint64_t)oh, node->tasks, task, &row0, &row1);

    for (int64_t row = row0; row < row1; row++) {
        const int64_t b = row / oh, oy = row % oh;
        r.xb = x + b * h * wd * c;
        r.iy0 = oy * s->sh - s->pt;
        te_conv2d_taps_inside(r.iy0, h, s->kh, s->dh, &r.ky0, &r.ky1);
        int64_t ox = 0;
        while (ox < ow) {
            r.ix0 = ox * s->sw - s->pl;
            te_conv2d_taps_inside(r.ix0, wd, s->kw, s->dw, &r.kx0, &r.kx1);
            int64_t end = ox + 1;
            if (r.kx0 == 0 && r.kx1 == s->kw) {  /* interior: extend over the pixels like it */
                for (; end < ow; end++) {
                    int64_t lo, hi;
                    te_conv2d_taps_inside(end * s->sw - s->pl, wd, s->kw, s->dw, &lo, &hi);
                    if (lo != 0 || hi != s->kw)
                        break;
                }
            }
            r.m = (size_t)(end - ox);
            r.y = y + ((b * oh + oy) * ow + ox) * o;
            run_gemms(p, &r);
            ox = end;
        }
    }
}

#endif /* __ARM_NEON */
