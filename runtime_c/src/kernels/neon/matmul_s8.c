/*
 * matmul_s8.c - INT8 batched matrix product, plain NEON (te_matmul_s8_4x8__neon), numpy.matmul
 * semantics for ranks 2..6 with broadcast batch dims (kernels/ref/matmul_plan.h), bit-exact with
 * te_matmul_s8__ref (docs/quantization.md):
 *   acc[i, j] = sum_k (a[i, k] - z_a) * (b[k, j] - z_b)
 *   y = sat8(requantize(acc, M, shift) + z_y)
 * b may be computed at run time, so eval packs each b matrix it needs into scratch as int16
 * (b - z_b), [K][N8] with N rounded up to 8 and zero columns (once per distinct b batch: a b
 * shared by all batches is packed once per task). A 4x8 tile of int32 accumulators then takes, per
 * eight k, one SSUBL of each row's eight a values and per k one load of packed b and eight SMLAL by
 * lane (int16 x int16 widened, exact); k mod 8 are added with the a value as a scalar. The integer
 * sum is exact in any order (prepare's bound, the reference's, keeps every partial sum in int32),
 * the output step is requant_s8_neon.h's. Padding columns are computed and not stored.
 * Refused with TE_ERR_UNSUPPORTED (the reference kernel takes them): a packed b above
 * TE_MATMUL_S8_MAX_PACK bytes (its scratch would crowd the arena). Output rows (batch, i) are split
 * among tasks.
 */
#include "requant_s8_neon.h"

#if defined(__ARM_NEON)
#include <string.h>

#include "kernels/ref/matmul_plan.h"
#include "kernels/ref/requant_s8.h"
#include "quant.h"

#define TE_MATMUL_S8_MAX_PACK ((size_t)256 * 1024)

typedef struct {
    te_matmul_plan mp;
    size_t n8;  /* n rounded up to 8 */
    te_matmul_s8_quant q;
} te_matmul_s8_neon_plan;

te_status te_matmul_s8_neon_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_matmul_s8_neon_plan *p = (te_matmul_s8_neon_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    te_status st = te_matmul_check(node, ctx, TE_DTYPE_I8, &p->mp);
    if (st != TE_OK)
        return st;
    p->n8 = (p->mp.n + 7) / 8 * 8;
    if (p->mp.k != 0 && p->n8 > TE_MATMUL_S8_MAX_PACK / sizeof(int16_t) / p->mp.k)
        return TE_ERR_UNSUPPORTED;
    /* The reference's parameters, overflow bound and multiplier (ref/matmul_plan.c). */
    if ((st = te_matmul_s8_quant_check(node, ctx, &p->mp, &p->q)) != TE_OK)
        return st;
    node->state = p;
    node->scratch_size = p->mp.k * p->n8 * sizeof(int16_t);
    node->macs = (uint64_t)node->out[0]->count * (uint64_t)p->mp.k;
    if (p->mp.n > 0)
        node->tasks = te_split_tasks(node->out[0]->count / p->mp.n, node->macs);
    return TE_OK;
}

/* packed[q][j] = b[q][j] - z_b for j < n, 0 for n <= j < n8. */
static void pack_b(const te_matmul_s8_neon_plan *p, const int8_t *b, int16_t *packed)
{
    const size_t k = p->mp.k, n = p->mp.n, n8 = p->n8;
    const int8x8_t zb = vdup_n_s8((int8_t)p->q.b_zp);
    for (size_t q = 0; q < k; q++) {
        const int8_t *br = b + q * n;
        int16_t *pr = packed + q * n8;
        size_t j = 0;
        for (; j + 8 <= n; j += 8)
            vst1q_s16(pr + j, vsubl_s8(vld1_s8(br + j), zb));
        for (; j < n; j++)
            pr[j] = (int16_t)(br[j] - p->q.b_zp);
        for (; j < n8; j++)
            pr[j] = 0;
    }
}

/* The output step: eight accumulators (lo, hi) to int8, `count` <= 8 of them stored at y. */
static inline void store8(const te_matmul_s8_neon_plan *p, int8_t *y, size_t count, int32x4_t lo,
                          int32x4_t hi)
{
    const int32x4_t m = vdupq_n_s32(p->q.mult);
    const int32x4_t left = vdupq_n_s32(p->q.shift > 0 ? p->q.shift : 0);
    const int32x4_t right = vdupq_n_s32(p->q.shift < 0 ? p->q.shift : 0);
    const int32x4_t z = vdupq_n_s32(p->q.y_zp);
    const int32x4_t vlo = vdupq_n_s32(-128), vhi = vdupq_n_s32(127);
    const int8x8_t v = te_neon_narrow8(te_neon_requant4(lo, m, left, right, z, vlo, vhi),
                                       te_neon_requant4(hi, m, left, right, z, vlo, vhi));
    if (count == 8) {
        vst1_s8(y, v);
        return;
    }
    int8_t tmp[8];
    vst1_s8(tmp, v);
    memcpy(y, tmp, count);
}

/* acc (lo, hi) += packed row times lane l of the int16x4 a. */
#define SMLAL(lo, hi, w, av, l)                                   \
    do {                                                          \
        (lo) = vmlal_lane_s16((lo), vget_low_s16(w), (av), (l));  \
        (hi) = vmlal_lane_s16((hi), vget_high_s16(w), (av), (l)); \
    } while (0)

#define STEP_4X8(wq, v0, v1, v2, v3, l)                           \
    do {                                                          \
        const int16x8_t w_ = vld1q_s16(wq);                       \
        SMLAL(c00, c01, w_, v0, l);                               \
        SMLAL(c10, c11, w_, v1, l);                               \
        SMLAL(c20, c21, w_, v2, l);                               \
        SMLAL(c30, c31, w_, v3, l);                               \
    } while (0)

/* Rows a..a+3 (a, lda = k) by packed columns j..j+7 into y rows (ldy = n). */
static void tile_4x8(const te_matmul_s8_neon_plan *p, const int8_t *a, const int16_t *packed,
                     size_t j, int8_t *y)
{
    const size_t k = p->mp.k, n = p->mp.n, n8 = p->n8;
    const int8_t *a0 = a, *a1 = a + k, *a2 = a1 + k, *a3 = a2 + k;
    const int8x8_t za = vdup_n_s8((int8_t)p->q.a_zp);
    int32x4_t c00 = vdupq_n_s32(0), c01 = c00, c10 = c00, c11 = c00;
    int32x4_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const int16_t *wq = packed + j;
    size_t q = 0;
    for (; q + 8 <= k; q += 8, wq += 8 * n8) {
        const int16x8_t d0 = vsubl_s8(vld1_s8(a0 + q), za), d1 = vsubl_s8(vld1_s8(a1 + q), za);
        const int16x8_t d2 = vsubl_s8(vld1_s8(a2 + q), za), d3 = vsubl_s8(vld1_s8(a3 + q), za);
        const int16x4_t l0 = vget_low_s16(d0), l1 = vget_low_s16(d1);
        const int16x4_t l2 = vget_low_s16(d2), l3 = vget_low_s16(d3);
        const int16x4_t h0 = vget_high_s16(d0), h1 = vget_high_s16(d1);
        const int16x4_t h2 = vget_high_s16(d2), h3 = vget_high_s16(d3);
        STEP_4X8(wq, l0, l1, l2, l3, 0);
        STEP_4X8(wq + n8, l0, l1, l2, l3, 1);
        STEP_4X8(wq + 2 * n8, l0, l1, l2, l3, 2);
        STEP_4X8(wq + 3 * n8, l0, l1, l2, l3, 3);
        STEP_4X8(wq + 4 * n8, h0, h1, h2, h3, 0);
        STEP_4X8(wq + 5 * n8, h0, h1, h2, h3, 1);
        STEP_4X8(wq + 6 * n8, h0, h1, h2, h3, 2);
        STEP_4X8(wq + 7 * n8, h0, h1, h2, h3, 3);
    }
    for (; q < k; q++, wq += n8) {
        const int16_t z = (int16_t)p->q.a_zp;
        const int16x4_t v0 = vdup_n_s16((int16_t)(a0[q] - z)), v1 = vdup_n_s16((int16_t)(a1[q] - z));
        const int16x4_t v2 = vdup_n_s16((int16_t)(a2[q] - z)), v3 = vdup_n_s16((int16_t)(a3[q] - z));
        STEP_4X8(wq, v0, v1, v2, v3, 0);
    }
    const size_t count = n - j < 8 ? n - j : 8;
    store8(p, y + j, count, c00, c01);
    store8(p, y + n + j, count, c10, c11);
    store8(p, y + 2 * n + j, count, c20, c21);
    store8(p, y + 3 * n + j, count, c30, c31);
}

/* One row of a by packed columns j..j+7. */
static void tile_1x8(const te_matmul_s8_neon_plan *p, const int8_t *a, const int16_t *packed,
                     size_t j, int8_t *y)
{
    const size_t k = p->mp.k, n = p->mp.n, n8 = p->n8;
    const int8x8_t za = vdup_n_s8((int8_t)p->q.a_zp);
    int32x4_t lo = vdupq_n_s32(0), hi = lo;
    const int16_t *wq = packed + j;
    size_t q = 0;
    for (; q + 8 <= k; q += 8, wq += 8 * n8) {
        const int16x8_t d = vsubl_s8(vld1_s8(a + q), za);
        const int16x4_t l = vget_low_s16(d), h = vget_high_s16(d);
        SMLAL(lo, hi, vld1q_s16(wq), l, 0);
        SMLAL(lo, hi, vld1q_s16(wq + n8), l, 1);
        SMLAL(lo, hi, vld1q_s16(wq + 2 * n8), l, 2);
        SMLAL(lo, hi, vld1q_s16(wq + 3 * n8), l, 3);
        SMLAL(lo, hi, vld1q_s16(wq + 4 * n8), h, 0);
        SMLAL(lo, hi, vld1q_s16(wq + 5 * n8), h, 1);
        SMLAL(lo, hi, vld1q_s16(wq + 6 * n8), h, 2);
        SMLAL(lo, hi, vld1q_s16(wq + 7 * n8), h, 3);
    }
    for (; q < k; q++, wq += n8)
        SMLAL(lo, hi, vld1q_s16(wq), vdup_n_s16((int16_t)(a[q] - p->q.a_zp)), 0);
    store8(p, y + j, n - j < 8 ? n - j : 8, lo, hi);
}

/* Offsets of a and b in output batch `bt` (te_matmul_next_batch's odometer, computed directly). */
static void batch_offsets(const te_matmul_plan *p, size_t bt, size_t *a_off, size_t *b_off)
{
    *a_off = 0;
    *b_off = 0;
    for (int d = p->batch_rank - 1; d >= 0; d--) {
        const size_t i = bt % (size_t)p->batch_dims[d];
        bt /= (size_t)p->batch_dims[d];
        *a_off += i * p->a_stride[d];
        *b_off += i * p->b_stride[d];
    }
}

void te_matmul_s8_neon_eval(const te_node *node, void *scratch, int task)
{
    const te_matmul_s8_neon_plan *p = (const te_matmul_s8_neon_plan *)node->state;
    const int8_t *a = (const int8_t *)node->in[0]->data, *b = (const int8_t *)node->in[1]->data;
    int8_t *y = (int8_t *)node->out[0]->data;
    int16_t *packed = (int16_t *)scratch;
    const size_t m = p->mp.m, k = p->mp.k, n = p->mp.n;
    if (m * n == 0)
        return;
    int64_t first, end;  /* this task's output rows bt * m + i */
    te_task_range(node->out[0]->count / n, node->tasks, task, &first, &end);
    size_t packed_off = (size_t)-1;  /* the b batch in scratch: none yet */
    for (size_t row = (size_t)first; row < (size_t)end;) {
        const size_t bt = row / m, i0 = row % m;
        const size_t rows = (m - i0 < (size_t)end - row) ? m - i0 : (size_t)end - row;
        size_t a_off, b_off;
        batch_offsets(&p->mp, bt, &a_off, &b_off);
        if (b_off != packed_off) {
            pack_b(p, b + b_off, packed);
            packed_off = b_off;
        }
        const int8_t *ab = a + a_off + i0 * k;
        int8_t *yb = y + row * n;
        size_t i = 0;
        for (; i + 4 <= rows; i += 4)
            for (size_t j = 0; j < n; j += 8)
                tile_4x8(p, ab + i * k, packed, j, yb + i * n);
        for (; i < rows; i++)
            for (size_t j = 0; j < n; j += 8)
                tile_1x8(p, ab + i * k, packed, j, yb + i * n);
        row += rows;
    }
}

#endif /* __ARM_NEON */
