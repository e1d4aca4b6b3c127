/*
 * dwconv3x3_f32.c - float32 depthwise 3x3 convolution on NEON (te_dwconv3x3_f32_c4__neon).
 *
 * Takes: group == C == O, kernel 3x3, no dilation, any stride and padding, constant weight; refuses
 * the rest with TE_ERR_UNSUPPORTED (the next kernel takes it). Channels are processed four at a
 * time (then one at a time for the last C % 4): a block's nine weight vectors and its bias stay in
 * registers while the block sweeps every output pixel. A pixel whose 3x3 window lies inside the
 * input takes all nine taps unrolled; a border pixel takes only the taps inside (as the reference,
 * padding adds no term). Each output is bias + the taps in (ky, kx) order, a separate multiply and
 * add each, as te_conv2d_f32__ref: bit-identical to it. The output rows (image, oy) are split
 * among tasks (te_internal.h); a block sweeps the rows of its task only.
 */
#if defined(__ARM_NEON)

#include <arm_neon.h>
#include <math.h>

#include "../ref/conv2d_pack.h"

typedef struct {
    te_conv2d_shape s;
    const float *packed;  /* [9][C]: tap (ky, kx) of channel c at (ky * 3 + kx) * C + c */
} te_dwconv3x3_f32_plan;

te_status te_dwconv3x3_f32_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_F32, TE_DTYPE_F32, TE_DTYPE_F32};
    te_conv2d_shape s;
    te_status st = te_conv2d_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    if (te_conv2d_layout_of(&s) != TE_CONV2D_DEPTHWISE || s.kh != 3 || s.kw != 3 || s.dh != 1 ||
        s.dw != 1 || node->in[1]->storage != 1)
        return TE_ERR_UNSUPPORTED;
    float act_min = node->attrs[TE_CONV2D_ACT_MIN].f, act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);

    te_dwconv3x3_f32_plan *p = (te_dwconv3x3_f32_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    const void *packed;
    if ((st = te_conv2d_pack_const(ctx, node, &s, TE_CONV2D_DEPTHWISE, sizeof(float), &packed)) != TE_OK)
        return st;
    p->s = s;
    p->packed = (const float *)packed;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * 9u;
    node->tasks = te_split_tasks((uint64_t)s.n * (uint64_t)s.oh, node->macs);
    return TE_OK;
}

/* te_clampf on four lanes by compare and select: NaN and -0 pass as in the scalar clamp. */
static inline float32x4_t clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    v = vbslq_f32(vcltq_f32(v, lo), lo, v);
    return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

/* acc + x * w rounded twice (never fused), as the reference. */
static inline float32x4_t madd4(float32x4_t acc, const float *x, float32x4_t w)
{
    return vaddq_f32(acc, vmulq_f32(vld1q_f32(x), w));
}

/* The window of output (oy, ox): its first input row/column and the taps inside the input. */
typedef struct {
    int64_t iy0, ix0, ky0, ky1, kx0, kx1;
} te_dw_window;

static inline void window_at(const te_conv2d_shape *s, int64_t oy, int64_t ox, te_dw_window *win)
{
    win->iy0 = oy * s->sh - s->pt;
    win->ix0 = ox * s->sw - s->pl;
    te_conv2d_taps_inside(win->iy0, s->h, 3, 1, &win->ky0, &win->ky1);
    te_conv2d_taps_inside(win->ix0, s->w, 3, 1, &win->kx0, &win->kx1);
}

/* Channels c..c+3 of the output pixels of rows [oy0, oy1) of image xb into yb. */
static void block4(const te_conv2d_shape *s, const float *xb, const float *w, const float *bias,
                   int64_t c, int64_t oy0, int64_t oy1, float *yb, float32x4_t lo, float32x4_t hi)
{
    const int64_t C = s->c, wd = s->w;
    float32x4_t k[9];
    for (int t = 0; t < 9; t++)
        k[t] = vld1q_f32(w + t * C + c);
    const float32x4_t b = bias ? vld1q_f32(bias + c) : vdupq_n_f32(0.0f);
    for (int64_t oy = oy0; oy < oy1; oy++)
        for (int64_t ox = 0; ox < s->ow; ox++) {
            te_dw_window win;
            float32x4_t acc = b;
            window_at(s, oy, ox, &win);
            if (win.ky1 - win.ky0 == 3 && win.kx1 - win.kx0 == 3) {
                const float *x0 = xb + (win.iy0 * wd + win.ix0) * C + c;
                const float *x1 = x0 + wd * C, *x2 = x1 + wd * C;
                acc = madd4(acc, x0, k[0]);
                acc = madd4(acc, x0 + C, k[1]);
                acc = madd4(acc, x0 + 2 * C, k[2]);
                acc = madd4(acc, x1, k[3]);
                acc = madd4(acc, x1 + C, k[4]);
                acc = madd4(acc, x1 + 2 * C, k[5]);
                acc = madd4(acc, x2, k[6]);
                acc = madd4(acc, x2 + C, k[7]);
                acc = madd4(acc, x2 + 2 * C, k[8]);
            } else {
                for (int64_t ky = win.ky0; ky < win.ky1; ky++)
                    for (int64_t kx = win.kx0; kx < win.kx1; kx++)
                        acc = madd4(acc, xb + ((win.iy0 + ky) * wd + win.ix0 + kx) * C + c,
                                    k[ky * 3 + kx]);
            }
            vst1q_f32(yb + (oy * s->ow + ox) * C + c, clamp4(acc, lo, hi));
        }
}

/* Channel c (one of the last C % 4) of the output pixels of rows [oy0, oy1): the scalar tail. */
static void block1(const te_conv2d_shape *s, const float *xb, const float *w, const float *bias,
                   int64_t c, int64_t oy0, int64_t oy1, float *yb, float act_min, float act_max)
{
    const int64_t C = s->c, wd = s->w;
    for (int64_t oy = oy0; oy < oy1; oy++)
        for (int64_t ox = 0; ox < s->ow; ox++) {
            te_dw_window win;
            float acc = bias ? bias[c] : 0.0f;
            window_at(s, oy, ox, &win);
            for (int64_t ky = win.ky0; ky < win.ky1; ky++)
                for (int64_t kx = win.kx0; kx < win.kx1; kx++)
                    acc = acc + xb[((win.iy0 + ky) * wd + win.ix0 + kx) * C + c] *
                                w[(ky * 3 + kx) * C + c];
            yb[(oy * s->ow + ox) * C + c] = te_clampf(acc, act_min, act_max);
        }
}

void te_dwconv3x3_f32_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    const te_dwconv3x3_f32_plan *p = (const te_dwconv3x3_f32_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const float *x = (const float *)node->in[0]->data;
    const float *bias = bt ? (const float *)bt->data : NULL;
    float *y = (float *)node->out[0]->data;
    const float act_min = node->attrs[TE_CONV2D_ACT_MIN].f;
    const float act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    const float32x4_t lo = vdupq_n_f32(act_min), hi = vdupq_n_f32(act_max);
    const int64_t C = s->c, oh = s->oh;
    int64_t row0, row1;  /* this task's output rows b * oh + oy */
    te_task_range((uint64_t)s->n * (uint64_t)oh, node->tasks, task, &row0, &row1);
    for (int64_t b = row0 / oh; b < s->n && b * oh < row1; b++) {
        const float *xb = x + b * s->h * s->w * C;
        float *yb = y + b * oh * s->ow * C;
        /* The rows of image b inside [row0, row1). */
        const int64_t oy0 = row0 > b * oh ? row0 - b * oh : 0;
        const int64_t oy1 = row1 < (b + 1) * oh ? row1 - b * oh : oh;
        int64_t c = 0;
        for (; c + 4 <= C; c += 4)
            block4(s, xb, p->packed, bias, c, oy0, oy1, yb, lo, hi);
        for (; c < C; c++)
            block1(s, xb, p->packed, bias, c, oy0, oy1, yb, act_min, act_max);
    }
}

#endif /* __ARM_NEON */
