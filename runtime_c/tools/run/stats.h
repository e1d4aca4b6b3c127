/*
 * stats.h - latency statistics of tinyedge-run's timed runs.
 *
 * Percentiles interpolate linearly between the two nearest ranks, as numpy.percentile's default
 * ("linear"): p-th percentile = a[lo] + (a[hi] - a[lo]) * frac, where p/100 * (n - 1) = lo + frac.
 * The median is the 50th percentile. Runs per second are 1000 / median_ms, as `tinyedge bench`.
 */
#ifndef TE_RUN_STATS_H
#define TE_RUN_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t runs;
    double min_ms, median_ms, p90_ms, p99_ms, max_ms, mean_ms;
    double per_second;
} run_stats;

/* Statistics of n >= 1 run times in nanoseconds. Sorts ns in place. */
void run_stats_compute(uint64_t *ns, size_t n, run_stats *out);

#endif /* TE_RUN_STATS_H */
