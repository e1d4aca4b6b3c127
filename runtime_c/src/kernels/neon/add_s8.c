/*
 * add_s8.c - INT8 elementwise add with numpy broadcasting, plain NEON (te_add_s8_c8__neon),
 * bit-exact with te_add_s8__ref (docs/quantization.md, TFLite's rule):
 *   a' = requantize((a - z_a) * 2^20, M_a, shift_a), b' likewise,
 *   y = clamp(requantize(a' + b', M_y, shift_y) + z_y, lo, hi)
 * Prepare builds the reference's collapsed broadcast loop (kernels/ref/broadcast.h); eval walks its
 * rows. Along a row each input either steps by one element or stays on one (stride 0: a scalar, a
 * per-channel vector met again on each pixel's row, a per-pixel value broadcast over channels).
 * A stepping input is processed eight elements at a time (SSUBL to int16, widened to int32 and
 * shifted, the vector requantization of requant_s8_neon.h); a staying one is rescaled once per row
 * in scalar code and added as a constant; the last n mod 8 elements are scalar. The multipliers
 * are the reference's, computed by the same expressions.
 *
 * Refused with TE_ERR_UNSUPPORTED (the reference kernel takes them): rows shorter than 8 elements
 * (nothing to vectorize, e.g. [N, 3] + [N, 1]), and an input whose row stride is neither 0 nor 1
 * (numpy broadcasting of row-major inputs never makes one; the check keeps eval's assumption safe).
 */
#include "requant_s8_neon.h"

#if defined(__ARM_NEON)
#include "kernels/ref/broadcast.h"
#include "kernels/ref/requant_s8.h"

#define ADD_LEFT_SHIFT 20
#define ADD_MIN_ROW 8

typedef struct {
    te_loop loop;
    int32_t z_a, z_b;
    int32_t m_a, m_b, m_y;
    int shift_a, shift_b, shift_y;
    te_neon_output out;
} te_add_s8_plan;

/* The vector operands of one input's rescaling: requantize((v - z) * 2^20, M, shift). */
typedef struct {
    int8x8_t z;
    int32x4_t m, left, right;
} te_add_rescale;

te_status te_add_s8_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in != 2 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 2 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *a = node->in[0], *b = node->in[1], *y = node->out[0];
    te_add_s8_plan *p = (te_add_s8_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    int32_t dims[TE_MAX_RANK];
    int rank;
    te_status st;
    if (te_broadcast_loop(a, b, &rank, dims, &p->loop) != 0)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "inputs '%s' and '%s' do not broadcast (numpy rules: trailing dims "
                               "equal or 1)", a->name, b->name);
    if ((st = te_expect_dims(ctx, node, y, "output", rank, dims)) != TE_OK)
        return st;
    te_loop_collapse(&p->loop);
    const int last = p->loop.rank - 1;
    const ptrdiff_t sa = p->loop.strides[1][last], sb = p->loop.strides[2][last];
    if (p->loop.dims[last] < ADD_MIN_ROW || (sa != 0 && sa != 1) || (sb != 0 && sb != 1))
        return TE_ERR_UNSUPPORTED;
    float s_a, s_b, s_y;
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
    node->state = p;
    node->macs = 0;
    return TE_OK;
}

static te_add_rescale rescale_of(int32_t z, int32_t m, int shift)
{
    te_add_rescale r;
    r.z = vdup_n_s8((int8_t)z);
    r.m = vdupq_n_s32(m);
    r.left = vdupq_n_s32(shift > 0 ? shift : 0);
    r.right = vdupq_n_s32(shift < 0 ? shift : 0);
    return r;
}

/* requantize((v - z) * 2^20, m, shift) for the four int16 differences v - z in d. */
static inline int32x4_t rescale4(int16x4_t d, const te_add_rescale *r)
{
    int32x4_t v = vshlq_n_s32(vmovl_s16(d), ADD_LEFT_SHIFT);
    v = vqrdmulhq_s32(vqshlq_s32(v, r->left), r->m);
    return vrshlq_s32(v, r->right);
}

/* The rescaled values of eight elements at v: low and high four. */
static inline void rescale8(const int8_t *v, const te_add_rescale *r, int32x4_t *lo, int32x4_t *hi)
{
    const int16x8_t d = vsubl_s8(vld1_s8(v), r->z);
    *lo = rescale4(vget_low_s16(d), r);
    *hi = rescale4(vget_high_s16(d), r);
}

/* The output step's vector operands, set up once per eval. */
typedef struct {
    int32x4_t m, left, right, zero_point, lo, hi;
} te_add_output;

/* A staying input's rescaled value (computed once per row); 0 for a stepping one (unused). */
static inline int32_t rescaled_once(const int8_t *v, ptrdiff_t stride, int32_t z, int32_t m,
                                    int shift)
{
    return stride ? 0 : te_requantize((v[0] - z) * (1 << ADD_LEFT_SHIFT), m, shift);
}

/* One row of n outputs; an input with stride 0 is the single value at its pointer. */
static void add_row(const te_add_s8_plan *p, int8_t *y, const int8_t *a, ptrdiff_t sa,
                    const int8_t *b, ptrdiff_t sb, size_t n, const te_add_rescale *ra,
                    const te_add_rescale *rb, const te_add_output *o)
{
    const int32_t a_once = rescaled_once(a, sa, p->z_a, p->m_a, p->shift_a);
    const int32_t b_once = rescaled_once(b, sb, p->z_b, p->m_b, p->shift_b);
    int32x4_t a0 = vdupq_n_s32(a_once), a1 = a0, b0 = vdupq_n_s32(b_once), b1 = b0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (sa)
            rescale8(a + i, ra, &a0, &a1);
        if (sb)
            rescale8(b + i, rb, &b0, &b1);
        /* |a'|, |b'| <= 2^27 (m <= 1/2): the sum cannot overflow. */
        const int32x4_t y0 = te_neon_requant4(vaddq_s32(a0, b0), o->m, o->left, o->right,
                                              o->zero_point, o->lo, o->hi);
        const int32x4_t y1 = te_neon_requant4(vaddq_s32(a1, b1), o->m, o->left, o->right,
                                              o->zero_point, o->lo, o->hi);
        vst1_s8(y + i, te_neon_narrow8(y0, y1));
    }
    for (; i < n; i++) {
        const int32_t a2 = sa ? te_requantize((a[i] - p->z_a) * (1 << ADD_LEFT_SHIFT), p->m_a,
                                              p->shift_a) : a_once;
        const int32_t b2 = sb ? te_requantize((b[i] - p->z_b) * (1 << ADD_LEFT_SHIFT), p->m_b,
                                              p->shift_b) : b_once;
        y[i] = te_requant_s8(a2 + b2, p->m_y, p->shift_y, p->out.zero_point, p->out.lo, p->out.hi);
    }
}

void te_add_s8_neon_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    const te_add_s8_plan *p = (const te_add_s8_plan *)node->state;
    const te_loop *loop = &p->loop;
    const int8_t *a = (const int8_t *)node->in[0]->data, *b = (const int8_t *)node->in[1]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    const te_add_rescale ra = rescale_of(p->z_a, p->m_a, p->shift_a);
    const te_add_rescale rb = rescale_of(p->z_b, p->m_b, p->shift_b);
    te_add_output o;
    o.m = vdupq_n_s32(p->m_y);
    o.left = vdupq_n_s32(p->shift_y > 0 ? p->shift_y : 0);
    o.right = vdupq_n_s32(p->shift_y < 0 ? p->shift_y : 0);
    o.zero_point = vdupq_n_s32(p->out.zero_point);
    o.lo = vdupq_n_s32(p->out.lo);
    o.hi = vdupq_n_s32(p->out.hi);
    const int last = loop->rank - 1;
    const size_t rows = te_loop_rows(loop), n = loop->dims[last];
    size_t idx[TE_MAX_RANK] = {0};
    ptrdiff_t off[TE_LOOP_MAX_OPERANDS] = {0, 0, 0};
    for (size_t r = 0; r < rows; r++) {
        add_row(p, y + off[0], a + off[1], loop->strides[1][last], b + off[2],
                loop->strides[2][last], n, &ra, &rb, &o);
        te_loop_next(loop, idx, off);
    }
}

#endif /* __ARM_NEON */
