/*
 * kernels.c - the dispatch table built from kernels.def, the op schemas of ops.gen.h, and the choice
 * of a kernel for a node: among the kernels of the node's opcode and output dtype, the one whose ISA
 * is allowed (by the CPU and the caller's isa_mask) and ranks highest. Ranking is the te_isa value:
 * REF < NEON < NEON_DOT < AVX2; a CPU never has both ARM and x86 ISAs, so only one family competes.
 */
#define TE_OPS_GEN_TABLE
#include "model_internal.h"

static const te_kernel te_kernels[] = {
#define TE_KERNEL(name, opcode, dtype, isa, prepare, eval) {#name, opcode, dtype, isa, prepare, eval},
#include "kernels.def"
#undef TE_KERNEL
};

#define TE_KERNEL_COUNT (sizeof te_kernels / sizeof te_kernels[0])

const te_kernel *te_kernel_table(size_t *count)
{
    if (count)
        *count = TE_KERNEL_COUNT;
    return te_kernels;
}

const te_op_schema *te_op_schema_of(uint32_t opcode)
{
    if (opcode == 0 || opcode > TE_OP_MAX || te_op_schemas[opcode].name == NULL)
        return NULL;
    return &te_op_schemas[opcode];
}

const char *te_opcode_name(int opcode)
{
    const te_op_schema *schema = opcode < 0 ? NULL : te_op_schema_of((uint32_t)opcode);
    return schema ? schema->name : NULL;
}

uint32_t te_cpu_isas(void)
{
    uint32_t isas = 1u << TE_ISA_REF;
    /* ARM: NEON and the dot product are compile-time properties of the target this file is built
     * for (the board files choose -mcpu); an aarch64 CPU always has NEON. */
#if defined(__aarch64__) || defined(__ARM_NEON)
    isas |= 1u << TE_ISA_NEON;
#endif
#if defined(__ARM_FEATURE_DOTPROD)
    isas |= 1u << TE_ISA_NEON_DOT;
#endif
    /* x86: one binary runs on many CPUs, so ask the CPU itself. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        isas |= 1u << TE_ISA_AVX2;
#endif
    return isas;
}

const te_kernel *te_kernel_select(int opcode, te_dtype dtype, uint32_t allowed)
{
    const te_kernel *best = NULL;
    size_t i;
    allowed |= 1u << TE_ISA_REF;
    for (i = 0; i < TE_KERNEL_COUNT; i++) {
        const te_kernel *k = &te_kernels[i];
        if (k->opcode != opcode || k->dtype != dtype || !(allowed & (1u << k->isa)))
            continue;
        if (best == NULL || k->isa > best->isa)
            best = k;
    }
    return best;
}
