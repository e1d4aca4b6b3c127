/* conv2d_s8_fits.c - the INT8 conv2d specializations' shape checks (see conv2d_s8_fits.h). */
#include "conv2d_s8_fits.h"

#include "dwconv_window.h"

static const te_layer_dtypes S8 = {TE_DTYPE_I8, TE_DTYPE_I8, TE_DTYPE_I32};

te_status te_conv2d_s8_fits_pointwise(te_node *node, te_prepare_ctx *ctx, te_conv2d_shape *s)
{
    te_status st = te_conv2d_check(node, ctx, S8, s);
    if (st != TE_OK)
        return st;
    if (s->kh != 1 || s->kw != 1 || s->group != 1 || s->sh != 1 || s->sw != 1 || s->pt != 0 ||
        s->pl != 0 || s->oh != s->h || s->ow != s->w)
        return te_prepare_fail(ctx, node, TE_ERR_UNSUPPORTED,
                               "takes 1x1 convolutions with stride 1, no padding and one group only "
                               "(this one: %dx%d, stride %dx%d, group %d)", (int)s->kh, (int)s->kw,
                               (int)s->sh, (int)s->sw, (int)s->group);
    return TE_OK;
}

te_status te_conv2d_s8_fits_one_group(te_node *node, te_prepare_ctx *ctx, te_conv2d_shape *s)
{
    te_status st = te_conv2d_check(node, ctx, S8, s);
    if (st != TE_OK)
        return st;
    if (s->group != 1)
        return te_prepare_fail(ctx, node, TE_ERR_UNSUPPORTED,
                               "takes convolutions with one group only (this one has %d)",
                               (int)s->group);
    return TE_OK;
}

te_status te_conv2d_s8_fits_depthwise(te_node *node, te_prepare_ctx *ctx, int k,
                                      te_conv2d_shape *s)
{
    te_status st = te_conv2d_check(node, ctx, S8, s);
    if (st != TE_OK)
        return st;
    if (!te_dwconv_fits(s, k))
        return te_prepare_fail(ctx, node, TE_ERR_UNSUPPORTED,
                               "takes depthwise (group = channels = outputs) %dx%d convolutions "
                               "with strides 1 or 2 and no dilation only (this one: %dx%d, group "
                               "%d of %d channels, stride %dx%d, dilation %dx%d)", k, k,
                               (int)s->kh, (int)s->kw, (int)s->group, (int)s->c, (int)s->sh,
                               (int)s->sw, (int)s->dh, (int)s->dw);
    return TE_OK;
}
