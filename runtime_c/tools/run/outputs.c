/*
 * outputs.c - outputs.h.
 */
#define _POSIX_C_SOURCE 200809L /* mkdir */

#include "outputs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "npy.h"

#define OUTPUTS_PATH_MAX 4096

static int outputs_fail(char *err, size_t err_size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int outputs_fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

static int outputs_safe_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

void outputs_file_name(const char *name, int i, char *buf, size_t size)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)(name != NULL ? name : "");
    for (; *p != '\0' && n < OUTPUTS_NAME_MAX && n + 1 < size; p++, n++)
        buf[n] = (char)(outputs_safe_byte(*p) && !(n == 0 && *p == '.') ? *p : '_');
    buf[n] = '\0';
    if (n == 0)
        snprintf(buf, size, "output%d", i);
}

int outputs_make_dir(const char *dir, char *err, size_t err_size)
{
    char path[OUTPUTS_PATH_MAX];
    size_t len = strlen(dir), k;
    struct stat st;
    if (len == 0)
        return outputs_fail(err, err_size, "--output-dir: empty path");
    if (len >= sizeof path)
        return outputs_fail(err, err_size, "--output-dir: path too long");
    memcpy(path, dir, len + 1);
    /* Create each missing prefix in turn, as `mkdir -p`. */
    for (k = 1; k <= len; k++) {
        if (path[k] != '/' && path[k] != '\0')
            continue;
        path[k] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return outputs_fail(err, err_size, "--output-dir %s: cannot create %s: %s", dir, path,
                                strerror(errno));
        path[k] = k < len ? '/' : '\0';
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return outputs_fail(err, err_size, "--output-dir %s: not a directory", dir);
    return 0;
}

/* Whether names[i] equals one of names[0..i). */
static int outputs_taken(char (*names)[OUTPUTS_NAME_MAX + 16], int i)
{
    int j;
    for (j = 0; j < i; j++)
        if (strcmp(names[i], names[j]) == 0)
            return 1;
    return 0;
}

int outputs_write(const te_model *model, const char *dir, FILE *log, char *err, size_t err_size)
{
    int n = te_model_num_outputs(model), i;
    char (*names)[OUTPUTS_NAME_MAX + 16];
    char path[OUTPUTS_PATH_MAX], why[512];
    int rc = 0;
    names = malloc((n > 0 ? (size_t)n : 1) * sizeof *names);
    if (names == NULL)
        return outputs_fail(err, err_size, "out of memory for the output names");
    for (i = 0; i < n && rc == 0; i++) {
        te_tensor_info info;
        te_model_output_info(model, i, &info);
        outputs_file_name(info.name, i, names[i], sizeof names[i]);
        if (outputs_taken(names, i)) {
            size_t len = strlen(names[i]);
            snprintf(names[i] + len, sizeof names[i] - len, "_%d", i);
            if (outputs_taken(names, i)) {
                rc = outputs_fail(err, err_size, "output '%s': its file name %s.npy is taken by "
                                  "another output", info.name, names[i]);
                break;
            }
        }
        if ((size_t)snprintf(path, sizeof path, "%s/%s.npy", dir, names[i]) >= sizeof path) {
            rc = outputs_fail(err, err_size, "--output-dir %s: path too long", dir);
            break;
        }
        if (npy_write(path, info.dtype, info.rank, info.dims, te_model_output_data(model, i),
                      info.nbytes, why, sizeof why) != 0) {
            rc = outputs_fail(err, err_size, "output '%s': %s", info.name, why);
            break;
        }
        fprintf(log, "wrote %s (output '%s')\n", path, info.name);
    }
    free(names);
    return rc;
}
