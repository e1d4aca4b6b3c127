/*
 * conv2d_f32_1x1.c - float32 1x1 convolution on NEON (te_conv2d_f32_1x1_4x8__neon): a GEMM of the
 * input pixels [pixels, C] by the packed weight [C, O] (gemm_f32_4x8.h), bias and clamp fused.
 *
 * Takes: kernel 1x1, one group, no padding, constant weight, any stride. With stride 1 the pixels
 * of a whole image are one GEMM; otherwise each output row is a GEMM over every sw-th input pixel
 * of input row oy * sh. Anything else is refused with TE_ERR_UNSUPPORTED (the next kernel takes
 * it). Each output is bias + sum over ic in order, as te_conv2d_f32__ref: bit-identical to it.
 * The output rows (image, oy) are split among tasks (te_internal.h).
 */
#if defined(__ARM_NEON)

#include <math.h>

#include "../ref/conv2d_pack.h"
#include "gemm_f32_4x8.h"

typedef struct {
    te_conv2d_shape s;
    const float *packed;  /* [C][O] */
} te_conv2d_f32_1x1_plan;

te_status te_conv2d_f32_1x1_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    const te_layer_dtypes dt = {TE_DTYPE_F32, TE_DTYPE_F32, TE_DTYPE_F32};
    const te_attr *pads = &node->attrs[TE_CONV2D_PADS];
    te_conv2d_shape s;
    te_status st = te_conv2d_check(node, ctx, dt, &s);
    if (st != TE_OK)
        return st;
    if (s.kh != 1 || s.kw != 1 || s.group != 1 || node->in[1]->storage != 1)
        return TE_ERR_UNSUPPORTED;
    for (uint32_t i = 0; i < pads->n; i++)
        if (pads->ints[i] != 0)
            return TE_ERR_UNSUPPORTED;
    float act_min = node->attrs[TE_CONV2D_ACT_MIN].f, act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    if (isnan(act_min) || isnan(act_max))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "fused clamp [%g, %g] has a NaN bound",
                               act_min, act_max);

    te_conv2d_f32_1x1_plan *p = (te_conv2d_f32_1x1_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    const void *packed;
    if ((st = te_conv2d_pack_const(ctx, node, &s, TE_CONV2D_GENERAL, sizeof(float), &packed)) != TE_OK)
        return st;
    p->s = s;
    p->packed = (const float *)packed;
    node->state = p;
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)s.c;
    node->tasks = te_split_tasks((uint64_t)s.n * (uint64_t)s.oh, node->macs);
    return TE_OK;
}

void te_conv2d_f32_1x1_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    const te_conv2d_f32_1x1_plan *p = (const te_conv2d_f32_1x1_plan *)node->state;
    const te_conv2d_shape *s = &p->s;
    const te_tensor *bt = node->n_in > 2 ? node->in[2] : NULL;
    const float *x = (const float *)node->in[0]->data;
    const float *bias = bt ? (const float *)bt->data : NULL;
    float *y = (float *)node->out[0]->data;
    const float act_min = node->attrs[TE_CONV2D_ACT_MIN].f;
    const float act_max = node->attrs[TE_CONV2D_ACT_MAX].f;
    const size_t c = (size_t)s->c, o = (size_t)s->o, ow = (size_t)s->ow, oh = (size_t)s->oh;
    int64_t row0, row1;  /* this task's output rows b * oh + oy */
    te_task_range((uint64_t)s->n * oh, node->tasks, task, &row0, &row1);

    if (s->sh == 1 && s->sw == 1) {  /* output pixel i reads input pixel i */
        const size_t first = (size_t)row0 * ow;
        te_gemm_f32_4x8__neon((size_t)(row1 - row0) * ow, o, c, x + first * c, c, p->packed, bias,
                              y + first * o, o, act_min, act_max);
        return;
    }
    for (size_t row = (size_t)row0; row < (size_t)row1; row++) {
        const size_t b = row / oh, oy = row % oh;
        const float *xrow = x + ((b * (size_t)s->h + oy * (size_t)s->sh) * (size_t)s->w) * c;
        te_gemm_f32_4x8__neon(ow, o, c, xrow, (size_t)s->sw * c, p->packed, bias, y + row * ow * o,
                              o, act_min, act_max);
    }
}

#endif /* __ARM_NEON */
