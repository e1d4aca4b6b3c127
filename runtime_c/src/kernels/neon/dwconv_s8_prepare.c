/*
 * dwconv_s8_prepare.c - the load-time step of the plain-NEON INT8 depthwise kernels
 * (dwconv_s8_neon.h): checks the node, lays the weights out as [K * K][C], folds the input's zero
 * point into the bias, lays out the requantization for vector loads and finds the output columns
 * whose window is all inside.
 */
#include "dwconv_s8_neon.h"

#if defined(__ARM_NEON)
#include "kernels/ref/conv2d_s8_fits.h"
#include "kernels/ref/dwconv_window.h"
#include "kernels/ref/requant_s8.h"

te_status te_dwconv_s8_neon_prepare_window(te_node *node, te_prepare_ctx *ctx, int k)
{
    te_conv2d_shape s;
    te_status st = te_conv2d_s8_fits_depthwise(node, ctx, k, &s);
    if (st != TE_OK)
        return st;
    te_dwconv_s8_plan *p = (te_dwconv_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    p->s = s;
    p->k = k;
    const te_tensor *w = node->in[1];
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    te_channel_requant rq;
    float s_x, s_y;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", 4, &s_x, &p->x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", 4, &s_y,
                                &p->out.zero_point)) != TE_OK ||
        (st = te_prepare_weights_s8(node, ctx, w, bt, s_x, p->x_zp, s_y, &rq)) != TE_OK ||
        (st = te_prepare_clamp(ctx, node, node->attrs[TE_CONV2D_ACT_MIN].f,
                               node->attrs[TE_CONV2D_ACT_MAX].f, s_y, p->out.zero_point,
                               &p->out.lo, &p->out.hi)) != TE_OK)
        return st;
    const size_t c = (size_t)s.c, taps = (size_t)k * (size_t)k;
    if (c > SIZE_MAX / taps)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu channels do not fit in memory",
                               (unsigned long)c);
    int8_t *wt = (int8_t *)te_prepare_alloc(ctx, taps * c);
    if (!wt)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its weights (%lu "
                               "channels)", (unsigned long)c);
    int64_t *bias = NULL;  /* the bias absorbs -z_x * sum of the weights */
    if ((st = te_fold_input_zero_point(node, ctx, w, bt, p->x_zp, &bias)) != TE_OK)
        return st;
    /* OHWI [C, k, k, 1] -> [k * k][C] */
    const int8_t *wv = (const int8_t *)w->data;
    for (size_t ch = 0; ch < c; ch++)
        for (size_t t = 0; t < taps; t++)
            wt[t * c + ch] = wv[ch * taps + t];
    if ((st = te_neon_requant_prepare(node, ctx, &rq, bias, c, &p->rq)) != TE_OK)
        return st;
    p->w = wt;
    for (size_t ch = 0; ch < c; ch++)
        p->shift_left |= p->rq.left[ch] != 0;
    /* Scratch: a row of W pixels and the widest strip of border pixels (te_dw_eval). */
    te_dwconv_interior_columns(&s, k, &p->ox_lo, &p->ox_hi);
    const int64_t lo = p->ox_lo, hi = p->ox_hi > lo ? p->ox_hi : lo;
    const int64_t left = lo > 0 ? (lo - 1) * s.sw + k : 0;
    const int64_t right = hi < s.ow ? (s.ow - 1 - hi) * s.sw + k : 0;
    const uint64_t cols = (uint64_t)s.w + (uint64_t)k * (uint64_t)(left > right ? left : right);
    if (c > 0 && cols > SIZE_MAX / c)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "its scratch of %lu pixels of %lu "
                               "channels does not fit in memory", (unsigned long)cols,
                               (unsigned long)c);
    node->scratch_size = (size_t)cols * c;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)taps;
    node->tasks = te_split_tasks((uint64_t)s.n * (uint64_t)s.oh, node->macs);
    return TE_OK;
}

#endif /* __ARM_NEON */
