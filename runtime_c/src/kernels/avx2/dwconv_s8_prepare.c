/*
 * dwconv_s8_prepare.c - the load-time step of the AVX2 INT8 depthwise kernels (dwconv_s8_avx2.h):
 * checks the node, packs the weights as int16 tap pairs, folds the input's zero point into the
 * bias, lays out the requantization for vector loads and finds the output columns whose window is
 * all inside (kernels/ref/dwconv_window.h, portable).
 */
#include "dwconv_s8_avx2.h"

#if defined(__AVX2__)
#include "kernels/ref/conv2d_s8_fits.h"
#include "kernels/ref/dwconv_window.h"
#include "quant.h"
#include "requant_prepare_avx2.h"

/* The weights [C][K * K] as the tap pairs of te_avx2_dw_pair; zeroed memory (padding channels,
 * the odd tap's partner). */
static void te_avx2_dw_pack(const int8_t *w, size_t c, int taps, size_t blocks, int16_t *wp)
{
    for (size_t ch = 0; ch < c; ch++) {
        const size_t b = ch / 16, j = ch % 16;
        /* Lane j / 8 of the vector for channels j % 8 < 4 (low) or >= 4 (high), slot j % 4. */
        const size_t at = b * 32 + (j % 8 >= 4 ? 16 : 0) + j / 8 * 8 + j % 4 * 2;
        for (int t = 0; t < taps; t++)
            wp[(size_t)(t / 2) * blocks * 32 + at + (size_t)(t % 2)] =
                w[ch * (size_t)taps + (size_t)t];
    }
}

te_status te_avx2_dwconv_s8_prepare_window(te_node *node, te_prepare_ctx *ctx, int k)
{
    te_conv2d_shape s;
    te_status st = te_conv2d_s8_fits_depthwise(node, ctx, k, &s);
    if (st != TE_OK)
        return st;
    te_avx2_dwconv_s8_plan *p = (te_avx2_dwconv_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    p->s = s;
    p->k = k;
    const te_tensor *w = node->in[1];
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    te_channel_requant rq;
    float s_x, s_y;
    int32_t lo, hi;
    if ((st = te_expect_qparams(ctx, node, node->in[0], "input", 4, &s_x, &p->x_zp)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, node->out[0], "output", 4, &s_y,
                                &p->out.zero_point)) != TE_OK ||
        (st = te_prepare_weights_s8(node, ctx, w, bt, s_x, p->x_zp, s_y, &rq)) != TE_OK ||
        (st = te_prepare_clamp(ctx, node, node->attrs[TE_CONV2D_ACT_MIN].f,
                               node->attrs[TE_CONV2D_ACT_MAX].f, s_y, p->out.zero_point,
                               &lo, &hi)) != TE_OK)
        return st;
    p->out.lo = lo - p->out.zero_point;  /* all in [-128, 127]: no overflow */
    p->out.hi = hi - p->out.zero_point;
    const size_t c = (size_t)s.c, taps = (size_t)k * (size_t)k, pairs = (taps + 1) / 2;
    p->blocks = (c + 15) / 16;
    if (p->blocks > SIZE_MAX / (pairs * 32 * sizeof(int16_t)) || c > SIZE_MAX / sizeof(int64_t))
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "%lu channels do not fit in memory",
                               (unsigned long)c);
    int16_t *wp = (int16_t *)te_prepare_alloc(ctx, pairs * p->blocks * 32 * sizeof(int16_t));
    if (!wp)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its weights (%lu "
                               "channels)", (unsigned long)c);
    int64_t *bias = NULL;  /* the bias absorbs -z_x * sum of the weights */
    if ((st = te_fold_input_zero_point(node, ctx, w, bt, p->x_zp, &bias)) != TE_OK)
        return st;
    const int8_t *wv = (const int8_t *)w->data;
    te_avx2_dw_pack(wv, c, (int)taps, p->blocks, wp);
    if ((st = te_avx2_requant_prepare(node, ctx, &rq, bias, c, &p->rq)) != TE_OK)
        return st;
    p->wp = wp;
    p->w = wv;
    /* Scratch: a row of W pixels and the widest strip of border pixels (te_avx2_dw_eval). */
    te_dwconv_interior_columns(&s, k, &p->ox_lo, &p->ox_hi);
    const int64_t first = p->ox_lo, end = p->ox_hi > first ? p->ox_hi : first;
    const int64_t left = first > 0 ? (first - 1) * s.sw + k : 0;
    const int64_t right = end < s.ow ? (s.ow - 1 - end) * s.sw + k : 0;
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

#endif /* __AVX2__ */
