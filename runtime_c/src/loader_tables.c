/*
 * loader_tables.c - checks 4-8 of docs/format.md ("What the loader checks"): string references,
 * the tensor and quantization tables, the memory plan, the graph's inputs and outputs, and the op
 * table's structure (opcodes, counts, IO ranges, attribute blobs, graph order). It builds the
 * model's te_tensor / te_quant / te_node tables as it goes; kernels are chosen afterwards
 * (loader_prepare.c).
 *
 * Counts read from the file are compared with the bytes their section really has before anything is
 * allocated for them, so the allocations are bounded by the file's size.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

static const uint8_t te_dtype_sizes[] = {0, 4, 1, 1, 4, 2}; /* by te_dtype */

const char *te_string_at(const te_model *m, uint32_t ref)
{
    const te_section *s = &m->sections[TE_SEC_STRINGS];
    if ((uint64_t)ref >= s->size)
        return NULL;
    if (memchr(s->data + ref, 0, (size_t)(s->size - ref)) == NULL)
        return NULL;
    return (const char *)s->data + ref;
}

/* Whether the NUL-terminated s is well-formed UTF-8 (RFC 3629: shortest form, no surrogates,
 * at most U+10FFFF), the rule Python's strict decoder applies in the reader. */
static int te_utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s++;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
        int more;
        if (c < 0x80)
            continue;
        if (c >= 0xC2 && c <= 0xDF)
            more = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else
            return 0;
        /* The terminating NUL fails the range test, so this never reads past the string. */
        if (*s < lo || *s > hi)
            return 0;
        s++;
        while (--more > 0) {
            if (*s < 0x80 || *s > 0xBF)
                return 0;
            s++;
        }
    }
    return 1;
}

/* Read a string reference of record `what`[index], failing with a message when it is bad. */
static te_status te_string_ref(te_model *m, const char *what, uint32_t index, const char *field,
                               uint32_t ref, const char **out)
{
    *out = te_string_at(m, ref);
    if (*out == NULL)
        return te_model_fail(m, TE_ERR_FORMAT,
                             "%s[%lu]: %s string reference %lu does not end with a NUL inside STRINGS "
                             "(%llu bytes)",
                             what, (unsigned long)index, field, (unsigned long)ref,
                             (unsigned long long)m->sections[TE_SEC_STRINGS].size);
    if (!te_utf8_valid((const unsigned char *)*out))
        return te_model_fail(m, TE_ERR_FORMAT, "%s[%lu]: %s string at %lu is not valid UTF-8", what,
                             (unsigned long)index, field, (unsigned long)ref);
    return TE_OK;
}

/* Step 4 for METADATA (tensor and op names are checked with their records). */
static te_status te_check_metadata(te_model *m)
{
    const te_section *s = &m->sections[TE_SEC_METADATA];
    uint32_t i, count;
    const char *str;
    if (s->size < 4)
        return te_model_fail(m, TE_ERR_FORMAT, "METADATA: section of %llu bytes has no room for its "
                             "count", (unsigned long long)s->size);
    count = te_rd_u32(s->data);
    if (count > (s->size - 4) / 8)
        return te_model_fail(m, TE_ERR_FORMAT, "METADATA: count %lu needs %llu bytes, the section "
                             "has %llu", (unsigned long)count, 4 + (unsigned long long)count * 8,
                             (unsigned long long)s->size);
    for (i = 0; i < count; i++) {
        const uint8_t *pair = s->data + 4 + 8 * (uint64_t)i; /* (u32 key, u32 value) */
        te_status st = te_string_ref(m, "METADATA", i, "key", te_rd_u32(pair), &str);
        if (st == TE_OK)
            st = te_string_ref(m, "METADATA", i, "value", te_rd_u32(pair + 4), &str);
        if (st != TE_OK)
            return st;
    }
    m->n_meta = count;
    return TE_OK;
}

/* The QUANT table's count and records, before the tensors that point into it. */
static te_status te_read_quant(te_model *m)
{
    const te_section *s = &m->sections[TE_SEC_QUANT];
    uint32_t i, j, count;
    if (s->data == NULL)
        return TE_OK;
    if (s->size < 8)
        return te_model_fail(m, TE_ERR_FORMAT, "QUANT: section of %llu bytes has no room for its "
                             "8-byte header", (unsigned long long)s->size);
    count = te_rd_u32(s->data);
    if (count > (s->size - 8) / TE_QUANT_RECORD_SIZE)
        return te_model_fail(m, TE_ERR_FORMAT, "QUANT: count %lu needs %llu bytes, the section has "
                             "%llu", (unsigned long)count,
                             8 + (unsigned long long)count * TE_QUANT_RECORD_SIZE,
                             (unsigned long long)s->size);
    m->quants = (te_quant *)te_model_alloc_array(m, count, sizeof(te_quant));
    if (m->quants == NULL)
        return te_model_fail(m, TE_ERR_NOMEM, "QUANT: out of memory for %lu records",
                             (unsigned long)count);
    for (i = 0; i < count; i++) {
        const uint8_t *r = s->data + TE_TABLE_HEAD + (uint64_t)i * TE_QUANT_RECORD_SIZE;
        te_quant *q = &m->quants[i];
        uint32_t data_offset = te_rd_u32(r + TE_QNT_DATA_OFFSET);
        q->axis = te_rd_i32(r + TE_QNT_AXIS);
        q->n = te_rd_u32(r + TE_QNT_N);
        if (q->axis < -1 || q->axis >= TE_MAX_RANK)
            return te_model_fail(m, TE_ERR_FORMAT, "QUANT[%lu]: axis %ld is neither -1 nor 0..5",
                                 (unsigned long)i, (long)q->axis);
        if (q->n < 1 || (q->axis == -1 && q->n != 1))
            return te_model_fail(m, TE_ERR_FORMAT, "QUANT[%lu]: n = %lu (1 per tensor, else the "
                                 "axis size)", (unsigned long)i, (unsigned long)q->n);
        if (data_offset % 4 != 0 || data_offset > s->size || q->n > (s->size - data_offset) / 8)
            return te_model_fail(m, TE_ERR_FORMAT, "QUANT[%lu]: %lu scales and zero points at "
                                 "offset %lu are unaligned or run past the %llu-byte section",
                                 (unsigned long)i, (unsigned long)q->n, (unsigned long)data_offset,
                                 (unsigned long long)s->size);
        /* The section is 8-aligned in a 64-aligned buffer and data_offset is 4-aligned, so these
         * point at aligned, little-endian (checked) float32 and int32 values. */
        q->scales = (const float *)(const void *)(s->data + data_offset);
        q->zero_points = (const int32_t *)(const void *)(s->data + data_offset + 4 * (uint64_t)q->n);
        for (j = 0; j < q->n; j++) {
            float scale = q->scales[j];
            if (!(scale > 0.0f) || !isfinite(scale))
                return te_model_fail(m, TE_ERR_FORMAT, "QUANT[%lu]: scale %lu is %g; scales must be "
                                     "finite and > 0", (unsigned long)i, (unsigned long)j,
                                     (double)scale);
        }
    }
    m->n_quants = count;
    return TE_OK;
}

/* One tensor record: everything but the activation's place in the arena (te_check_plan). */
static te_status te_read_tensor(te_model *m, uint32_t i, const uint8_t *r)
{
    te_tensor *t = &m->tensors[i];
    const te_section *w = &m->sections[TE_SEC_WEIGHTS];
    uint8_t dtype = r[TE_TEN_DTYPE], rank = r[TE_TEN_RANK], storage = r[TE_TEN_STORAGE];
    uint32_t quant = te_rd_u32(r + TE_TEN_QUANT);
    uint64_t count = 1, nbytes;
    te_status st;
    int d;
    st = te_string_ref(m, "TENSORS", i, "name", te_rd_u32(r + TE_TEN_NAME), &t->name);
    if (st != TE_OK)
        return st;
    if (dtype < TE_DTYPE_F32 || dtype > TE_DTYPE_I16)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': dtype %u is not 1..5 (float32, "
                             "int8, uint8, int32, int16)", (unsigned long)i, t->name, dtype);
    if (rank > TE_MAX_RANK)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': rank %u is above %d",
                             (unsigned long)i, t->name, rank, TE_MAX_RANK);
    if (storage > 1)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': storage %u is neither 0 "
                             "(activation) nor 1 (constant)", (unsigned long)i, t->name, storage);
    for (d = 0; d < TE_MAX_RANK; d++) {
        uint32_t dim = te_rd_u32(r + TE_TEN_DIMS + 4 * d);
        if (d >= rank) {
            if (dim != 0)
                return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': dims[%d] = %lu past rank "
                                     "%u must be 0", (unsigned long)i, t->name, d, (unsigned long)dim,
                                     rank);
            continue;
        }
        if (dim < 1 || dim > (uint32_t)INT32_MAX)
            return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': dims[%d] = %lu is not in "
                                 "1..2^31-1", (unsigned long)i, t->name, d, (unsigned long)dim);
        if (dim > UINT64_MAX / 8 / count)
            return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': the product of the dims "
                                 "overflows", (unsigned long)i, t->name);
        count *= dim;
        t->dims[d] = (int32_t)dim;
    }
    nbytes = count * te_dtype_sizes[dtype];
    if (te_rd_u64(r + TE_TEN_NBYTES) != nbytes)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': nbytes %llu != product(dims) x "
                             "dtype size = %llu", (unsigned long)i, t->name,
                             (unsigned long long)te_rd_u64(r + TE_TEN_NBYTES),
                             (unsigned long long)nbytes);
    t->offset = te_rd_u64(r + TE_TEN_OFFSET);
    if (t->offset % TE_ALIGN != 0)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': offset %llu is not 64-byte "
                             "aligned", (unsigned long)i, t->name, (unsigned long long)t->offset);
    if (storage == 1 && (t->offset > w->size || nbytes > w->size - t->offset))
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': offset %llu + nbytes %llu exceeds "
                             "WEIGHTS of %llu bytes", (unsigned long)i, t->name,
                             (unsigned long long)t->offset, (unsigned long long)nbytes,
                             (unsigned long long)w->size);
    if (storage == 0 && nbytes > TE_MAX_ARENA)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': activation of %llu bytes is "
                             "larger than any arena (2^32 bytes)", (unsigned long)i, t->name,
                             (unsigned long long)nbytes);
    if (quant != TE_NONE && quant >= m->n_quants)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': quant index %lu is out of range "
                             "(%lu QUANT records)", (unsigned long)i, t->name, (unsigned long)quant,
                             (unsigned long)m->n_quants);
    if (quant != TE_NONE) {
        const te_quant *q = &m->quants[quant];
        if (q->axis >= (int32_t)rank || (q->axis >= 0 && q->n != (uint32_t)t->dims[q->axis]))
            return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': QUANT[%lu] (axis %ld, n %lu) "
                                 "does not fit its rank %u and dims", (unsigned long)i, t->name,
                                 (unsigned long)quant, (long)q->axis, (unsigned long)q->n, rank);
        t->quant = q;
    }
    /* nbytes <= 2^32 (activations) or <= the file's size (constants); it fits a size_t unless a
     * 32-bit host meets a 4 GiB activation, which the arena allocation refuses later. */
    t->dtype = (te_dtype)dtype;
    t->rank = rank;
    t->storage = storage;
    t->count = (size_t)count;
    t->nbytes = (size_t)nbytes;
    if (storage == 1)
        t->data = (void *)(w->data + t->offset); /* read-only by contract: kernels take const */
    return TE_OK;
}

/* Step 5: the tensor table (and QUANT, which it points into). */
static te_status te_read_tensors(te_model *m)
{
    const te_section *s = &m->sections[TE_SEC_TENSORS];
    uint32_t i, count;
    te_status st = te_read_quant(m);
    if (st != TE_OK)
        return st;
    if (s->size < 8)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS: section of %llu bytes has no room for its "
                             "8-byte header", (unsigned long long)s->size);
    count = te_rd_u32(s->data);
    if (count > (s->size - 8) / TE_TENSOR_RECORD_SIZE)
        return te_model_fail(m, TE_ERR_FORMAT, "TENSORS: count %lu needs %llu bytes, the section has "
                             "%llu", (unsigned long)count,
                             8 + (unsigned long long)count * TE_TENSOR_RECORD_SIZE,
                             (unsigned long long)s->size);
    m->tensors = (te_tensor *)te_model_alloc_array(m, count, sizeof(te_tensor));
    if (m->tensors == NULL)
        return te_model_fail(m, TE_ERR_NOMEM, "TENSORS: out of memory for %lu tensors",
                             (unsigned long)count);
    m->n_tensors = count;
    for (i = 0; i < count; i++) {
        st = te_read_tensor(m, i, s->data + TE_TABLE_HEAD + (uint64_t)i * TE_TENSOR_RECORD_SIZE);
        if (st != TE_OK)
            return st;
    }
    return TE_OK;
}

/* Step 6: the plan's arena holds every activation. */
static te_status te_check_plan(te_model *m)
{
    const te_section *s = &m->sections[TE_SEC_PLAN];
    uint32_t i;
    if (s->size < TE_PLAN_SIZE)
        return te_model_fail(m, TE_ERR_FORMAT, "PLAN: section of %llu bytes is shorter than its 32 "
                             "bytes", (unsigned long long)s->size);
    m->arena_size = te_rd_u64(s->data + TE_PLAN_ARENA_SIZE);
    if (m->arena_size > TE_MAX_ARENA)
        return te_model_fail(m, TE_ERR_FORMAT, "PLAN: arena_size %llu is above the limit of 2^32 "
                             "bytes", (unsigned long long)m->arena_size);
    for (i = 0; i < m->n_tensors; i++) {
        const te_tensor *t = &m->tensors[i];
        if (t->storage == 0 && (t->offset > m->arena_size || t->nbytes > m->arena_size - t->offset))
            return te_model_fail(m, TE_ERR_FORMAT, "TENSORS[%lu] '%s': offset %llu + nbytes %llu "
                                 "exceeds the arena of %llu bytes (PLAN)", (unsigned long)i, t->name,
                                 (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                                 (unsigned long long)m->arena_size);
    }
    return TE_OK;
}

/* Step 7: the graph's inputs and outputs: counts fit, valid activation indices. */
static te_status te_read_graph(te_model *m)
{
    const te_section *s = &m->sections[TE_SEC_GRAPH];
    uint32_t n_in, n_out;
    uint64_t room, i;
    if (s->size < 8)
        return te_model_fail(m, TE_ERR_FORMAT, "GRAPH: section of %llu bytes has no room for its "
                             "counts", (unsigned long long)s->size);
    n_in = te_rd_u32(s->data);
    n_out = te_rd_u32(s->data + 4); /* GRAPH: u32 n_inputs, u32 n_outputs, then indices */
    room = (s->size - 8) / 4;
    if (n_in > room || n_out > room - n_in)
        return te_model_fail(m, TE_ERR_FORMAT, "GRAPH: %lu inputs and %lu outputs need %llu bytes, "
                             "the section has %llu", (unsigned long)n_in, (unsigned long)n_out,
                             8 + 4 * ((unsigned long long)n_in + n_out), (unsigned long long)s->size);
    m->graph_inputs = (uint32_t *)te_model_alloc_array(m, (size_t)n_in + n_out, sizeof(uint32_t));
    if (m->graph_inputs == NULL)
        return te_model_fail(m, TE_ERR_NOMEM, "GRAPH: out of memory");
    m->graph_outputs = m->graph_inputs + n_in;
    for (i = 0; i < (uint64_t)n_in + n_out; i++) {
        uint32_t idx = te_rd_u32(s->data + 8 + 4 * i);
        const char *role = i < n_in ? "input" : "output";
        uint64_t k = i < n_in ? i : i - n_in;
        if (idx >= m->n_tensors)
            return te_model_fail(m, TE_ERR_FORMAT, "GRAPH: %s %lu is tensor index %lu, out of range "
                                 "(%lu tensors)", role, (unsigned long)k, (unsigned long)idx,
                                 (unsigned long)m->n_tensors);
        if (m->tensors[idx].storage != 0)
            return te_model_fail(m, TE_ERR_FORMAT, "GRAPH: %s %lu is tensor %lu '%s', a constant; "
                                 "graph inputs and outputs are activations", role, (unsigned long)k,
                                 (unsigned long)idx, m->tensors[idx].name);
        m->graph_inputs[i] = idx;
    }
    m->n_graph_inputs = n_in;
    m->n_graph_outputs = n_out;
    return TE_OK;
}

/* Tensor states while walking the ops in order (graph order rules). */
enum { TE_UNWRITTEN = 0, TE_READY = 1, TE_GRAPH_INPUT = 2 };

static int te_arena_overlap(const te_tensor *a, const te_tensor *b)
{
    return a->storage == 0 && b->storage == 0 && a->offset < b->offset + b->nbytes &&
           b->offset < a->offset + a->nbytes;
}

/* An op's outputs share no arena bytes with its inputs or with each other: kernels write their
 * outputs while still reading their inputs (the planner keeps them apart, tinyedge/plan). */
static te_status te_check_op_aliasing(te_model *m, uint32_t op, const te_node *node,
                                      const te_op_schema *schema)
{
    int k, j;
    for (k = 0; k < node->n_out; k++) {
        const te_tensor *o = node->out[k];
        for (j = 0; j < node->n_in + k; j++) {
            const te_tensor *other = j < node->n_in ? node->in[j] : node->out[j - node->n_in];
            if (other == NULL || !te_arena_overlap(o, other))
                continue;
            return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): output %d '%s' [%llu, %llu) "
                                 "overlaps %s %d '%s' [%llu, %llu) in the arena; an op never writes "
                                 "over its own inputs or outputs", (unsigned long)op, node->name,
                                 schema->name, k, o->name, (unsigned long long)o->offset,
                                 (unsigned long long)(o->offset + o->nbytes),
                                 j < node->n_in ? "input" : "output",
                                 j < node->n_in ? j : j - node->n_in, other->name,
                                 (unsigned long long)other->offset,
                                 (unsigned long long)(other->offset + other->nbytes));
        }
    }
    return TE_OK;
}

/* One op's inputs and outputs: IO entries valid, readable inputs, fresh outputs. */
static te_status te_read_op_io(te_model *m, uint32_t op, te_node *node, const te_op_schema *schema,
                               uint32_t io_first, uint8_t *state)
{
    const uint8_t *io = m->sections[TE_SEC_IO].data;
    int j;
    for (j = 0; j < node->n_in + node->n_out; j++) {
        uint32_t idx = te_rd_u32(io + 4 * ((uint64_t)io_first + (uint64_t)j));
        int is_in = j < node->n_in;
        int k = is_in ? j : j - node->n_in;
        const char *role = is_in ? "input" : "output";
        te_tensor *t;
        if (is_in && idx == TE_NONE && j >= schema->min_inputs) {
            node->in[j] = NULL; /* an absent optional input */
            continue;
        }
        if (idx >= m->n_tensors)
            return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): %s %d is tensor index %lu, "
                                 "out of range (%lu tensors%s)", (unsigned long)op, node->name,
                                 schema->name, role, k, (unsigned long)idx,
                                 (unsigned long)m->n_tensors,
                                 idx == TE_NONE ? "; NONE only marks an absent optional input" : "");
        t = &m->tensors[idx];
        if (is_in) {
            if (t->storage == 0 && state[idx] == TE_UNWRITTEN)
                return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): input %d reads tensor "
                                     "%lu '%s' before any op writes it", (unsigned long)op,
                                     node->name, schema->name, k, (unsigned long)idx, t->name);
            node->in[j] = t;
            continue;
        }
        if (t->storage != 0)
            return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): output %d is tensor %lu "
                                 "'%s', a constant; outputs are activations", (unsigned long)op,
                                 node->name, schema->name, k, (unsigned long)idx, t->name);
        if (state[idx] != TE_UNWRITTEN)
            return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): output %d is tensor %lu "
                                 "'%s', which is %s", (unsigned long)op, node->name, schema->name, k,
                                 (unsigned long)idx, t->name,
                                 state[idx] == TE_GRAPH_INPUT ? "a graph input"
                                                              : "already written by another op");
        node->out[k] = t;
        /* Inputs were all checked above (they come first), so an op cannot read its own output;
         * marking now also catches an op naming one output twice. */
        state[idx] = TE_READY;
    }
    return te_check_op_aliasing(m, op, node, schema);
}

/* One op record: opcode, name, counts, IO range, params blob. */
static te_status te_read_op(te_model *m, uint32_t op, const uint8_t *r, uint8_t *state)
{
    const te_section *io = &m->sections[TE_SEC_IO];
    const te_section *params = &m->sections[TE_SEC_PARAMS];
    te_node *node = &m->nodes[op];
    uint32_t opcode = te_rd_u32(r + TE_OPR_OPCODE), io_first = te_rd_u32(r + TE_OPR_IO_FIRST);
    uint32_t params_offset = te_rd_u32(r + TE_OPR_PARAMS_OFFSET);
    uint32_t params_size = te_rd_u32(r + TE_OPR_PARAMS_SIZE);
    uint16_t n_in = te_rd_u16(r + TE_OPR_N_INPUTS), n_out = te_rd_u16(r + TE_OPR_N_OUTPUTS);
    const te_op_schema *schema = te_op_schema_of(opcode);
    char why[200];
    te_status st = te_string_ref(m, "OPS", op, "name", te_rd_u32(r + TE_OPR_NAME), &node->name);
    if (st != TE_OK)
        return st;
    if (schema == NULL)
        return te_model_fail(m, TE_ERR_UNSUPPORTED, "OPS[%lu] '%s': opcode %lu is not an op this "
                             "runtime knows (1..%d, docs/ops.md)", (unsigned long)op, node->name,
                             (unsigned long)opcode, TE_OP_MAX);
    node->opcode = (int)opcode;
    if (n_in < schema->min_inputs || n_in > schema->max_inputs)
        return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): %u inputs; the op takes %d..%d",
                             (unsigned long)op, node->name, schema->name, n_in, schema->min_inputs,
                             schema->max_inputs);
    if (n_out != schema->n_outputs)
        return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): %u outputs; the op has %d",
                             (unsigned long)op, node->name, schema->name, n_out, schema->n_outputs);
    if ((uint64_t)io_first + n_in + n_out > io->size / 4)
        return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): IO entries [%lu, %llu) run past "
                             "the %llu entries of IO", (unsigned long)op, node->name, schema->name,
                             (unsigned long)io_first, (unsigned long long)io_first + n_in + n_out,
                             (unsigned long long)(io->size / 4));
    node->n_in = n_in;
    node->n_out = n_out;
    node->in = (te_tensor **)te_model_alloc_array(m, (size_t)n_in + n_out, sizeof(te_tensor *));
    if (node->in == NULL)
        return te_model_fail(m, TE_ERR_NOMEM, "OPS[%lu]: out of memory", (unsigned long)op);
    node->out = node->in + n_in;
    st = te_read_op_io(m, op, node, schema, io_first, state);
    if (st != TE_OK)
        return st;
    if (params_offset % 4 != 0 || (uint64_t)params_offset + params_size > params->size)
        return te_model_fail(m, TE_ERR_FORMAT, "OPS[%lu] '%s' (%s): params [%lu, +%lu) are unaligned "
                             "or outside PARAMS (%llu bytes)", (unsigned long)op, node->name,
                             schema->name, (unsigned long)params_offset, (unsigned long)params_size,
                             (unsigned long long)params->size);
    st = te_attrs_parse(schema, params->data + params_offset, params_size, node->attrs, why,
                        sizeof why);
    if (st != TE_OK)
        return te_model_fail(m, st, "OPS[%lu] '%s' (%s): PARAMS: %s", (unsigned long)op, node->name,
                             schema->name, why);
    return TE_OK;
}

/* Step 8 (structure): the op table in execution order, then the graph outputs' producers. */
static te_status te_read_ops(te_model *m)
{
    const te_section *s = &m->sections[TE_SEC_OPS];
    uint32_t i, count;
    uint8_t *state;
    te_status st;
    if (s->size < 8)
        return te_model_fail(m, TE_ERR_FORMAT, "OPS: section of %llu bytes has no room for its "
                             "8-byte header", (unsigned long long)s->size);
    count = te_rd_u32(s->data);
    if (count > (s->size - 8) / TE_OP_RECORD_SIZE)
        return te_model_fail(m, TE_ERR_FORMAT, "OPS: count %lu needs %llu bytes, the section has %llu",
                             (unsigned long)count, 8 + (unsigned long long)count * TE_OP_RECORD_SIZE,
                             (unsigned long long)s->size);
    m->nodes = (te_node *)te_model_alloc_array(m, count, sizeof(te_node));
    state = (uint8_t *)te_model_alloc(m, m->n_tensors);
    if (m->nodes == NULL || state == NULL)
        return te_model_fail(m, TE_ERR_NOMEM, "OPS: out of memory for %lu ops", (unsigned long)count);
    for (i = 0; i < m->n_graph_inputs; i++)
        state[m->graph_inputs[i]] = TE_GRAPH_INPUT;
    for (i = 0; i < count; i++) {
        st = te_read_op(m, i, s->data + TE_TABLE_HEAD + (uint64_t)i * TE_OP_RECORD_SIZE, state);
        if (st != TE_OK)
            return st;
        m->n_nodes = i + 1; /* nodes that te_model_free may have to release */
    }
    for (i = 0; i < m->n_graph_outputs; i++) {
        uint32_t idx = m->graph_outputs[i];
        if (state[idx] == TE_UNWRITTEN)
            return te_model_fail(m, TE_ERR_FORMAT, "GRAPH: output %lu is tensor %lu '%s', which no op "
                                 "writes and which is not a graph input", (unsigned long)i,
                                 (unsigned long)idx, m->tensors[idx].name);
    }
    return TE_OK;
}

te_status te_load_tables(te_model *m)
{
    te_status st = te_check_metadata(m);
    if (st == TE_OK)
        st = te_read_tensors(m);
    if (st == TE_OK)
        st = te_check_plan(m);
    if (st == TE_OK)
        st = te_read_graph(m);
    if (st == TE_OK)
        st = te_read_ops(m);
    return st;
}
