/*
 * add_s8.c - INT8 elementwise add of two same-shape tensors, plain NEON (te_add_s8_c8__neon),
 * bit-exact with te_add_s8__ref (docs/quantization.md, TFLite's rule):
 *   a' = requantize((a - z_a) * 2^20, M_a, shift_a), b' likewise,
 *   y = clamp(requantize(a' + b', M_y, shift_y) + z_y, lo, hi)
 * eight elements at a time (SSUBL to int16, widened to int32 and shifted, the vector requantization
 * of requant_s8_neon.h three times), the last n mod 8 in scalar code. The multipliers are the
 * reference's, computed by the same expressions. Inputs that broadcast are refused with
 * TE_ERR_UNSUPPORTED (the loader takes the reference kernel).
 */
#include "requant_s8_neon.h"

#if defined(__ARM_NEON)
#include "kernels/ref/requant_s8.h"

#define ADD_LEFT_SHIFT 20

typedef struct {
    size_t count;
    int32_t z_a, z_b;
    int32_t m_a, m_b, m_y;
    int shift_a, shift_b, shift_y;
    te_neon_output out;
} te_add_s8_plan;

static int same_dims(const te_tensor *a, const te_tensor *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

te_status te_add_s8_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in != 2 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 2 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *a = node->in[0], *b = node->in[1], *y = node->out[0];
    if (!same_dims(a, b) || !same_dims(a, y))
        return te_prepare_fail(ctx, node, TE_ERR_UNSUPPORTED,
                               "takes inputs and an output of one shape only (no broadcasting)");
    te_add_s8_plan *p = (te_add_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    float s_a, s_b, s_y;
    te_status st;
    if ((st = te_expect_qparams(ctx, node, a, "input 0", -1, &s_a, &p->z_a)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, b, "input 1", -1, &s_b, &p->z_b)) != TE_OK ||
        (st = te_expect_qparams(ctx, node, y, "output", -1, &s_y, &p->out.zero_point)) != TE_OK ||
        (st = te_prepare_clamp(ctx, node, node->attrs[TE_ADD_ACT_MIN].f,
                               node->attrs[TE_ADD_ACT_MAX].f, s_y, p->out.zero_point, &p->out.lo,
                               &p->out.hi)) != TE_OK)
        return st;
    /* The reference's multipliers (ref/binary_s8.c), in the same double expressions. */
    const double t = 2.0 * ((double)s_a > (double)s_b ? (double)s_a : (double)s_b);
    if ((st = te_prepare_multiplier(ctx, node, (double)s_a / t, "input 0", &p->m_a,
                                    &p->shift_a)) != TE_OK ||
        (st = te_prepare_multiplier(ctx, node, (double)s_b / t, "input 1", &p->m_b,
                                    &p->shift_b)) != TE_OK ||
        (st = te_prepare_multiplier(ctx, node, t / ((double)(1 << ADD_LEFT_SHIFT) * (double)s_y),
                                    "output", &p->m_y, &p->shift_y)) != TE_OK)
        return st;
    p->count = y->count;
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

/* requantize((v - z) * 2^20, m, shift) for the four int16 differences v - z in d. */
static inline int32x4_t rescale4(int16x4_t d, int32x4_t m, int32x4_t left, int32x4_t right)
{
    int32x4_t v = vshlq_n_s32(vmovl_s16(d), ADD_LEFT_SHIFT);
    v = vqrdmulhq_s32(vqshlq_s32(v, left), m);
    return vrshlq_s32(v, right);
}

void te_add_s8_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_add_s8_plan *p = (const te_add_s8_plan *)node->state;
    const int8_t *a = (const int8_t *)node->in[0]->data, *b = (const int8_t *)node->in[1]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    const size_t n = p->count;
    const int8x8_t za = vdup_n_s8((int8_t)p->z_a), zb = vdup_n_s8((int8_t)p->z_b);
    const int32x4_t ma = vdupq_n_s32(p->m_a), mb = vdupq_n_s32(p->m_b), my = vdupq_n_s32(p->m_y);
    const int32x4_t la = vdupq_n_s32(p->shift_a > 0 ? p->shift_a : 0);
    const int32x4_t ra = vdupq_n_s32(p->shift_a < 0 ? p->shift_a : 0);
    const int32x4_t lb = vdupq_n_s32(p->shift_b > 0 ? p->shift_b : 0);
    const int32x4_t rb = vdupq_n_s32(p->shift_b < 0 ? p->shift_b : 0);
    const int32x4_t ly = vdupq_n_s32(p->shift_y > 0 ? p->shift_y : 0);
    const int32x4_t ry = vdupq_n_s32(p->shift_y < 0 ? p->shift_y : 0);
    const int32x4_t zy = vdupq_n_s32(p->out.zero_point);
    const int32x4_t lo = vdupq_n_s32(p->out.lo), hi = vdupq_n_s32(p->out.hi);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const int16x8_t da = vsubl_s8(vld1_s8(a + i), za), db = vsubl_s8(vld1_s8(b + i), zb);
        /* |a'|, |b'| <= 2^27 (m <= 1/2): the sum cannot overflow. */
        const int32x4_t s0 = vaddq_s32(rescale4(vget_low_s16(da), ma, la, ra),
                                       rescale4(vget_low_s16(db), mb, lb, rb));
        const int32x4_t s1 = vaddq_s32(rescale4(vget_high_s16(da), ma, la, ra),
                                       rescale4(vget_high_s16(db), mb, lb, rb));
        vst1_s8(y + i, te_neon_narrow8(te_neon_requant4(s0, my, ly, ry, zy, lo, hi),
                                       te_neon_requant4(s1, my, ly, ry, zy, lo, hi)));
    }
    for (; i < n; i++) {
        const int32_t a2 = te_requantize((a[i] - p->z_a) * (1 << ADD_LEFT_SHIFT), p->m_a, p->shift_a);
        const int32_t b2 = te_requantize((b[i] - p->z_b) * (1 << ADD_LEFT_SHIFT), p->m_b, p->shift_b);
        y[i] = te_requant_s8(a2 + b2, p->m_y, p->shift_y, p->out.zero_point, p->out.lo, p->out.hi);
    }
}

#endif /* __ARM_NEON */
