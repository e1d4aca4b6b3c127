/* layer_shape.c - shape checks of conv2d and fully_connected (see layer_shape.h). */
#include "layer_shape.h"

te_status te_expect_window_attrs(te_prepare_ctx *ctx, const te_node *node, const te_attr *strides,
                                 const te_attr *dil, const te_attr *pads)
{
    if (strides->n != 2 || strides->ints[0] < 1 || strides->ints[1] < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "strides must be 2 values >= 1 (h, w), got %u: %d, %d, ...",
                               strides->n, strides->ints[0], strides->ints[1]);
    if (dil->n != 2 || dil->ints[0] < 1 || dil->ints[1] < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "dilations must be 2 values >= 1 (h, w), got %u: %d, %d, ...",
                               dil->n, dil->ints[0], dil->ints[1]);
    if (pads->n != 4 || pads->ints[0] < 0 || pads->ints[1] < 0 || pads->ints[2] < 0 ||
        pads->ints[3] < 0)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "pads must be 4 values >= 0 (top, left, bottom, right), "
                               "got %u: %d, %d, %d, %d, ...",
                               pads->n, pads->ints[0], pads->ints[1], pads->ints[2], pads->ints[3]);
    return TE_OK;
}

te_status te_conv2d_check(te_node *node, te_prepare_ctx *ctx, te_layer_dtypes dt,
                          te_conv2d_shape *s)
{
    if (node->n_in < 2 || node->n_in > 3 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 2 or 3 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *x = node->in[0], *w = node->in[1];
    const te_tensor *bias = node->n_in > 2 ? node->in[2] : NULL;
    te_status st;
    if ((st = te_expect(ctx, node, x, "input", dt.act, 4)) != TE_OK ||
        (st = te_expect(ctx, node, w, "weight", dt.weight, 4)) != TE_OK ||
        (st = te_expect(ctx, node, node->out[0], "output", dt.act, 4)) != TE_OK)
        return st;

    const te_attr *a = node->attrs;
    const te_attr *strides = &a[TE_CONV2D_STRIDES], *dil = &a[TE_CONV2D_DILATIONS];
    const te_attr *pads = &a[TE_CONV2D_PADS];
    if ((st = te_expect_window_attrs(ctx, node, strides, dil, pads)) != TE_OK)
        return st;

    int32_t n = x->dims[0], h = x->dims[1], wd = x->dims[2], c = x->dims[3];
    int32_t o = w->dims[0], kh = w->dims[1], kw = w->dims[2], ci = w->dims[3];
    int32_t group = a[TE_CONV2D_GROUP].i;
    if (group < 1 || c % group != 0 || o % group != 0 || ci != c / group)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "input channels %d, weight [%d, %d, %d, %d] and group %d do "
                               "not fit (need group >= 1 dividing both channel counts and weight "
                               "I = C/group)", c, o, kh, kw, ci, group);
    if (bias) {
        int32_t bias_dims[1] = {o};
        if ((st = te_expect(ctx, node, bias, "bias", dt.bias, 1)) != TE_OK ||
            (st = te_expect_dims(ctx, node, bias, "bias", 1, bias_dims)) != TE_OK)
            return st;
    }
    int64_t oh = te_window_out(h, kh, strides->ints[0], dil->ints[0], pads->ints[0],
                               pads->ints[2], 0);
    int64_t ow = te_window_out(wd, kw, strides->ints[1], dil->ints[1], pads->ints[1],
                               pads->ints[3], 0);
    if (oh < 1 || ow < 1 || oh > INT32_MAX || ow > INT32_MAX)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "kernel %dx%d with dilations (%d, %d) does not fit the "
                               "padded %dx%d input", kh, kw, dil->ints[0], dil->ints[1], h, wd);
    int32_t out_dims[4] = {n, (int32_t)oh, (int32_t)ow, o};
    if ((st = te_expect_dims(ctx, node, node->out[0], "output", 4, out_dims)) != TE_OK)
        return st;

    s->n = n, s->h = h, s->w = wd, s->c = c;
    s->o = o, s->kh = kh, s->kw = kw, s->ci = ci;
    s->oh = (int32_t)oh, s->ow = (int32_t)ow, s->group = group;
    s->sh = strides->ints[0], s->sw = strides->ints[1];
    s->dh = dil->ints[0], s->dw = dil->ints[1];
    s->pt = pads->ints[0], s->pl = pads->ints[1];
    return TE_OK;
}

te_status te_fully_connected_check(te_node *node, te_prepare_ctx *ctx, te_layer_dtypes dt,
                                   te_fc_shape *s)
{
    if (node->n_in < 2 || node->n_in > 3 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 2 or 3 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *x = node->in[0], *w = node->in[1], *y = node->out[0];
    const te_tensor *bias = node->n_in > 2 ? node->in[2] : NULL;
    te_status st;
    /* x may have any rank (-1) but 0, checked next. */
    if ((st = te_expect(ctx, node, x, "input", dt.act, -1)) != TE_OK ||
        (st = te_expect(ctx, node, w, "weight", dt.weight, 2)) != TE_OK)
        return st;
    if (x->rank < 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "input must have rank >= 1, got a scalar");
    if ((st = te_expect(ctx, node, y, "output", dt.act, x->rank)) != TE_OK)
        return st;
    int32_t n = w->dims[0], k = w->dims[1];
    if (x->dims[x->rank - 1] != k)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "input's last dim %d != weight [%d, %d]'s K = %d",
                               x->dims[x->rank - 1], n, k, k);
    if (bias) {
        int32_t bias_dims[1] = {n};
        if ((st = te_expect(ctx, node, bias, "bias", dt.bias, 1)) != TE_OK ||
            (st = te_expect_dims(ctx, node, bias, "bias", 1, bias_dims)) != TE_OK)
            return st;
    }
    int32_t out_dims[TE_MAX_RANK];
    for (int i = 0; i < x->rank - 1; i++)
        out_dims[i] = x->dims[i];
    out_dims[x->rank - 1] = n;
    if ((st = te_expect_dims(ctx, node, y, "output", x->rank, out_dims)) != TE_OK)
        return st;
    s->n = (size_t)n;
    s->k = (size_t)k;
    s->m = x->count / s->k;
    return TE_OK;
}
