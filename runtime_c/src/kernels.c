/*
 * kernels.c - the dispatch table built from kernels.def, the op schemas of ops.gen.h, and what the
 * running CPU can execute (te_cpu_isas). The loader (loader_prepare.c) walks a node's candidate
 * kernels from the best allowed ISA down to the reference one.
 */
#define TE_OPS_GEN_TABLE
#include "model_internal.h"

#if defined(__linux__) && (defined(__aarch64__) || defined(__arm__))
#include <sys/auxv.h>
/* The kernel's HWCAP bits (asm/hwcap.h), spelled here so no kernel header is needed: aarch64
 * AT_HWCAP has ASIMD (NEON) at bit 1 and ASIMDDP (SDOT/UDOT) at bit 20; 32-bit ARM has NEON at
 * bit 12. */
#define TE_HWCAP_ASIMD (1ul << 1)
#define TE_HWCAP_ASIMDDP (1ul << 20)
#define TE_HWCAP_NEON (1ul << 12)
#endif

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

/* What the CPU reports, not what the compiler assumed: a binary built with dot-product kernels
 * (kernels/neon_dot/ only) may run on a Pi 4, which has none. Which kernels exist at all is decided
 * at compile time, by the #if guards of kernels.def. */
uint32_t te_cpu_isas(void)
{
    uint32_t isas = 1u << TE_ISA_REF;
#if defined(__linux__) && defined(__aarch64__)
    unsigned long hwcap = getauxval(AT_HWCAP);
    if (hwcap & TE_HWCAP_ASIMD)
        isas |= 1u << TE_ISA_NEON;
    if ((hwcap & TE_HWCAP_ASIMD) && (hwcap & TE_HWCAP_ASIMDDP))
        isas |= 1u << TE_ISA_NEON_DOT;
#elif defined(__linux__) && defined(__arm__)
    if (getauxval(AT_HWCAP) & TE_HWCAP_NEON)
        isas |= 1u << TE_ISA_NEON;
#elif defined(__aarch64__) || defined(__ARM_NEON)
    /* Elsewhere (macOS, bare metal) trust the target: every aarch64 CPU has NEON. */
    isas |= 1u << TE_ISA_NEON;
#if defined(__ARM_FEATURE_DOTPROD)
    isas |= 1u << TE_ISA_NEON_DOT;
#endif
#endif
    /* x86: one binary runs on many CPUs, so ask the CPU itself. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        isas |= 1u << TE_ISA_AVX2;
#endif
    return isas;
}
