/*
 * summary.c - summary.h.
 */
#define _XOPEN_SOURCE 700 /* getrusage */

#include "summary.h"

#include <sys/resource.h>

long summary_peak_rss_kb(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return -1;
#if defined(__APPLE__)
    return (long)(usage.ru_maxrss / 1024); /* bytes on macOS, KiB elsewhere */
#else
    return (long)usage.ru_maxrss;
#endif
}

/* A duration for people: "812 us", "3.25 ms", "1.50 s" (three significant digits or so). */
static const char *summary_human_time(char *buf, size_t size, double ms)
{
    if (ms >= 1000.0)
        snprintf(buf, size, "%.2f s", ms / 1000.0);
    else if (ms >= 1.0)
        snprintf(buf, size, "%.3g ms", ms);
    else
        snprintf(buf, size, "%.3g us", ms * 1000.0);
    return buf;
}

void summary_write(FILE *f, const run_summary *s)
{
    const run_stats *t = &s->stats;
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "tinyedge-summary " SUMMARY_VERSION " runs=%lu warmup=%d threads=%d ops=%d "
            "min_ms=%.6f median_ms=%.6f p90_ms=%.6f p99_ms=%.6f max_ms=%.6f mean_ms=%.6f "
            "per_second=%.3f load_ms=%.3f arena_bytes=%lu peak_rss_kb=%ld\n",
            (unsigned long)t->runs, s->warmup, s->threads, s->ops, t->min_ms, t->median_ms,
            t->p90_ms, t->p99_ms, t->max_ms, t->mean_ms, t->per_second, s->load_ms,
            (unsigned long)s->arena_bytes, s->peak_rss_kb);
    fprintf(f, "latency over %lu runs (after %d warm-up): min %s, median %s, p90 %s, p99 %s, "
            "mean %s; %.1f runs/s\n", (unsigned long)t->runs, s->warmup,
            summary_human_time(a, sizeof a, t->min_ms), summary_human_time(b, sizeof b, t->median_ms),
            summary_human_time(c, sizeof c, t->p90_ms), summary_human_time(d, sizeof d, t->p99_ms),
            summary_human_time(e, sizeof e, t->mean_ms), t->per_second);
}
