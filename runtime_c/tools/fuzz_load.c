/*
 * fuzz_load.c - feed files to the loader and, when one loads, run it once on zeroed inputs.
 *
 *   fuzz_load FILE|DIR|@LIST ...
 *
 * A DIR is walked one level deep; @LIST is a text file of paths, one per line. For each file it
 * prints one line, "<path>: ok" or "<path>: <status name>: <message>", and it exits 0 unless it
 * cannot read its arguments. Its purpose is to run under AddressSanitizer and UndefinedBehavior-
 * Sanitizer (gcc -fsanitize=address,undefined -fno-sanitize-recover=all -g -O1): any out-of-bounds
 * access, overflow or leak in the loader or a kernel's prepare/eval aborts with a report.
 *
 * Built with -DTE_LIBFUZZER it is instead a libFuzzer target (LLVMFuzzerTestOneInput), without main.
 */
#define _POSIX_C_SOURCE 200809L /* opendir, readdir */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tinyedge.h"

#define FUZZ_ALIGN 64

/* Load bytes as a model from a 64-aligned copy; run it on zeroed inputs when it loads. */
static te_status fuzz_one(const uint8_t *data, size_t size, char *err, size_t err_size)
{
    unsigned char *raw = (unsigned char *)malloc(size + FUZZ_ALIGN);
    unsigned char *buf;
    te_model *model = NULL;
    te_status st;
    int i;
    if (raw == NULL) {
        snprintf(err, err_size, "driver: out of memory for %lu bytes", (unsigned long)size);
        return TE_ERR_NOMEM;
    }
    buf = raw + (FUZZ_ALIGN - (size_t)((uintptr_t)raw % FUZZ_ALIGN)) % FUZZ_ALIGN;
    if (size > 0)
        memcpy(buf, data, size);
    st = te_model_load_buffer(buf, size, NULL, &model, err, err_size);
    if (st == TE_OK) {
        for (i = 0; i < te_model_num_inputs(model); i++) {
            te_tensor_info info;
            if (te_model_input_info(model, i, &info) == TE_OK)
                memset(te_model_input_data(model, i), 0, info.nbytes);
        }
        st = te_model_invoke(model);
        if (st != TE_OK)
            snprintf(err, err_size, "invoke: %s", te_model_error(model));
        te_model_free(model);
    }
    free(raw);
    return st;
}

#ifdef TE_LIBFUZZER

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    fuzz_one(data, size, err, sizeof err);
    return 0;
}

#else

/* Read a whole file into a malloc'ed buffer; returns NULL (and prints why) on failure. */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t cap = 0, used = 0, got;
    if (f == NULL) {
        printf("%s: driver: cannot open\n", path);
        return NULL;
    }
    do {
        if (used == cap) {
            uint8_t *grown;
            cap = cap ? cap * 2 : 65536;
            grown = (uint8_t *)realloc(data, cap);
            if (grown == NULL) {
                free(data);
                fclose(f);
                printf("%s: driver: out of memory\n", path);
                return NULL;
            }
            data = grown;
        }
        got = fread(data + used, 1, cap - used, f);
        used += got;
    } while (got > 0);
    fclose(f);
    *size = used;
    return data;
}

static void run_file(const char *path)
{
    char err[1024];
    size_t size = 0;
    uint8_t *data = read_file(path, &size);
    te_status st;
    if (data == NULL)
        return;
    err[0] = '\0';
    st = fuzz_one(data, size, err, sizeof err);
    if (st == TE_OK)
        printf("%s: ok\n", path);
    else
        printf("%s: %s: %s\n", path, te_status_name(st), err);
    fflush(stdout);
    free(data);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file directly inside dir, in name order (deterministic output). */
static void run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    if (d == NULL) {
        printf("%s: driver: cannot open directory\n", dir);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        size_t len;
        char *full;
        if (e->d_name[0] == '.')
            continue;
        len = strlen(dir) + strlen(e->d_name) + 2;
        full = (char *)malloc(len);
        if (full == NULL)
            break;
        snprintf(full, len, "%s/%s", dir, e->d_name);
        if (n == cap) {
            char **grown = (char **)realloc(names, (cap = cap ? cap * 2 : 256) * sizeof *names);
            if (grown == NULL) {
                free(full);
                break;
            }
            names = grown;
        }
        names[n++] = full;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, cmp_names);
    for (i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            run_file(names[i]);
        free(names[i]);
    }
    free(names);
}

static void run_list(const char *list)
{
    FILE *f = fopen(list, "r");
    char line[4096];
    if (f == NULL) {
        printf("%s: driver: cannot open list\n", list);
        return;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (len > 0)
            run_file(line);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    int i;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR|@LIST ...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (argv[i][0] == '@')
            run_list(argv[i] + 1);
        else if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            run_dir(argv[i]);
        else
            run_file(argv[i]);
    }
    return 0;
}

#endif /* TE_LIBFUZZER */
