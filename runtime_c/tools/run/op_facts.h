/*
 * op_facts.h - what tinyedge-run's trace says about each op: the public te_op_info (names, kernel,
 * MACs) plus the first output's shape and dtype and the bytes the op reads and writes.
 */
#ifndef TE_RUN_OP_FACTS_H
#define TE_RUN_OP_FACTS_H

#include <stdint.h>

#include "tinyedge.h"

typedef struct {
    te_op_info info;                /* name, IR op, kernel, MACs */
    te_dtype out_dtype;             /* of the op's first output (every IR op has one output) */
    int out_rank;
    int32_t out_dims[TE_MAX_RANK];
    uint64_t bytes;                 /* every input present (weights included) plus every output */
} op_facts;

/* Facts of op i of a loaded model. TE_ERR_ARG when i is out of range. */
te_status op_facts_get(const te_model *model, int i, op_facts *out);

#endif /* TE_RUN_OP_FACTS_H */
