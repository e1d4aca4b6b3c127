/*
 * summary.h - the result lines of tinyedge-run (docs/trace.md): one machine-readable line,
 *   tinyedge-summary v1 runs=50 warmup=5 threads=1 ops=12 min_ms=... median_ms=... p90_ms=...
 *   p99_ms=... max_ms=... mean_ms=... per_second=... load_ms=... arena_bytes=... peak_rss_kb=...
 * (space-separated key=value pairs, always these keys in this order; a later version only appends
 * keys), then one line for people.
 */
#ifndef TE_RUN_SUMMARY_H
#define TE_RUN_SUMMARY_H

#include <stddef.h>
#include <stdio.h>

#include "stats.h"

#define SUMMARY_VERSION "v1"

typedef struct {
    run_stats stats;
    int warmup;
    int threads;
    int ops;
    double load_ms;       /* te_model_load_file, wall time */
    size_t arena_bytes;
    long peak_rss_kb;     /* the process's peak resident memory, or -1 when unknown */
} run_summary;

/* The process's peak resident set size so far in KiB (getrusage), or -1 when unknown. */
long summary_peak_rss_kb(void);

/* Write the summary line and the human line. */
void summary_write(FILE *f, const run_summary *s);

#endif /* TE_RUN_SUMMARY_H */
