/*
 * icount.c - a TCG plugin for qemu-user 7.2 (plugin API version 1) that counts guest instructions.
 *
 * It counts every instruction the program executes, and optionally the instructions of each call
 * of chosen functions, callees included:
 *
 *   qemu-aarch64 -cpu cortex-a72 -plugin file=libicount.so,out=FILE[,home=LO-HI,entry=ADDR...] PROG
 *
 * home=LO-HI   the address range [LO, HI) of the function that makes the calls (for tinyedge,
 *              te_model_invoke, which calls each node's eval)
 * entry=ADDR   the first instruction of a function whose calls are counted (repeat the argument;
 *              for tinyedge, the eval function of every kernel)
 * out=FILE     where the counts go at exit (default: stderr, mixed with the program's)
 *
 * Algorithm: instructions are counted per translation block (TB): a TB is straight-line code that
 * runs from its first instruction to its last, so its instruction count is known when it is
 * translated. Ordinary TBs add their count to the total with an inline add (no call into the plugin).
 * TBs that start at an entry, or lie in the home range, call the plugin instead: entering an entry
 * from outside a call opens a call and remembers the total; reaching home again closes it, and the
 * difference is that call's instructions (everything it ran, helpers and C library included). A
 * call into an entry from inside an open call (one kernel delegating to another) stays part of the
 * open call. Calls are recorded in the order they end, so they line up with the model's op order.
 *
 * Limits: one vCPU (the inline adds are not atomic; run the program single-threaded); a TB that
 * stops half way (a fault) still counts whole; the entry must be a function's first instruction
 * (a call always starts a TB there). Counts are exactly repeatable for the same binary, arguments
 * and environment (libc start-up reads argv and the environment: run under `env -i`).
 *
 * qemu's plugin header is not installed by Debian, so the few declarations used are written out
 * here, from QEMU's documented plugin API (include/qemu/qemu-plugin.h, QEMU_PLUGIN_VERSION 1).
 * Build: gcc -O2 -shared -fPIC -o libicount.so icount.c
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, version 1 (the subset this plugin calls) ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* not read: left incomplete */
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS = 0 };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 = 0 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

/* ---- the counts ---- */
#define MAX_ENTRIES 256

typedef struct {
    uint64_t n_insns;
    uint64_t vaddr;
    int is_home;    /* the TB lies in the home range (else it starts at an entry) */
} special_tb;

typedef struct {
    uint64_t entry;
    uint64_t insns;
} call_record;

static uint64_t total;            /* every instruction executed */
static uint64_t home_insns;       /* the instructions of the home range itself */
static uint64_t home_lo, home_hi; /* [lo, hi); empty when not given */
static uint64_t entries[MAX_ENTRIES];
static int n_entries;
static char *out_path;

static int in_call;               /* a call is open */
static uint64_t call_entry, call_start;
static call_record *calls;
static size_t n_calls, cap_calls;

static int is_entry(uint64_t vaddr)
{
    int i;
    for (i = 0; i < n_entries; i++)
        if (entries[i] == vaddr)
            return 1;
    return 0;
}

static void record_call(uint64_t entry, uint64_t insns)
{
    if (n_calls == cap_calls) {
        size_t cap = cap_calls ? cap_calls * 2 : 1024;
        call_record *grown = realloc(calls, cap * sizeof *calls);
        if (grown == NULL) {
            fputs("icount: out of memory recording calls\n", stderr);
            abort();
        }
        calls = grown;
        cap_calls = cap;
    }
    calls[n_calls].entry = entry;
    calls[n_calls].insns = insns;
    n_calls++;
}

static void special_exec(unsigned int vcpu_index, void *userdata)
{
    const special_tb *tb = userdata;
    (void)vcpu_index;
    if (tb->is_home) {
        if (in_call) {
            record_call(call_entry, total - call_start);
            in_call = 0;
        }
        home_insns += tb->n_insns;
    } else if (!in_call) {
        in_call = 1;
        call_entry = tb->vaddr;
        call_start = total;
    }
    total += tb->n_insns;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uint64_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
    int home = vaddr >= home_lo && vaddr < home_hi;
    (void)id;
    if (home || is_entry(vaddr)) {
        /* One record per translation: a TB translated again gets another (they are few). */
        special_tb *s = malloc(sizeof *s);
        if (s == NULL) {
            fputs("icount: out of memory at translation\n", stderr);
            abort();
        }
        s->n_insns = n;
        s->vaddr = vaddr;
        s->is_home = home;
        qemu_plugin_register_vcpu_tb_exec_cb(tb, special_exec, QEMU_PLUGIN_CB_NO_REGS, s);
    } else {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
    }
}

static void write_counts(FILE *f)
{
    size_t i;
    fprintf(f, "icount v1\n");
    fprintf(f, "total %" PRIu64 "\n", total);
    fprintf(f, "home %" PRIu64 "\n", home_insns);
    fprintf(f, "calls %zu%s\n", n_calls, in_call ? " (one still open at exit)" : "");
    for (i = 0; i < n_calls; i++)
        fprintf(f, "call %zu 0x%" PRIx64 " %" PRIu64 "\n", i, calls[i].entry, calls[i].insns);
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    if (out_path != NULL) {
        FILE *f = fopen(out_path, "w");
        if (f == NULL) {
            fprintf(stderr, "icount: cannot write %s\n", out_path);
            return;
        }
        write_counts(f);
        fclose(f);
    } else {
        write_counts(stderr);
    }
}

/* Parses one "key=value" argument; returns 0, or -1 with a message on stderr. */
static int parse_arg(const char *arg)
{
    char *end;
    if (strncmp(arg, "out=", 4) == 0) {
        size_t n = strlen(arg + 4) + 1;
        free(out_path);
        out_path = malloc(n);
        if (out_path == NULL)
            return -1;
        memcpy(out_path, arg + 4, n);
        return 0;
    }
    if (strncmp(arg, "entry=", 6) == 0) {
        if (n_entries == MAX_ENTRIES) {
            fputs("icount: too many entry= arguments (at most 256)\n", stderr);
            return -1;
        }
        entries[n_entries] = strtoull(arg + 6, &end, 0);
        if (end == arg + 6 || *end != '\0')
            goto bad;
        n_entries++;
        return 0;
    }
    if (strncmp(arg, "home=", 5) == 0) {
        home_lo = strtoull(arg + 5, &end, 0);
        if (end == arg + 5 || *end != '-')
            goto bad;
        home_hi = strtoull(end + 1, &end, 0);
        if (*end != '\0' || home_hi <= home_lo)
            goto bad;
        return 0;
    }
bad:
    fprintf(stderr, "icount: bad argument '%s': expected out=FILE, home=LO-HI (hex, LO < HI) "
            "or entry=ADDR\n", arg);
    return -1;
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; i++)
        if (parse_arg(argv[i]) != 0)
            return -1;
    if (n_entries > 0 && home_hi == 0) {
        fputs("icount: entry= needs home=LO-HI (the range calls return to)\n", stderr);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
