/*
 * outputs.h - writing a model's outputs as DIR/<name>.npy for tinyedge-run --output-dir.
 *
 * A file name is the output's name with every byte outside [A-Za-z0-9._-] replaced by '_', a
 * leading '.' replaced too (no hidden files, no "..") and at most 100 bytes kept; an empty name
 * becomes "output<i>". When two outputs map to the same file name, the later one gets "_<i>"
 * (its output index) appended; a collision that remains is an error.
 */
#ifndef TE_RUN_OUTPUTS_H
#define TE_RUN_OUTPUTS_H

#include <stddef.h>
#include <stdio.h>

#include "tinyedge.h"

#define OUTPUTS_NAME_MAX 100

/* The file name (without ".npy") for output index i named name, into buf (at least
 * OUTPUTS_NAME_MAX + 16 bytes). */
void outputs_file_name(const char *name, int i, char *buf, size_t size);

/* Create dir (and its parents) when missing. Returns 0, or -1 with a message in err. */
int outputs_make_dir(const char *dir, char *err, size_t err_size);

/* Write every output of model (valid after an invoke) into dir, one "wrote ..." line each on log.
 * Returns 0, or -1 with a message in err. */
int outputs_write(const te_model *model, const char *dir, FILE *log, char *err, size_t err_size);

#endif /* TE_RUN_OUTPUTS_H */
