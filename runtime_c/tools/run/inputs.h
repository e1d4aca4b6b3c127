/*
 * inputs.h - the model inputs of tinyedge-run: .npy files named on the command line, checked
 * against the model, and seeded random values for the inputs not given.
 *
 * An --input spec is NAME=FILE.npy, or a bare FILE.npy for a model with one input. The file's
 * dtype and shape must equal the input's (nothing is cast). Random values (docs/trace.md): input i
 * draws from splitmix64 started at seed ^ (i * 0xD1B54A32D192ED03); with x one draw, float32 is
 * (x >> 40) * 2^-23 - 1 (uniform in [-1, 1), exact in float32), int8 (x >> 56) - 128, uint8
 * x >> 56, int16 (x >> 48) - 32768, int32 (x >> 32) - 2^31 (uniform over the whole range).
 */
#ifndef TE_RUN_INPUTS_H
#define TE_RUN_INPUTS_H

#include <stdint.h>
#include <stdio.h>

#include "tinyedge.h"

typedef struct {
    te_tensor_info info;
    void *data;          /* info.nbytes bytes, malloc'd */
    const char *source;  /* the file it came from, or NULL when random */
} run_input;

/* Build every input of model (te_model_num_inputs entries, in model order, into *out) from the
 * specs and seed; says on log which inputs are random. Returns 0, or -1 with a one-line message in
 * err naming the spec, the input and what the model expects. */
int inputs_prepare(te_model *model, char *const *specs, int n_specs, uint64_t seed, FILE *log,
                   run_input **out, char *err, size_t err_size);

/* Release what inputs_prepare built (n entries); NULL is ignored. */
void inputs_free(run_input *inputs, int n);

#endif /* TE_RUN_INPUTS_H */
