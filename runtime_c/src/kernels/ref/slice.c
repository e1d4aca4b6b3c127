/*
 * slice.c - reference slice of float32 (te_slice_f32__ref) and of int8 bytes (te_slice_x8__ref,
 * which keeps the input's quantization parameters): out[i...] = x[starts + i * steps ...], one
 * normalized (start, end, step) per dim, as the IR's slice (tinyedge/ir/ops.py): a dim keeps
 * len(range(start, end, step)) elements and every index read lies inside the input. Steps may be
 * negative. The read is a strided walk (broadcast.h) from the element at `starts`.
 */
#include "broadcast.h"
#include "quant.h"

typedef struct {
    te_loop loop;      /* operands: output, input (strides scaled by the steps) */
    ptrdiff_t origin;  /* element offset of x[starts] */
    int empty;         /* an output dim of 0: nothing to copy (and `origin` may lie outside x) */
} slice_state;

/* len(range(start, end, step)) for step != 0; int64 cannot overflow on int32 arguments. */
static int64_t range_len(int64_t start, int64_t end, int64_t step)
{
    if (step > 0)
        return end > start ? (end - start + step - 1) / step : 0;
    return start > end ? (start - end - step - 1) / -step : 0;
}

static te_status slice_prepare(te_node *node, te_prepare_ctx *ctx, te_dtype dtype)
{
    const te_attr *starts = &node->attrs[TE_SLICE_STARTS], *ends = &node->attrs[TE_SLICE_ENDS];
    const te_attr *steps = &node->attrs[TE_SLICE_STEPS];
    const te_tensor *x = node->in[0];
    ptrdiff_t in_strides[TE_MAX_RANK], out_strides[TE_MAX_RANK];
    int32_t dims[TE_MAX_RANK];
    slice_state *st;
    te_status s;
    int i, empty = 0;
    if (node->n_in != 1 || node->n_out != 1)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "takes 1 input and 1 output, got %d and %d",
                               node->n_in, node->n_out);
    if ((s = te_expect(ctx, node, x, "input", dtype, -1)) != TE_OK ||
        (s = te_expect(ctx, node, node->out[0], "output", dtype, x->rank)) != TE_OK)
        return s;
    if (starts->n != (uint32_t)x->rank || ends->n != (uint32_t)x->rank ||
        steps->n != (uint32_t)x->rank)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                               "%u starts, %u ends, %u steps for an input of rank %d; slice needs one "
                               "of each per dim", (unsigned)starts->n, (unsigned)ends->n,
                               (unsigned)steps->n, x->rank);
    for (i = 0; i < x->rank; i++) {
        const int64_t d = x->dims[i], b = starts->ints[i], e = ends->ints[i], k = steps->ints[i];
        int64_t n;
        if (k == 0)
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "step of dim %d is 0", i);
        n = range_len(b, e, k);
        if (n > 0 && !(0 <= b && b < d && 0 <= b + (n - 1) * k && b + (n - 1) * k < d))
            return te_prepare_fail(ctx, node, TE_ERR_SHAPE,
                                   "dim %d of size %ld: start %ld, end %ld, step %ld reads outside "
                                   "0..%ld", i, (long)d, (long)b, (long)e, (long)k, (long)(d - 1));
        dims[i] = (int32_t)n;  /* n <= d: every index read is a distinct element of the dim */
        empty |= n == 0;
    }
    if ((s = te_expect_dims(ctx, node, node->out[0], "output", x->rank, dims)) != TE_OK)
        return s;
    st = (slice_state *)te_prepare_alloc(ctx, sizeof *st);
    if (st == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_NOMEM, "out of memory for the slice plan");
    te_row_major_strides(x->rank, x->dims, in_strides);
    te_row_major_strides(x->rank, dims, out_strides);
    st->loop.rank = x->rank;
    st->loop.n_operands = 2;
    st->origin = 0;
    st->empty = empty;
    for (i = 0; i < x->rank && !empty; i++) {
        st->loop.dims[i] = (size_t)dims[i];
        st->loop.strides[0][i] = out_strides[i];
        st->loop.strides[1][i] = in_strides[i] * steps->ints[i];
        st->origin += in_strides[i] * starts->ints[i];
    }
    if (empty)
        st->loop.rank = 0;
    te_loop_collapse(&st->loop);
    node->state = st;
    node->macs = 0;
    return TE_OK;
}

static void slice_run(const te_node *node, size_t elem_size)
{
    const slice_state *st = (const slice_state *)node->state;
    if (!st->empty)
        te_loop_gather(&st->loop, node->out[0]->data,
                       (const unsigned char *)node->in[0]->data + st->origin * (ptrdiff_t)elem_size,
                       elem_size);
}

te_status te_slice_f32_prepare(te_node *node, te_prepare_ctx *ctx)
{
    return slice_prepare(node, ctx, TE_DTYPE_F32);
}

te_status te_slice_x8_prepare(te_node *node, te_prepare_ctx *ctx)
{
    te_status s = slice_prepare(node, ctx, TE_DTYPE_I8);
    return s != TE_OK ? s : te_expect_same_qparams(ctx, node, node->in[0], node->out[0]);
}

void te_slice_f32_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    slice_run(node, sizeof(float));
}

void te_slice_x8_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    (void)task;
    slice_run(node, 1);
}
