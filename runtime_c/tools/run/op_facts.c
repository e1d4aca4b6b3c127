/*
 * op_facts.c - op_facts.h, from the public per-op descriptions of tinyedge.h.
 */
#include "op_facts.h"

#include <string.h>

te_status op_facts_get(const te_model *model, int i, op_facts *out)
{
    te_tensor_info t;
    int k, n_in, n_out;
    te_status st = te_model_op_info(model, i, &out->info);
    if (st == TE_OK)
        st = te_model_op_output_info(model, i, 0, &t);
    if (st != TE_OK)
        return st;
    out->out_dtype = t.dtype;
    out->out_rank = t.rank;
    memcpy(out->out_dims, t.dims, sizeof out->out_dims);
    out->bytes = 0;
    n_in = te_model_op_num_inputs(model, i);
    n_out = te_model_op_num_outputs(model, i);
    for (k = 0; k < n_in; k++)
        if (te_model_op_input_info(model, i, k, &t) == TE_OK) /* an absent optional input: skipped */
            out->bytes += t.nbytes;
    for (k = 0; k < n_out; k++)
        if (te_model_op_output_info(model, i, k, &t) == TE_OK)
            out->bytes += t.nbytes;
    return TE_OK;
}
