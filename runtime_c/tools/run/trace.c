/*
 * trace.c - the trace line format (trace.h, docs/trace.md).
 */
#include "trace.h"

#include <inttypes.h>

#include "npy.h"

void trace_write_header(FILE *f) { fputs(TRACE_HEADER "\n", f); }

void trace_write_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    for (; *p != '\0'; p++) {
        /* Tabs and newlines would break the columns; a backslash is escaped so \x stays unambiguous. */
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

void trace_write_shape(FILE *f, int rank, const int32_t *dims)
{
    int d;
    if (rank == 0) {
        fputs("scalar", f);
        return;
    }
    for (d = 0; d < rank; d++)
        fprintf(f, d == 0 ? "%" PRId32 : "x%" PRId32, dims[d]);
}

void trace_write_record(FILE *f, uint64_t iter, int op_index, const op_facts *op, uint64_t ns)
{
    fprintf(f, "%" PRIu64 "\t%d\t", iter, op_index);
    trace_write_text(f, op->info.name);
    fputc('\t', f);
    trace_write_text(f, op->info.op);
    fputc('\t', f);
    trace_write_text(f, op->info.kernel);
    fputc('\t', f);
    trace_write_shape(f, op->out_rank, op->out_dims);
    fprintf(f, "\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", npy_dtype_name(op->out_dtype),
            op->info.macs, op->bytes, ns);
}
