/*
 * tinyedge_run.c - tinyedge-run, the on-device program: load a .tem file, run it on .npy (or seeded
 * random) inputs, print latency statistics, optionally trace every op and save the outputs.
 *
 *   tinyedge-run model.tem [--input NAME=file.npy ...] [--output-dir DIR] [--iters N] [--warmup N]
 *                [--threads N] [--trace FILE|-] [--seed N] [--isa LIST]
 *
 * C99 and POSIX only (clock_gettime, mkdir, getrusage): it links statically for every board, and
 * needs no Python, no locale and no dynamic loading. What it prints is documented in docs/trace.md:
 * stdout carries the human lines, the summary line and (with --trace -) the trace; stderr carries
 * progress, notes and errors. Every line is flushed as it ends, so a host reading over SSH sees it
 * live. Exit status: 0 success, 1 a runtime error (model, input or output files, the run), 2 a bad
 * command line.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tinyedge.h"
#include "run/inputs.h"
#include "run/op_facts.h"
#include "run/outputs.h"
#include "run/stats.h"
#include "run/summary.h"
#include "run/trace.h"

#define RUN_EXIT_OK 0
#define RUN_EXIT_RUNTIME 1
#define RUN_EXIT_USAGE 2
#define RUN_MAX_COUNT 1000000UL  /* iterations and warm-ups: their timings live in memory */
#define RUN_MAX_THREADS 1024UL
#define RUN_PROGRESS_LINES 100   /* about this many progress lines per phase, however many runs */
#define RUN_ERR_SIZE 1024

static const char run_usage[] =
    "usage: tinyedge-run MODEL.tem [options]\n"
    "\n"
    "Run a tinyedge model: warm-up runs, then timed runs; print latency statistics.\n"
    "\n"
    "options:\n"
    "  --input NAME=FILE.npy  an input from a .npy file (repeat per input); a model with one input\n"
    "                         also takes --input FILE.npy. Inputs not given are random (seeded).\n"
    "  --output-dir DIR       write each output as DIR/<output name>.npy (DIR is created)\n"
    "  --iters N              timed runs (default 50, at most 1000000)\n"
    "  --warmup N             untimed runs first (default 5)\n"
    "  --threads N            threads for the runtime (default 1; up to 64)\n"
    "  --trace FILE|-         one line per op per timed run to FILE, or stdout for '-'\n"
    "  --seed N               seed of the random inputs (default 0)\n"
    "  --isa LIST             kernels' instruction sets to allow, comma-separated from ref, neon,\n"
    "                         neon_dot, avx2, or all (default all the CPU has; ref always allowed)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 ok, 1 runtime error, 2 bad command line. Formats: docs/trace.md.\n";

typedef struct {
    const char *model;
    char **inputs;  /* the --input values, pointing into argv */
    int n_inputs;
    const char *output_dir;
    unsigned long iters, warmup, threads;
    const char *trace;
    uint64_t seed;
    uint32_t isa_mask;  /* te_options.isa_mask: 0 = every ISA the CPU has */
} run_args;

/* One line on stderr, "tinyedge-run: <message>". */
static void run_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void run_error(const char *fmt, ...)
{
    va_list ap;
    fputs("tinyedge-run: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- command line ---- */

/* A whole number in [lo, hi] written in decimal digits only; 0 on success. */
static int run_parse_number(const char *opt, const char *text, uint64_t lo, uint64_t hi,
                            uint64_t *out)
{
    uint64_t v = 0;
    const char *p = text;
    if (*p == '\0')
        goto bad;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            goto bad;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < lo || v > hi)
        goto bad;
    *out = v;
    return 0;
bad:
    run_error("%s: '%s' is not a whole number from %" PRIu64 " to %" PRIu64 " (see --help)", opt,
              text, lo, hi);
    return -1;
}

/* The te_options.isa_mask of a --isa LIST ("ref,neon", "all"); 0 on success. */
static int run_parse_isa(const char *text, uint32_t *mask)
{
    /* Indexed by te_isa (tinyedge.h). */
    static const char *const names[] = {"ref", "neon", "neon_dot", "avx2"};
    const size_t n_names = sizeof names / sizeof names[0];
    const char *p = text;
    *mask = 0;
    if (strcmp(text, "all") == 0)
        return 0;
    for (;;) {
        size_t len = strcspn(p, ","), i;
        for (i = 0; i < n_names; i++)
            if (strlen(names[i]) == len && strncmp(p, names[i], len) == 0)
                break;
        if (i == n_names) {
            run_error("--isa: '%.*s' in '%s' is not an instruction set: use ref, neon, neon_dot, "
                      "avx2 (comma-separated) or all", (int)len, p, text);
            return -1;
        }
        *mask |= 1u << i;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

/* Which option argv[*i] is, and its value (from "--opt=value" or the next argument). */
static int run_option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        run_error("%s needs a value (see --help)", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

/* Parse argv into a; returns -1 (usage error reported), 0 (run), or 1 (--help/--version done). */
static int run_parse_args(int argc, char **argv, run_args *a)
{
    int i, only_files = 0;
    a->inputs = (char **)calloc((size_t)argc, sizeof *a->inputs);
    if (a->inputs == NULL) {
        run_error("out of memory");
        return -1;
    }
    for (i = 1; i < argc; i++) {
        const char *v = NULL, *arg = argv[i];
        uint64_t number;
        int r;
        if (only_files || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->model != NULL) {
                run_error("one model only: '%s' and '%s' (see --help)", a->model, arg);
                return -1;
            }
            a->model = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_files = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(run_usage, stdout);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("tinyedge-run %s (trace %s, summary %s)\n", te_version(), TRACE_VERSION,
                   SUMMARY_VERSION);
            return 1;
        }
        if ((r = run_option_value(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0)
                return -1;
            a->inputs[a->n_inputs++] = (char *)v;
        } else if ((r = run_option_value(argc, argv, &i, "--output-dir", &v)) != 0) {
            if (r < 0)
                return -1;
            a->output_dir = v;
        } else if ((r = run_option_value(argc, argv, &i, "--trace", &v)) != 0) {
            if (r < 0)
                return -1;
            a->trace = v;
        } else if ((r = run_option_value(argc, argv, &i, "--iters", &v)) != 0) {
            if (r < 0 || run_parse_number("--iters", v, 1, RUN_MAX_COUNT, &number) != 0)
                return -1;
            a->iters = (unsigned long)number;
        } else if ((r = run_option_value(argc, argv, &i, "--warmup", &v)) != 0) {
            if (r < 0 || run_parse_number("--warmup", v, 0, RUN_MAX_COUNT, &number) != 0)
                return -1;
            a->warmup = (unsigned long)number;
        } else if ((r = run_option_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || run_parse_number("--threads", v, 0, RUN_MAX_THREADS, &number) != 0)
                return -1;
            a->threads = (unsigned long)number;
        } else if ((r = run_option_value(argc, argv, &i, "--isa", &v)) != 0) {
            if (r < 0 || run_parse_isa(v, &a->isa_mask) != 0)
                return -1;
        } else if ((r = run_option_value(argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || run_parse_number("--seed", v, 0, UINT64_MAX, &a->seed) != 0)
                return -1;
        } else {
            run_error("unknown option '%s' (see --help)", arg);
            return -1;
        }
    }
    if (a->model == NULL) {
        run_error("no model given: tinyedge-run MODEL.tem [options] (see --help)");
        return -1;
    }
    if (a->output_dir != NULL && a->output_dir[0] == '\0') {
        run_error("--output-dir: empty path");
        return -1;
    }
    if (a->trace != NULL && a->trace[0] == '\0') {
        run_error("--trace: empty path (use '-' for stdout)");
        return -1;
    }
    return 0;
}

/* ---- running ---- */

static uint64_t run_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The profiler's target: each op's time of the current run, written out after the run so that
 * trace output is not part of the timed region. */
typedef struct {
    uint64_t *op_ns;
    int n_ops;
} run_profile;

static void run_profile_op(void *user, int op_index, uint64_t nanoseconds)
{
    run_profile *p = (run_profile *)user;
    if (op_index >= 0 && op_index < p->n_ops)
        p->op_ns[op_index] = nanoseconds;
}

/* A progress line "<phase> <done>/<total>" on stderr, about RUN_PROGRESS_LINES per phase. */
static void run_progress(const char *phase, unsigned long done, unsigned long total)
{
    unsigned long step = (total + RUN_PROGRESS_LINES - 1) / RUN_PROGRESS_LINES;
    if (done == total || done % step == 0)
        fprintf(stderr, "%s %lu/%lu\n", phase, done, total);
}

/* Copy every input into the model (the arena reuses input space during a run, so each run needs
 * them written again) and invoke it. */
static int run_once(te_model *model, const run_input *inputs, int n_inputs, uint64_t *elapsed_ns)
{
    uint64_t start;
    te_status st = TE_OK;
    int i;
    for (i = 0; i < n_inputs && st == TE_OK; i++)
        st = te_model_set_input(model, i, inputs[i].data, inputs[i].info.nbytes);
    start = run_now_ns();
    if (st == TE_OK)
        st = te_model_invoke(model);
    *elapsed_ns = run_now_ns() - start;
    if (st != TE_OK)
        run_error("running: %s: %s", te_status_name(st), te_model_error(model));
    return st == TE_OK ? 0 : -1;
}

/* Load args->model; reports the error line and returns NULL on failure. */
static te_model *run_load(const run_args *args, double *load_ms)
{
    char err[RUN_ERR_SIZE];
    te_options options;
    te_model *model = NULL;
    te_status st;
    uint64_t start = run_now_ns();
    size_t n = strlen(args->model);
    const char *why = err;
    memset(&options, 0, sizeof options);
    options.threads = (int)args->threads;
    options.isa_mask = args->isa_mask;
    st = te_model_load_file(args->model, &options, &model, err, sizeof err);
    *load_ms = (double)(run_now_ns() - start) / 1e6;
    if (st == TE_OK)
        return model;
    /* I/O messages already start with the path: say it once. */
    if (strncmp(err, args->model, n) == 0 && err[n] == ':' && err[n + 1] == ' ')
        why = err + n + 2;
    run_error("%s: %s: %s", args->model, te_status_name(st), why);
    return NULL;
}

/* Gather every op's facts for the trace. */
static op_facts *run_op_facts(const te_model *model, int n_ops)
{
    op_facts *ops = (op_facts *)calloc(n_ops > 0 ? (size_t)n_ops : 1, sizeof *ops);
    int i;
    if (ops == NULL) {
        run_error("out of memory for the trace");
        return NULL;
    }
    for (i = 0; i < n_ops; i++)
        if (op_facts_get(model, i, &ops[i]) != TE_OK) {
            run_error("describing op %d: %s", i, te_model_error(model));
            free(ops);
            return NULL;
        }
    return ops;
}

static FILE *run_open_trace(const char *path)
{
    FILE *f;
    if (strcmp(path, "-") == 0)
        return stdout;
    f = fopen(path, "w");
    if (f == NULL) {
        run_error("--trace %s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    setvbuf(f, NULL, _IOLBF, BUFSIZ);
    return f;
}

/* Everything one invocation of the program holds, freed by run_cleanup. */
typedef struct {
    te_model *model;
    run_input *inputs;
    int n_inputs;
    op_facts *ops;
    uint64_t *op_ns;
    uint64_t *times;
    FILE *trace;
} run_state;

static void run_cleanup(run_state *s)
{
    if (s->trace != NULL && s->trace != stdout)
        fclose(s->trace);
    free(s->times);
    free(s->op_ns);
    free(s->ops);
    inputs_free(s->inputs, s->n_inputs);
    te_model_free(s->model);
}

/* Set up the trace (op facts, the per-op buffer, the file and its header); 0 or -1. */
static int run_setup_trace(const run_args *args, run_state *s, run_profile *profile)
{
    int n_ops = te_model_num_ops(s->model);
    s->ops = run_op_facts(s->model, n_ops);
    s->op_ns = (uint64_t *)calloc(n_ops > 0 ? (size_t)n_ops : 1, sizeof *s->op_ns);
    if (s->ops == NULL || s->op_ns == NULL) {
        if (s->op_ns == NULL)
            run_error("out of memory for the trace");
        return -1;
    }
    s->trace = run_open_trace(args->trace);
    if (s->trace == NULL)
        return -1;
    profile->op_ns = s->op_ns;
    profile->n_ops = n_ops;
    trace_write_header(s->trace);
    return 0;
}

/* Warm-up and timed runs; fills s->times. 0 or -1 (reported). */
static int run_loop(const run_args *args, run_state *s, run_profile *profile)
{
    unsigned long k;
    uint64_t ns;
    int op;
    for (k = 0; k < args->warmup; k++) {
        if (run_once(s->model, s->inputs, s->n_inputs, &ns) != 0)
            return -1;
        run_progress("warmup", k + 1, args->warmup);
    }
    if (s->trace != NULL)
        te_model_set_profiler(s->model, run_profile_op, profile);
    for (k = 0; k < args->iters; k++) {
        if (run_once(s->model, s->inputs, s->n_inputs, &s->times[k]) != 0)
            return -1;
        if (s->trace != NULL) {
            for (op = 0; op < profile->n_ops; op++)
                trace_write_record(s->trace, k, op, &s->ops[op], s->op_ns[op]);
            if (ferror(s->trace)) {
                run_error("--trace %s: write failed: %s", args->trace, strerror(errno));
                return -1;
            }
        }
        run_progress("iter", k + 1, args->iters);
    }
    te_model_set_profiler(s->model, NULL, NULL);
    return 0;
}

static int run_main(const run_args *args)
{
    run_state s;
    run_profile profile = {NULL, 0};
    run_summary summary;
    char err[RUN_ERR_SIZE];
    int rc = RUN_EXIT_RUNTIME;
    memset(&s, 0, sizeof s);
    memset(&summary, 0, sizeof summary);
    s.model = run_load(args, &summary.load_ms);
    if (s.model == NULL)
        return RUN_EXIT_RUNTIME;
    s.n_inputs = te_model_num_inputs(s.model);
    printf("model %s: %d ops, %d inputs, %d outputs, arena %lu bytes, loaded in %.3f ms\n",
           args->model, te_model_num_ops(s.model), s.n_inputs, te_model_num_outputs(s.model),
           (unsigned long)te_model_arena_size(s.model), summary.load_ms);
    if (inputs_prepare(s.model, args->inputs, args->n_inputs, args->seed, stderr, &s.inputs, err,
                       sizeof err) != 0) {
        s.n_inputs = 0;
        run_error("%s", err);
        goto done;
    }
    if (args->output_dir != NULL && outputs_make_dir(args->output_dir, err, sizeof err) != 0) {
        run_error("%s", err);
        goto done;
    }
    s.times = (uint64_t *)calloc(args->iters, sizeof *s.times);
    if (s.times == NULL) {
        run_error("out of memory for %lu timings", args->iters);
        goto done;
    }
    if (args->trace != NULL && run_setup_trace(args, &s, &profile) != 0)
        goto done;
    if (run_loop(args, &s, &profile) != 0)
        goto done;
    /* The outputs of the last run, before the timings are sorted away from run order. */
    if (args->output_dir != NULL &&
        outputs_write(s.model, args->output_dir, stdout, err, sizeof err) != 0) {
        run_error("%s", err);
        goto done;
    }
    run_stats_compute(s.times, args->iters, &summary.stats);
    summary.warmup = (int)args->warmup;
    summary.threads = (int)args->threads;
    summary.ops = te_model_num_ops(s.model);
    summary.arena_bytes = te_model_arena_size(s.model);
    summary.peak_rss_kb = summary_peak_rss_kb();
    summary_write(stdout, &summary);
    rc = RUN_EXIT_OK;
done:
    run_cleanup(&s);
    if (rc == RUN_EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        run_error("writing to stdout failed");
        rc = RUN_EXIT_RUNTIME;
    }
    return rc;
}

int main(int argc, char **argv)
{
    static char out_buf[BUFSIZ], err_buf[BUFSIZ];
    run_args args;
    int parsed, rc;
    /* Line-buffer both streams, even on a pipe or an SSH channel: a host reads them live. */
    setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
    setvbuf(stderr, err_buf, _IOLBF, sizeof err_buf);
    memset(&args, 0, sizeof args);
    args.iters = 50;
    args.warmup = 5;
    args.threads = 1;
    parsed = run_parse_args(argc, argv, &args);
    if (parsed != 0) {
        free(args.inputs);
        return parsed < 0 ? RUN_EXIT_USAGE : RUN_EXIT_OK;
    }
    rc = run_main(&args);
    free(args.inputs);
    return rc;
}
