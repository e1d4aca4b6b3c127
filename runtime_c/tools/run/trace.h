/*
 * trace.h - the per-op trace of tinyedge-run (docs/trace.md, "tinyedge-trace v1").
 *
 * A header line, then one tab-separated record per op per timed iteration:
 *   iter  op  name  ir_op  kernel  out_shape  out_dtype  macs  bytes  ns
 * Text fields never hold a tab or a newline: a control byte, DEL or a backslash in a name is
 * written as \xHH. A shape is its dims joined by 'x' ("1x8x8x16"), "scalar" for rank 0.
 */
#ifndef TE_RUN_TRACE_H
#define TE_RUN_TRACE_H

#include <stdint.h>
#include <stdio.h>

#include "op_facts.h"

#define TRACE_VERSION "v1"
#define TRACE_HEADER "#tinyedge-trace " TRACE_VERSION \
    "\titer\top\tname\tir_op\tkernel\tout_shape\tout_dtype\tmacs\tbytes\tns"

/* Write the header line. */
void trace_write_header(FILE *f);

/* Write one record: op op_index of timed iteration iter (counted from 0) took ns nanoseconds. */
void trace_write_record(FILE *f, uint64_t iter, int op_index, const op_facts *op, uint64_t ns);

/* Write s (NULL as "") with control bytes, DEL and backslash as \xHH. */
void trace_write_text(FILE *f, const char *s);

/* Write a shape as dims joined by 'x', or "scalar". */
void trace_write_shape(FILE *f, int rank, const int32_t *dims);

#endif /* TE_RUN_TRACE_H */
