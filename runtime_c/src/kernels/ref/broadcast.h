/*
 * broadcast.h - strided loop nests for the elementwise and data-movement reference kernels.
 *
 * A te_loop walks an output of up to TE_MAX_RANK dims in row-major order while up to three operands
 * (the output and one or two inputs) follow their own element strides: 0 along a broadcast dim,
 * a permuted stride for transpose, a scaled one (maybe negative) for slice. Prepare builds the loop
 * and collapses it (te_loop_collapse): size-1 dims are dropped and neighbouring dims that every
 * operand walks contiguously are merged, so that a same-shape add becomes one row of `count`
 * elements and a per-channel add becomes rows of C. Eval then calls a row function once per row
 * (te_loop_rows rows of dims[rank - 1] elements), advancing the operand offsets with te_loop_next.
 * The row functions are the part that SIMD kernels replace.
 */
#ifndef TE_REF_BROADCAST_H
#define TE_REF_BROADCAST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "te_internal.h"

#define TE_LOOP_MAX_OPERANDS 3

typedef struct {
    int rank;                 /* >= 1 once collapsed */
    int n_operands;           /* operand 0 is the output by convention */
    size_t dims[TE_MAX_RANK];
    ptrdiff_t strides[TE_LOOP_MAX_OPERANDS][TE_MAX_RANK]; /* in elements */
} te_loop;

/* Row-major element strides of a tensor's dims. */
static inline void te_row_major_strides(int rank, const int32_t *dims, ptrdiff_t *strides)
{
    ptrdiff_t s = 1;
    int i;
    for (i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

/* Numpy broadcasting of a and b (rank <= TE_MAX_RANK each): writes the output rank and dims and a
 * loop with operands (output, a, b). Returns 0, or -1 when the shapes do not broadcast. */
static inline int te_broadcast_loop(const te_tensor *a, const te_tensor *b, int *out_rank,
                                    int32_t *out_dims, te_loop *loop)
{
    ptrdiff_t sa[TE_MAX_RANK], sb[TE_MAX_RANK], so[TE_MAX_RANK];
    int rank = a->rank > b->rank ? a->rank : b->rank;
    int i;
    te_row_major_strides(a->rank, a->dims, sa);
    te_row_major_strides(b->rank, b->dims, sb);
    /* Align the trailing dims; a missing leading dim behaves as a dim of 1. */
    for (i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int32_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return -1;
        out_dims[i] = da == 1 ? db : da;
        loop->dims[i] = (size_t)out_dims[i];
        loop->strides[1][i] = (da == 1) ? 0 : sa[ia];
        loop->strides[2][i] = (db == 1) ? 0 : sb[ib];
    }
    te_row_major_strides(rank, out_dims, so);
    for (i = 0; i < rank; i++)
        loop->strides[0][i] = so[i];
    *out_rank = rank;
    loop->rank = rank;
    loop->n_operands = 3;
    return 0;
}

/* Drop size-1 dims and merge dim i into dim i + 1 wherever every operand steps over dim i exactly
 * as if it continued dim i + 1 (stride[i] == stride[i + 1] * dims[i + 1]). The walk it describes is
 * unchanged; the rows only get longer. A loop of no dims becomes one row of one element. */
static inline void te_loop_collapse(te_loop *loop)
{
    te_loop c;
    int i, k;
    c.rank = 0;
    c.n_operands = loop->n_operands;
    for (i = 0; i < loop->rank; i++) {
        int mergeable = c.rank > 0;
        if (loop->dims[i] == 1)
            continue;
        for (k = 0; k < loop->n_operands && mergeable; k++)
            mergeable = c.strides[k][c.rank - 1] == loop->strides[k][i] * (ptrdiff_t)loop->dims[i];
        if (mergeable) {
            c.dims[c.rank - 1] *= loop->dims[i];
            for (k = 0; k < loop->n_operands; k++)
                c.strides[k][c.rank - 1] = loop->strides[k][i];
            continue;
        }
        c.dims[c.rank] = loop->dims[i];
        for (k = 0; k < loop->n_operands; k++)
            c.strides[k][c.rank] = loop->strides[k][i];
        c.rank++;
    }
    if (c.rank == 0) {
        c.rank = 1;
        c.dims[0] = 1;
        for (k = 0; k < c.n_operands; k++)
            c.strides[k][0] = 1;
    }
    *loop = c;
}

/* Number of rows (product of all dims but the last). */
static inline size_t te_loop_rows(const te_loop *loop)
{
    size_t rows = 1;
    int i;
    for (i = 0; i < loop->rank - 1; i++)
        rows *= loop->dims[i];
    return rows;
}

/* Step the row index idx (over dims [0, rank - 1)) like an odometer and move the operand offsets
 * off[] along. idx and off start at zero. */
static inline void te_loop_next(const te_loop *loop, size_t *idx, ptrdiff_t *off)
{
    int d, k;
    for (d = loop->rank - 2; d >= 0; d--) {
        for (k = 0; k < loop->n_operands; k++)
            off[k] += loop->strides[k][d];
        if (++idx[d] < loop->dims[d])
            return;
        for (k = 0; k < loop->n_operands; k++)
            off[k] -= loop->strides[k][d] * (ptrdiff_t)loop->dims[d];
        idx[d] = 0;
    }
}

/* One row of a gather: n elements of elem_size bytes, the input stepping by `stride` elements. */
static inline void te_gather_row(unsigned char *o, const unsigned char *in, ptrdiff_t stride, size_t n,
                                 size_t elem_size)
{
    size_t i;
    if (stride == 1) {
        memcpy(o, in, n * elem_size);
        return;
    }
    /* The widths tinyedge stores get their own loop so that the compiler can widen it. */
    if (elem_size == 4) {
        for (i = 0; i < n; i++)
            memcpy(o + 4 * i, in + (ptrdiff_t)i * stride * 4, 4);
    } else if (elem_size == 1) {
        for (i = 0; i < n; i++)
            o[i] = in[(ptrdiff_t)i * stride];
    } else {
        for (i = 0; i < n; i++)
            memcpy(o + i * elem_size, in + (ptrdiff_t)i * stride * (ptrdiff_t)elem_size, elem_size);
    }
}

/* Copy the walk of operand 1 (x) into operand 0 (out, contiguous rows): the eval of transpose and
 * slice, for elements of any size (float32 and int8 share it). Along a row the input steps by its
 * own stride (any sign). */
static inline void te_loop_gather(const te_loop *loop, void *out, const void *x, size_t elem_size)
{
    const int last = loop->rank - 1;
    const ptrdiff_t stride = loop->strides[1][last];
    const size_t rows = te_loop_rows(loop), n = loop->dims[last];
    const ptrdiff_t esize = (ptrdiff_t)elem_size;
    size_t idx[TE_MAX_RANK] = {0}, r;
    ptrdiff_t off[TE_LOOP_MAX_OPERANDS] = {0, 0, 0};
    for (r = 0; r < rows; r++) {
        te_gather_row((unsigned char *)out + off[0] * esize, (const unsigned char *)x + off[1] * esize,
                      stride, n, elem_size);
        te_loop_next(loop, idx, off);
    }
}

#endif /* TE_REF_BROADCAST_H */
