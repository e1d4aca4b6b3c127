/*
 * stats.c - latency statistics (stats.h).
 */
#include "stats.h"

#include <stdlib.h>

static int stats_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile of sorted[0..n) in milliseconds, interpolated as numpy's "linear". */
static double stats_percentile_ms(const uint64_t *sorted, size_t n, double p)
{
    double pos = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos;
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    double a = (double)sorted[lo], b = (double)sorted[hi];
    return (a + (b - a) * frac) / 1e6;
}

void run_stats_compute(uint64_t *ns, size_t n, run_stats *out)
{
    double sum = 0.0;
    size_t i;
    qsort(ns, n, sizeof *ns, stats_cmp_u64);
    for (i = 0; i < n; i++)
        sum += (double)ns[i];
    out->runs = n;
    out->min_ms = (double)ns[0] / 1e6;
    out->max_ms = (double)ns[n - 1] / 1e6;
    out->median_ms = stats_percentile_ms(ns, n, 50.0);
    out->p90_ms = stats_percentile_ms(ns, n, 90.0);
    out->p99_ms = stats_percentile_ms(ns, n, 99.0);
    out->mean_ms = sum / (double)n / 1e6;
    /* A run faster than the clock's resolution would divide by zero. */
    out->per_second = out->median_ms > 0.0 ? 1e3 / out->median_ms : 0.0;
}
