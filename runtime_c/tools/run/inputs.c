/*
 * inputs.c - inputs.h: resolving --input specs, reading and checking .npy files, random inputs.
 */
#define _POSIX_C_SOURCE 200809L /* stat */

#include "inputs.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "npy.h"

#define INPUTS_STREAM_STEP 0xD1B54A32D192ED03ull /* separates the random streams of the inputs */

static int inputs_fail(char *err, size_t err_size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int inputs_fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* "(1, 3, 8, 8) float32", as Python prints a shape, into buf. */
static const char *inputs_describe(char *buf, size_t size, int rank, const uint64_t *dims,
                                   te_dtype dtype)
{
    size_t n = 0;
    int d;
    buf[0] = '\0';
    n += (size_t)snprintf(buf, size, "(");
    for (d = 0; d < rank && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, d == 0 ? "%" PRIu64 : ", %" PRIu64, dims[d]);
    if (n < size)
        snprintf(buf + n, size - n, rank == 1 ? ",) %s" : ") %s", npy_dtype_name(dtype));
    return buf;
}

static const char *inputs_describe_info(char *buf, size_t size, const te_tensor_info *info)
{
    uint64_t dims[TE_MAX_RANK];
    int d;
    for (d = 0; d < info->rank; d++)
        dims[d] = (uint64_t)info->dims[d];
    return inputs_describe(buf, size, info->rank, dims, info->dtype);
}

/* "'a', 'b'": the model's input names, for messages. */
static const char *inputs_names(char *buf, size_t size, const run_input *inputs, int n)
{
    size_t used = 0;
    int i;
    buf[0] = '\0';
    for (i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i == 0 ? "'%s'" : ", '%s'",
                                 inputs[i].info.name);
    return buf;
}

static int inputs_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Which input a spec names, and its file; -1 with err set when the spec fits none. */
static int inputs_resolve(const char *spec, const run_input *inputs, int n, const char **path,
                          char *err, size_t err_size)
{
    char names[256];
    const char *eq = strchr(spec, '=');
    int i;
    if (eq != NULL)
        for (i = 0; i < n; i++)
            if (strlen(inputs[i].info.name) == (size_t)(eq - spec) &&
                strncmp(spec, inputs[i].info.name, (size_t)(eq - spec)) == 0) {
                *path = eq + 1;
                return i;
            }
    inputs_names(names, sizeof names, inputs, n);
    if (n == 0)
        return inputs_fail(err, err_size, "--input %s: the model has no inputs", spec);
    /* A file name may hold '=': a one-input model takes the whole spec as a path if it exists. */
    if (n == 1 && (eq == NULL || inputs_file_exists(spec))) {
        *path = spec;
        return 0;
    }
    if (eq != NULL)
        return inputs_fail(err, err_size, "--input %s: the model has no input '%.*s'; its inputs "
                           "are %s", spec, (int)(eq - spec), spec, names);
    return inputs_fail(err, err_size, "--input %s: the model has %d inputs (%s): name each one, "
                       "--input NAME=FILE.npy", spec, n, names);
}

/* Read path and check it against input in; on success in->data owns the file's data. */
static int inputs_read(const char *spec, const char *path, run_input *in, char *err,
                       size_t err_size)
{
    char why[400], got[160], want[160];
    npy_array a;
    int d, same;
    if (npy_read(path, &a, why, sizeof why) != 0)
        return inputs_fail(err, err_size, "input '%s': %s: %s", in->info.name, path, why);
    same = a.dtype == in->info.dtype && a.rank == in->info.rank;
    for (d = 0; same && d < a.rank; d++)
        same = a.dims[d] == (uint64_t)in->info.dims[d];
    if (!same) {
        inputs_describe(got, sizeof got, a.rank, a.dims, a.dtype);
        inputs_describe_info(want, sizeof want, &in->info);
        npy_free(&a);
        return inputs_fail(err, err_size, "input '%s': %s holds %s, the model expects %s%s",
                           in->info.name, path, got, want,
                           a.dtype != in->info.dtype ? " (nothing is cast: save it with that dtype)"
                                                     : "");
    }
    in->data = a.data; /* npy_read sized it from the same dims: a.nbytes == info.nbytes */
    in->source = spec;
    return 0;
}

static uint64_t inputs_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Fill input index i with the random values documented in inputs.h. */
static void inputs_random(run_input *in, int i, uint64_t seed)
{
    uint64_t state = seed ^ ((uint64_t)i * INPUTS_STREAM_STEP);
    size_t elem = npy_dtype_size(in->info.dtype), k, count = elem ? in->info.nbytes / elem : 0;
    unsigned char *out = (unsigned char *)in->data;
    for (k = 0; k < count; k++) {
        uint64_t x = inputs_splitmix64(&state);
        switch (in->info.dtype) {
        case TE_DTYPE_F32: {
            float v = (float)((double)(x >> 40) * (1.0 / 8388608.0) - 1.0);
            memcpy(out + 4 * k, &v, 4);
            break;
        }
        case TE_DTYPE_I8: out[k] = (unsigned char)(int8_t)((int)(x >> 56) - 128); break;
        case TE_DTYPE_U8: out[k] = (unsigned char)(x >> 56); break;
        case TE_DTYPE_I16: {
            int16_t v = (int16_t)((int32_t)(x >> 48) - 32768);
            memcpy(out + 2 * k, &v, 2);
            break;
        }
        case TE_DTYPE_I32: {
            int32_t v = (int32_t)((int64_t)(x >> 32) - 2147483648LL);
            memcpy(out + 4 * k, &v, 4);
            break;
        }
        }
    }
}

static const char *inputs_random_kind(te_dtype dtype)
{
    switch (dtype) {
    case TE_DTYPE_F32: return "uniform in [-1, 1)";
    case TE_DTYPE_I8: return "uniform over [-128, 127]";
    case TE_DTYPE_U8: return "uniform over [0, 255]";
    case TE_DTYPE_I16: return "uniform over [-32768, 32767]";
    case TE_DTYPE_I32: return "uniform over the int32 range";
    }
    return "?";
}

int inputs_prepare(te_model *model, char *const *specs, int n_specs, uint64_t seed, FILE *log,
                   run_input **out, char *err, size_t err_size)
{
    int n = te_model_num_inputs(model), i, s;
    run_input *inputs = (run_input *)calloc(n > 0 ? (size_t)n : 1, sizeof *inputs);
    char desc[160];
    *out = NULL;
    if (inputs == NULL)
        return inputs_fail(err, err_size, "out of memory for the inputs");
    for (i = 0; i < n; i++)
        if (te_model_input_info(model, i, &inputs[i].info) != TE_OK) {
            inputs_fail(err, err_size, "describing input %d: %s", i, te_model_error(model));
            inputs_free(inputs, n);
            return -1;
        }
    for (s = 0; s < n_specs; s++) {
        const char *path = NULL;
        i = inputs_resolve(specs[s], inputs, n, &path, err, err_size);
        if (i >= 0 && inputs[i].data != NULL)
            i = inputs_fail(err, err_size, "--input %s: input '%s' is already given by --input %s",
                            specs[s], inputs[i].info.name, inputs[i].source);
        if (i < 0 || inputs_read(specs[s], path, &inputs[i], err, err_size) != 0) {
            inputs_free(inputs, n);
            return -1;
        }
    }
    for (i = 0; i < n; i++) {
        if (inputs[i].data != NULL)
            continue;
        inputs[i].data = malloc(inputs[i].info.nbytes > 0 ? inputs[i].info.nbytes : 1);
        if (inputs[i].data == NULL) {
            inputs_free(inputs, n);
            return inputs_fail(err, err_size, "out of memory for input '%s'", inputs[i].info.name);
        }
        inputs_random(&inputs[i], i, seed);
        fprintf(log, "note: input '%s' %s not given: random, %s, seed %" PRIu64 "\n",
                inputs[i].info.name, inputs_describe_info(desc, sizeof desc, &inputs[i].info),
                inputs_random_kind(inputs[i].info.dtype), seed);
    }
    *out = inputs;
    return 0;
}

void inputs_free(run_input *inputs, int n)
{
    int i;
    if (inputs == NULL)
        return;
    for (i = 0; i < n; i++)
        free(inputs[i].data);
    free(inputs);
}
