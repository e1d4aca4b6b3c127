/*
 * shapes.c - checks shared by the prepare steps of every kernel, and the sliding-window formula.
 *
 * Every message names the role of the tensor in the op (`what`, e.g. "input 0"), the tensor and what
 * was expected instead; te_prepare_fail adds the op and the node.
 */
#include <stdio.h>

#include "te_internal.h"

static const char *dtype_name(te_dtype dtype)
{
    switch (dtype) {
    case TE_DTYPE_F32: return "float32";
    case TE_DTYPE_I8: return "int8";
    case TE_DTYPE_U8: return "uint8";
    case TE_DTYPE_I32: return "int32";
    case TE_DTYPE_I16: return "int16";
    }
    return "unknown";
}

/* Write dims as "(2, 3, 4)" into buf (truncated, always NUL-terminated). */
static const char *dims_text(char *buf, size_t size, int rank, const int32_t *dims)
{
    size_t used = 0;
    int i;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "(");
    for (i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %ld" : "%ld", (long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, rank == 1 ? ",)" : ")");
    return buf;
}

/* rank < 0 accepts any rank from 0 to TE_MAX_RANK. */
te_status te_expect(te_prepare_ctx *ctx, const te_node *node, const te_tensor *t, const char *what,
                    te_dtype dtype, int rank)
{
    if (t == NULL)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "%s is missing", what);
    if (t->dtype != dtype)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "%s '%s' is %s; this kernel takes %s", what,
                               t->name, dtype_name(t->dtype), dtype_name(dtype));
    if (t->rank < 0 || t->rank > TE_MAX_RANK)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "%s '%s' has rank %d; ranks 0..%d are supported",
                               what, t->name, t->rank, TE_MAX_RANK);
    if (rank >= 0 && t->rank != rank)
        return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "%s '%s' has rank %d, expected rank %d", what,
                               t->name, t->rank, rank);
    return TE_OK;
}

te_status te_expect_dims(te_prepare_ctx *ctx, const te_node *node, const te_tensor *t,
                         const char *what, int rank, const int32_t *dims)
{
    char got[96], want[96];
    int i, same = t->rank == rank;
    for (i = 0; same && i < rank; i++)
        same = t->dims[i] == dims[i];
    if (same)
        return TE_OK;
    return te_prepare_fail(ctx, node, TE_ERR_SHAPE, "%s '%s' has shape %s, the op gives %s", what,
                           t->name, dims_text(got, sizeof got, t->rank, t->dims),
                           dims_text(want, sizeof want, rank, dims));
}

/* conv_out_size of tinyedge/ir/ops.py. Beyond the cases where that raises (the window does not fit),
 * -1 also answers parameters no kernel accepts (size, k, stride or dilation below 1, negative pads),
 * so that a caller cannot divide by a zero stride or index with a negative one. */
int64_t te_window_out(int64_t size, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin,
                      int64_t pad_end, int ceil_mode)
{
    /* 2^31: every argument comes from an int32 dim or attribute; bounding them keeps the int64
     * arithmetic below far from overflow. */
    const int64_t lim = (int64_t)1 << 31;
    int64_t span, room, out;
    if (size < 1 || k < 1 || stride < 1 || dilation < 1 || pad_begin < 0 || pad_end < 0)
        return -1;
    if (size > lim || k > lim || stride > lim || dilation > lim || pad_begin > lim || pad_end > lim)
        return -1;
    span = (k - 1) * dilation + 1;
    room = size + pad_begin + pad_end - span;
    if (room < 0)
        return -1;
    if (!ceil_mode)
        return room / stride + 1;
    out = room / stride + (room % stride != 0) + 1;
    /* The last window must start inside the input or the leading pad (PyTorch and ONNX). */
    if ((out - 1) * stride >= size + pad_begin)
        out -= 1;
    return out;
}
