/*
 * model_internal.h - the te_model structure and the load-time context, private to the loader
 * (loader*.c, attrs.c), the interpreter (model.c) and the dispatch table (kernels.c).
 * Kernels never see this header: they get te_node / te_tensor (te_internal.h) only.
 */
#ifndef TE_MODEL_INTERNAL_H
#define TE_MODEL_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "te_internal.h"

#define TE_ERROR_LEN 512
#define TE_HEADER_SIZE 64u
#define TE_SECTION_ENTRY_SIZE 24u
#define TE_MAX_SECTIONS 64u
#define TE_TENSOR_RECORD_SIZE 64u
#define TE_OP_RECORD_SIZE 24u
#define TE_QUANT_RECORD_SIZE 16u
#define TE_PLAN_SIZE 32u
#define TE_MAX_ARENA ((uint64_t)1 << 32) /* docs/format.md, PLAN */

/* Byte offsets of the fields of each on-disk record (docs/format.md). Records are read field by
 * field with te_rd_*, never cast to structs, so no padding or alignment assumption is involved. */
enum {
    TE_HDR_MAGIC = 0, TE_HDR_VERSION_MAJOR = 4, TE_HDR_VERSION_MINOR = 6, TE_HDR_ENDIAN_TAG = 8,
    TE_HDR_HEADER_SIZE = 12, TE_HDR_FILE_SIZE = 16, TE_HDR_SECTION_COUNT = 24,
    TE_HDR_SECTION_TABLE = 28, TE_HDR_CHECKSUM = 32, TE_HDR_FLAGS = 36
};
enum { TE_SEC_KIND = 0, TE_SEC_FLAGS = 4, TE_SEC_OFFSET = 8, TE_SEC_SIZE = 16 };
enum {
    TE_TEN_NAME = 0, TE_TEN_DTYPE = 4, TE_TEN_RANK = 5, TE_TEN_STORAGE = 6, TE_TEN_DIMS = 8,
    TE_TEN_OFFSET = 32, TE_TEN_NBYTES = 40, TE_TEN_QUANT = 48
};
enum {
    TE_OPR_OPCODE = 0, TE_OPR_NAME = 4, TE_OPR_IO_FIRST = 8, TE_OPR_N_INPUTS = 12,
    TE_OPR_N_OUTPUTS = 14, TE_OPR_PARAMS_OFFSET = 16, TE_OPR_PARAMS_SIZE = 20
};
enum { TE_QNT_AXIS = 0, TE_QNT_N = 4, TE_QNT_DATA_OFFSET = 8 };
enum { TE_PLAN_ARENA_SIZE = 0 };
#define TE_TABLE_HEAD 8u /* u32 count + u32 reserved before TENSORS, OPS and QUANT records */

/* Section kinds (docs/format.md, section table). */
enum {
    TE_SEC_STRINGS = 1,
    TE_SEC_TENSORS = 2,
    TE_SEC_OPS = 3,
    TE_SEC_IO = 4,
    TE_SEC_PARAMS = 5,
    TE_SEC_GRAPH = 6,
    TE_SEC_PLAN = 7,
    TE_SEC_METADATA = 8,
    TE_SEC_WEIGHTS = 9,
    TE_SEC_QUANT = 10,
    TE_SEC_KNOWN_MAX = 10
};

/* A section of the file: bytes [off, off + size) of the model's buffer. */
typedef struct {
    const uint8_t *data;  /* NULL when the section is absent */
    uint64_t off;
    uint64_t size;
} te_section;

/* One block of load-time memory (te_prepare_alloc and the loader's own tables), freed with the model. */
typedef struct te_block {
    struct te_block *next;
} te_block;

struct te_model {
    /* The file's bytes: owned (te_model_load_file) or the caller's (te_model_load_buffer). */
    const uint8_t *bytes;
    size_t size;
    void *bytes_raw;  /* what malloc returned for an owned buffer, or NULL */

    te_section sections[TE_SEC_KNOWN_MAX + 1];

    te_tensor *tensors;
    uint32_t n_tensors;
    te_quant *quants;
    uint32_t n_quants;

    te_node *nodes;
    uint32_t n_nodes;

    uint32_t *graph_inputs;   /* tensor indices */
    uint32_t *graph_outputs;
    uint32_t n_graph_inputs, n_graph_outputs;

    uint32_t n_meta;          /* METADATA pairs, read in place from the section */

    uint64_t arena_size;      /* from PLAN */
    uint8_t *arena;           /* 64-aligned; the caller's or arena_raw's */
    void *arena_raw;          /* what the runtime allocated, or NULL when the caller gave the arena */
    uint8_t *scratch;         /* 64-aligned: one buffer per thread, scratch_stride bytes apart, each
                                 the max scratch_size of all ops rounded up to 64 (NULL when 0) */
    void *scratch_raw;
    size_t scratch_size;
    size_t scratch_stride;

    int threads;              /* te_options.threads, 1 when 0 (always 1 with TE_NO_THREADS) */
    te_pool *pool;            /* threads - 1 workers, or NULL: every task runs on the caller */

    te_block *blocks;         /* load-time allocations */

    te_op_callback profiler;
    void *profiler_user;

    char error[TE_ERROR_LEN];
};

/* Load-time state handed to kernels' prepare steps. */
struct te_prepare_ctx {
    te_model *model;
    uint32_t op_index;  /* the op being prepared, for messages */
};

/* ---- little-endian reads from bounds-checked positions (the caller checks the range) ---- */
static inline uint16_t te_rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t te_rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t te_rd_u64(const uint8_t *p)
{
    return (uint64_t)te_rd_u32(p) | ((uint64_t)te_rd_u32(p + 4) << 32);
}
static inline int32_t te_rd_i32(const uint8_t *p)
{
    uint32_t u = te_rd_u32(p);
    /* Two's complement reinterpretation without implementation-defined conversion. */
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}
static inline float te_rd_f32(const uint8_t *p)
{
    union { uint32_t u; float f; } v;
    v.u = te_rd_u32(p);
    return v.f;
}

/* The first 64-aligned address at or after raw (raw must have TE_ALIGN - 1 bytes to spare). */
static inline void *te_align_up(void *raw)
{
    return (uint8_t *)raw + (TE_ALIGN - (uintptr_t)raw % TE_ALIGN) % TE_ALIGN;
}

/* ---- model.c / loader.c ---- */

/* Record a printf-style message in model->error and return status. */
te_status te_model_fail(te_model *model, te_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
te_status te_model_vfail(te_model *model, te_status status, const char *fmt, va_list ap);

/* Allocate zeroed, 64-aligned memory that lives until te_model_free (NULL when out of memory). */
void *te_model_alloc(te_model *model, size_t size);

/* te_model_alloc for n elements of elem bytes; NULL when n * elem overflows or memory runs out. */
void *te_model_alloc_array(te_model *model, size_t n, size_t elem);

/* Checks 1-3 of docs/format.md: header, section table, checksum; fills model->sections (loader.c). */
te_status te_load_header(te_model *model);

/* Checks 4-8 (strings, tensors, quant, plan, graph, ops) and builds the tables (loader_tables.c). */
te_status te_load_tables(te_model *model);

/* Give the model its arena (options->arena or its own), choose a kernel for every op, run its
 * prepare, then allocate the scratch buffers (one per thread) and start the thread pool
 * (loader_prepare.c). */
te_status te_load_prepare(te_model *model, const te_options *options);

/* The string at reference ref of STRINGS, or NULL when ref does not end with a NUL inside it. */
const char *te_string_at(const te_model *model, uint32_t ref);

/* ---- attrs.c ---- */

/* Parse a PARAMS blob into attrs following schema; on failure fill why (a message fragment). */
te_status te_attrs_parse(const te_op_schema *schema, const uint8_t *blob, uint64_t size,
                         te_attr *attrs, char *why, size_t why_size);

/* ---- kernels.c ---- */

/* The schema of opcode, or NULL when the runtime does not know it. */
const te_op_schema *te_op_schema_of(uint32_t opcode);

/* Bit set of (1u << te_isa) the running CPU supports (TE_ISA_REF always). */
uint32_t te_cpu_isas(void);


/* Every kernel of kernels.def, and their count. */
const te_kernel *te_kernel_table(size_t *count);

/* ---- crc32.c ---- */

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of n bytes. */
uint32_t te_crc32(const uint8_t *data, size_t n);

#endif /* TE_MODEL_INTERNAL_H */
