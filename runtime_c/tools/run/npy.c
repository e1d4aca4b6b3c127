/*
 * npy.c - the .npy reader and writer of npy.h.
 *
 * The file: 6 magic bytes "\x93NUMPY", a major and a minor version byte, the header length (u16 in
 * 1.0, u32 in 2.0, little-endian), the header (a Python dict literal with the keys 'descr',
 * 'fortran_order' and 'shape', padded with spaces and ended by a newline), then the raw data.
 * The header is parsed by a small recursive-descent reader that accepts exactly the literals numpy
 * writes (strings in either quote, True/False, a tuple of non-negative integers), in any key order.
 */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */

#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER 65536u  /* numpy itself refuses headers over 10000 bytes unless told */
#define NPY_ALIGN 64u          /* numpy pads the header so the data starts 64-aligned */
#define NPY_MAX_DIM ((uint64_t)1 << 62)

/* The dtypes read and written, in numpy's spelling. */
static const struct {
    const char *descr;
    te_dtype dtype;
    const char *name;
    size_t size;
} npy_types[] = {
    {"<f4", TE_DTYPE_F32, "float32", 4},
    {"|i1", TE_DTYPE_I8, "int8", 1},
    {"|u1", TE_DTYPE_U8, "uint8", 1},
    {"<i2", TE_DTYPE_I16, "int16", 2},
    {"<i4", TE_DTYPE_I32, "int32", 4},
};
#define NPY_N_TYPES (sizeof npy_types / sizeof npy_types[0])

const char *npy_dtype_name(te_dtype dtype)
{
    size_t i;
    for (i = 0; i < NPY_N_TYPES; i++)
        if (npy_types[i].dtype == dtype)
            return npy_types[i].name;
    return "?";
}

size_t npy_dtype_size(te_dtype dtype)
{
    size_t i;
    for (i = 0; i < NPY_N_TYPES; i++)
        if (npy_types[i].dtype == dtype)
            return npy_types[i].size;
    return 0;
}

static int npy_fail(char *err, size_t err_size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int npy_fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- header parsing ---- */

typedef struct {
    const char *p, *end;
    char *err;
    size_t err_size;
} npy_parser;

static void npy_skip_space(npy_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int npy_expect(npy_parser *ps, char c, const char *where)
{
    npy_skip_space(ps);
    if (ps->p >= ps->end || *ps->p != c)
        return npy_fail(ps->err, ps->err_size, "bad header: expected '%c' %s", c, where);
    ps->p++;
    return 0;
}

/* A quoted string ('...' or "...", no escapes: numpy's keys and descrs have none) into out. */
static int npy_string(npy_parser *ps, char *out, size_t out_size, const char *what)
{
    char quote;
    size_t n = 0;
    npy_skip_space(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return npy_fail(ps->err, ps->err_size, "bad header: expected a quoted %s", what);
    quote = *ps->p++;
    while (ps->p < ps->end && *ps->p != quote) {
        if (*ps->p == '\\' || (unsigned char)*ps->p < 0x20 || (unsigned char)*ps->p >= 0x7f)
            return npy_fail(ps->err, ps->err_size, "bad header: unexpected character in the %s",
                            what);
        if (n + 1 >= out_size)
            return npy_fail(ps->err, ps->err_size, "bad header: the %s is too long", what);
        out[n++] = *ps->p++;
    }
    if (ps->p >= ps->end)
        return npy_fail(ps->err, ps->err_size, "bad header: unterminated %s", what);
    ps->p++;
    out[n] = '\0';
    return 0;
}

static int npy_word(npy_parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return 1;
    }
    return 0;
}

static int npy_bool(npy_parser *ps, int *out)
{
    npy_skip_space(ps);
    if (npy_word(ps, "True"))
        *out = 1;
    else if (npy_word(ps, "False"))
        *out = 0;
    else
        return npy_fail(ps->err, ps->err_size, "bad header: 'fortran_order' is not True or False");
    return 0;
}

/* A non-negative integer, with the 'L' suffix of Python 2 era files allowed. */
static int npy_uint(npy_parser *ps, uint64_t *out)
{
    uint64_t v = 0;
    npy_skip_space(ps);
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return npy_fail(ps->err, ps->err_size, "bad header: 'shape' holds something other than "
                        "non-negative integers");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        v = v * 10 + (uint64_t)(*ps->p++ - '0');
        if (v > NPY_MAX_DIM)
            return npy_fail(ps->err, ps->err_size, "bad header: a dimension of 'shape' is too large");
    }
    if (ps->p < ps->end && *ps->p == 'L')
        ps->p++;
    *out = v;
    return 0;
}

/* A tuple of dimensions: "()", "(n,)", "(a, b)", "(a, b,)". */
static int npy_shape(npy_parser *ps, npy_array *a)
{
    if (npy_expect(ps, '(', "to open 'shape'") != 0)
        return -1;
    a->rank = 0;
    for (;;) {
        npy_skip_space(ps);
        if (ps->p < ps->end && *ps->p == ')') {
            ps->p++;
            return 0;
        }
        if (a->rank == NPY_MAX_RANK)
            return npy_fail(ps->err, ps->err_size, "'shape' has more than %d dimensions",
                            NPY_MAX_RANK);
        if (npy_uint(ps, &a->dims[a->rank]) != 0)
            return -1;
        a->rank++;
        npy_skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (npy_expect(ps, ')', "to close 'shape'") != 0)
            return -1;
        /* "(n)" is an integer in parentheses, not a tuple: numpy never writes it. */
        if (a->rank == 1)
            return npy_fail(ps->err, ps->err_size, "bad header: 'shape' (n) is not a tuple");
        return 0;
    }
}

static int npy_descr(npy_parser *ps, npy_array *a)
{
    char descr[32];
    size_t i;
    if (npy_string(ps, descr, sizeof descr, "'descr'") != 0)
        return -1;
    for (i = 0; i < NPY_N_TYPES; i++)
        if (strcmp(descr, npy_types[i].descr) == 0) {
            a->dtype = npy_types[i].dtype;
            return 0;
        }
    if (descr[0] == '>')
        return npy_fail(ps->err, ps->err_size, "dtype '%s' is big-endian; save it little-endian "
                        "(arr.astype(arr.dtype.newbyteorder('<')))", descr);
    return npy_fail(ps->err, ps->err_size, "dtype '%s' is not read (supported: '<f4' float32, "
                    "'|i1' int8, '|u1' uint8, '<i2' int16, '<i4' int32)", descr);
}

/* Parse the header dict into a (dtype, rank, dims); refuses Fortran order. */
static int npy_parse_header(const char *text, size_t len, npy_array *a, char *err, size_t err_size)
{
    npy_parser ps;
    int seen_descr = 0, seen_order = 0, seen_shape = 0, fortran = 0;
    char key[32];
    ps.p = text;
    ps.end = text + len;
    ps.err = err;
    ps.err_size = err_size;
    if (npy_expect(&ps, '{', "at the start") != 0)
        return -1;
    for (;;) {
        npy_skip_space(&ps);
        if (ps.p < ps.end && *ps.p == '}')
            break;
        if (npy_string(&ps, key, sizeof key, "key") != 0 || npy_expect(&ps, ':', "after a key") != 0)
            return -1;
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            seen_descr = 1;
            if (npy_descr(&ps, a) != 0)
                return -1;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            seen_order = 1;
            if (npy_bool(&ps, &fortran) != 0)
                return -1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            seen_shape = 1;
            if (npy_shape(&ps, a) != 0)
                return -1;
        } else {
            return npy_fail(err, err_size, "bad header: unexpected or repeated key '%s'", key);
        }
        npy_skip_space(&ps);
        if (ps.p < ps.end && *ps.p == ',')
            ps.p++;
        else if (ps.p >= ps.end || *ps.p != '}')
            return npy_fail(err, err_size, "bad header: expected ',' or '}' after a value");
    }
    ps.p++; /* the '}' */
    npy_skip_space(&ps);
    if (ps.p != ps.end)
        return npy_fail(err, err_size, "bad header: unexpected bytes after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return npy_fail(err, err_size, "bad header: missing key '%s'",
                        !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    if (fortran)
        return npy_fail(err, err_size, "the array is in Fortran order; save a C-ordered array "
                        "(np.ascontiguousarray)");
    return 0;
}

/* ---- reading ---- */

/* Element count and byte size of a, refusing products that overflow size_t. */
static int npy_sizes(npy_array *a, char *err, size_t err_size)
{
    size_t elem = npy_dtype_size(a->dtype), count = 1;
    int d;
    for (d = 0; d < a->rank; d++) {
        if (a->dims[d] != 0 && count > SIZE_MAX / elem / a->dims[d])
            return npy_fail(err, err_size, "'shape' describes more bytes than memory can hold");
        count *= (size_t)a->dims[d];
    }
    a->count = count;
    a->nbytes = count * elem;
    return 0;
}

static int npy_read_exact(FILE *f, void *buf, size_t n, const char *what, char *err, size_t err_size)
{
    if (n > 0 && fread(buf, 1, n, f) != n)
        return npy_fail(err, err_size, "cannot read the %s: %s", what,
                        ferror(f) ? strerror(errno) : "unexpected end of file");
    return 0;
}

/* Parse everything up to the data; on success the file is positioned at the data. */
static int npy_read_header(FILE *f, uint64_t file_size, npy_array *a, char *err, size_t err_size)
{
    unsigned char pre[12];
    size_t pre_len;
    uint32_t header_len;
    uint64_t data_size;
    char *text;
    int rc;
    if (file_size < 10)
        return npy_fail(err, err_size, "not a .npy file (%lu bytes, shorter than any .npy header)",
                        (unsigned long)file_size);
    if (npy_read_exact(f, pre, 10, "header", err, err_size) != 0)
        return -1;
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return npy_fail(err, err_size, "not a .npy file (no \\x93NUMPY magic at the start)");
    if ((pre[6] != 1 && pre[6] != 2) || pre[7] != 0)
        return npy_fail(err, err_size, ".npy format version %u.%u is not read (1.0 and 2.0 are)",
                        pre[6], pre[7]);
    if (pre[6] == 1) {
        pre_len = 10;
        header_len = (uint32_t)pre[8] | ((uint32_t)pre[9] << 8);
    } else {
        pre_len = 12;
        if (file_size < 12 || npy_read_exact(f, pre + 10, 2, "header", err, err_size) != 0)
            return npy_fail(err, err_size, "truncated: the file ends inside the .npy header");
        header_len = (uint32_t)pre[8] | ((uint32_t)pre[9] << 8) | ((uint32_t)pre[10] << 16) |
                     ((uint32_t)pre[11] << 24);
    }
    if (header_len > NPY_MAX_HEADER)
        return npy_fail(err, err_size, "bad header: %lu bytes long (at most %u read)",
                        (unsigned long)header_len, NPY_MAX_HEADER);
    if (header_len > file_size - pre_len)
        return npy_fail(err, err_size, "truncated: the header is %lu bytes, the file has %lu after "
                        "the preamble", (unsigned long)header_len,
                        (unsigned long)(file_size - pre_len));
    text = (char *)malloc(header_len + 1u);
    if (text == NULL)
        return npy_fail(err, err_size, "out of memory for the header");
    rc = npy_read_exact(f, text, header_len, "header", err, err_size);
    if (rc == 0) {
        text[header_len] = '\0';
        rc = npy_parse_header(text, header_len, a, err, err_size);
    }
    free(text);
    if (rc != 0 || npy_sizes(a, err, err_size) != 0)
        return -1;
    data_size = file_size - pre_len - header_len;
    if (data_size < a->nbytes)
        return npy_fail(err, err_size, "truncated: the header describes %lu bytes of data, the file "
                        "holds %lu", (unsigned long)a->nbytes, (unsigned long)data_size);
    if (data_size > a->nbytes)
        return npy_fail(err, err_size, "%lu bytes after the data the header describes (%lu): not "
                        "one array", (unsigned long)(data_size - a->nbytes),
                        (unsigned long)a->nbytes);
    return 0;
}

int npy_read(const char *path, npy_array *out, char *err, size_t err_size)
{
    FILE *f;
    struct stat st;
    npy_array a;
    memset(&a, 0, sizeof a);
    memset(out, 0, sizeof *out);
    f = fopen(path, "rb");
    if (f == NULL)
        return npy_fail(err, err_size, "cannot open: %s", strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return npy_fail(err, err_size, "not a regular file");
    }
    if (npy_read_header(f, (uint64_t)st.st_size, &a, err, err_size) != 0) {
        fclose(f);
        return -1;
    }
    a.data = malloc(a.nbytes > 0 ? a.nbytes : 1);
    if (a.data == NULL) {
        fclose(f);
        return npy_fail(err, err_size, "out of memory for %lu bytes of data", (unsigned long)a.nbytes);
    }
    if (npy_read_exact(f, a.data, a.nbytes, "data", err, err_size) != 0) {
        fclose(f);
        npy_free(&a);
        return -1;
    }
    fclose(f);
    *out = a;
    return 0;
}

void npy_free(npy_array *a)
{
    free(a->data);
    a->data = NULL;
}

/* ---- writing ---- */

/* numpy's header for (descr, shape), padded with spaces and a newline to a 64-byte boundary
 * (counting the 10-byte preamble). Returns its length, or 0 when it does not fit in cap. */
static size_t npy_format_header(char *out, size_t cap, const char *descr, int rank,
                                const int32_t *dims)
{
    size_t n, total;
    int d, w;
    w = snprintf(out, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    if (w < 0 || (size_t)w >= cap)
        return 0;
    n = (size_t)w;
    for (d = 0; d < rank; d++) {
        w = snprintf(out + n, cap - n, d == 0 ? "%ld" : ", %ld", (long)dims[d]);
        if (w < 0 || (size_t)w >= cap - n)
            return 0;
        n += (size_t)w;
    }
    w = snprintf(out + n, cap - n, rank == 1 ? ",), }" : "), }");
    if (w < 0 || (size_t)w >= cap - n)
        return 0;
    n += (size_t)w;
    total = (10 + n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN; /* + 1 for the newline */
    if (total - 10 > cap)
        return 0;
    memset(out + n, ' ', total - 10 - n - 1);
    out[total - 10 - 1] = '\n';
    return total - 10;
}

int npy_write(const char *path, te_dtype dtype, int rank, const int32_t *dims, const void *data,
              size_t nbytes, char *err, size_t err_size)
{
    char header[512], tmp[4096];
    unsigned char pre[10];
    const char *descr = NULL;
    size_t i, header_len, expect;
    FILE *f;
    int ok;
    for (i = 0; i < NPY_N_TYPES; i++)
        if (npy_types[i].dtype == dtype)
            descr = npy_types[i].descr;
    if (descr == NULL)
        return npy_fail(err, err_size, "cannot write dtype code %d to .npy", (int)dtype);
    expect = npy_dtype_size(dtype);
    for (i = 0; i < (size_t)rank; i++)
        expect *= (size_t)dims[i];
    if (rank < 0 || expect != nbytes)
        return npy_fail(err, err_size, "%lu bytes do not match the shape", (unsigned long)nbytes);
    header_len = npy_format_header(header, sizeof header, descr, rank, dims);
    if (header_len == 0)
        return npy_fail(err, err_size, "the .npy header does not fit in %lu bytes",
                        (unsigned long)sizeof header);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.part", path) >= sizeof tmp)
        return npy_fail(err, err_size, "path too long");
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(header_len & 0xff);
    pre[9] = (unsigned char)(header_len >> 8);
    f = fopen(tmp, "wb");
    if (f == NULL)
        return npy_fail(err, err_size, "cannot create %s: %s", tmp, strerror(errno));
    ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre &&
         fwrite(header, 1, header_len, f) == header_len &&
         (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes);
    /* fclose flushes: a full disk may only show here. */
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        int e = errno;
        remove(tmp);
        return npy_fail(err, err_size, "cannot write %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return npy_fail(err, err_size, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return 0;
}
