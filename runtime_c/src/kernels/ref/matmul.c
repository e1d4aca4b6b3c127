/*
 * matmul.c - float32 reference batched matrix product (te_matmul_f32__ref), numpy.matmul semantics
 * for ranks 2..6.
 *
 * a [..., M, K] @ b [..., K, N] -> [batch..., M, N], where the batch dims of a and b broadcast as in
 * numpy (missing leading dims and dims of 1 repeat). prepare aligns both batch shapes to the
 * output's and stores per-dim element strides (0 where an input repeats); eval walks the output
 * batches with an odometer and runs a plain M x N x K loop, summing in k order.
 */
#include "te_internal.h"

typedef struct {
    int batch_rank;                      /* output rank - 2 */
    int32_t batch_dims[TE_MAX_RANK];     /* output batch dims */
    size_t a_stride[TE_MAX_RANK];        /* elements to step a per batch index, 0 if broadcast */
    size_t b_stride[TE_MAX_RANK];
    size_t m, k, n;
} te_matmul_plan;

/* Fill strides[] for one operand whose batch dims (rank - 2 of them) align right to the output's
 * batch dims; returns 0 when a dim neither equals the output's nor is 1. */
static int matmul_batch_strides(const te_tensor *t, const te_matmul_plan *p, size_t *strides)
{
    size_t step = (size_t)t->dims[t->rank - 2] * (size_t)t->dims[t->rank - 1];
    int off = p->batch_rank - (t->rank - 2);
    for (int i = p->batch_rank - 1; i >= 0; i--) {
        int32_t d = i >= off ? t->dims[i - off] : 1;
        if (d != 1 && d != p->batch_dims[i])
            return 0;
        strides[i] = d == 1 ? 0 : step;
        step *= (size_t)d;
    }
    return 1;
}

te_status te_matmul_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    if (node->n_in != 2 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "takes 2 inputs and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    const te_tensor *a = node->in[0], *b = node->in[1], *y = node->out[0];
    te_status st;
    if ((st = te_expect(ctx, node, a, "a", TE_DTYPE_F32, -1)) != TE_OK ||
        (st = te_expect(ctx, node, b, "b", TE_DTYPE_F32, -1)) != TE_OK)
        return st;
    if (a->rank < 2 || b->rank < 2)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "inputs need rank 2..%d, got ranks %d and %d",
                               TE_MAX_RANK, a->rank, b->rank);
    int rank = a->rank > b->rank ? a->rank : b->rank;
    if ((st = te_expect(ctx, node, y, "output", TE_DTYPE_F32, rank)) != TE_OK)
        return st;
    int32_t m = a->dims[a->rank - 2], k = a->dims[a->rank - 1], n = b->dims[b->rank - 1];
    if (b->dims[b->rank - 2] != k)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "a's last dim %d != b's second-to-last dim %d",
                               k, b->dims[b->rank - 2]);

    te_matmul_plan *p = (te_matmul_plan *)te_prepare_alloc(ctx, sizeof *p);
    if (!p)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for its plan");
    p->batch_rank = rank - 2;
    p->m = (size_t)m;
    p->k = (size_t)k;
    p->n = (size_t)n;
    int32_t out_dims[TE_MAX_RANK];
    for (int i = 0; i < p->batch_rank; i++) {
        /* Right-aligned batch dims; the output's is the larger (a 1 broadcasts). */
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int32_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        p->batch_dims[i] = out_dims[i] = da > db ? da : db;
    }
    if (!matmul_batch_strides(a, p, p->a_stride) || !matmul_batch_strides(b, p, p->b_stride))
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "batch dims of a (rank %d) and b (rank %d) do not broadcast",
                               a->rank, b->rank);
    out_dims[rank - 2] = m;
    out_dims[rank - 1] = n;
    if ((st = te_expect_dims(ctx, node, y, "output", rank, out_dims)) != TE_OK)
        return st;
    node->state = p;
    node->macs = (uint64_t)y->count * (uint64_t)k;
    return TE_OK;
}

void te_matmul_f32_eval(const te_node *node, void *scratch)
{
    (void)scratch;
    const te_matmul_plan *p = (const te_matmul_plan *)node->state;
    const float *a = (const float *)node->in[0]->data, *b = (const float *)node->in[1]->data;
    float *y = (float *)node->out[0]->data;
    const size_t m = p->m, k = p->k, n = p->n;
    const size_t batches = node->out[0]->count / (m * n);
    int32_t idx[TE_MAX_RANK] = {0};
    size_t a_off = 0, b_off = 0;

    for (size_t bt = 0; bt < batches; bt++) {
        const float *ab = a + a_off, *bb = b + b_off;
        float *yb = y + bt * m * n;
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < n; j++) {
                float acc = 0.0f;
                for (size_t q = 0; q < k; q++)
                    acc += ab[i * k + q] * bb[q * n + j];
                yb[i * n + j] = acc;
            }
        }
        /* Odometer over the batch dims, last dim fastest, keeping both offsets in step. */
        for (int d = p->batch_rank - 1; d >= 0; d--) {
            a_off += p->a_stride[d];
            b_off += p->b_stride[d];
            if (++idx[d] < p->batch_dims[d])
                break;
            a_off -= p->a_stride[d] * (size_t)idx[d];
            b_off -= p->b_stride[d] * (size_t)idx[d];
            idx[d] = 0;
        }
    }
}
