/*
 * npy.h - read and write NumPy .npy files (format versions 1.0 and 2.0), for tinyedge-run.
 *
 * Read: little-endian '<f4', '|i1', '|u1', '<i2', '<i4' (numpy's own spelling of float32, int8,
 * uint8, int16, int32), C order only. Every count and size in the header is checked against the
 * file's length before anything is allocated; a truncated, oversized, garbled or unsupported file is
 * an error with a message, never a crash.
 * Write: version 1.0 with the header numpy itself writes (padded to 64 bytes), byte for byte what
 * np.save produces; the file appears under its name only once it is complete.
 */
#ifndef TE_RUN_NPY_H
#define TE_RUN_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "tinyedge.h"

#define NPY_MAX_RANK 32  /* numpy allows 64; no tinyedge tensor comes near either */

/* An array read from a .npy file. data is malloc'd (npy_free releases it). */
typedef struct {
    te_dtype dtype;
    int rank;
    uint64_t dims[NPY_MAX_RANK];
    size_t count;   /* elements */
    size_t nbytes;
    void *data;
} npy_array;

/* Read path into *out. Returns 0, or -1 with a one-line message in err (not naming the path). */
int npy_read(const char *path, npy_array *out, char *err, size_t err_size);

/* Release what npy_read allocated; a zeroed npy_array is fine. */
void npy_free(npy_array *a);

/* Write data (nbytes = product of dims * element size, checked) as a C-ordered .npy file at path.
 * The bytes go to "<path>.part" first, renamed to path when complete. Returns 0, or -1 with a
 * message in err. */
int npy_write(const char *path, te_dtype dtype, int rank, const int32_t *dims, const void *data,
              size_t nbytes, char *err, size_t err_size);

/* numpy's name of a dtype ("float32", "int8", ...), or "?" for a code this file does not know. */
const char *npy_dtype_name(te_dtype dtype);

/* Element size in bytes, or 0 for a code this file does not know. */
size_t npy_dtype_size(te_dtype dtype);

#endif /* TE_RUN_NPY_H */
