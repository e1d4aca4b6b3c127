/*
 * conv2d_s8_1x1.c - INT8 pointwise convolution as a matrix product with the dot-product extension
 * (te_conv2d_s8_1x1_2x4c16__neon_dot): the plain NEON kernel's matrix product with SDOT as its
 * step (gemm_s8_neon.h), four products per int32 lane per instruction instead of SMULL, SMLAL and
 * SADALP for 16. Its prepare is the plain kernel's (neon/conv2d_s8_1x1.c): same node, same plan.
 */
/* The dot product on an ARMv8.2-A target (which always has QRDMX): Debian gcc 12 accepts
 * -mcpu=cortex-a72+dotprod (a Pi 4 build's flags for this folder) but then cannot inline vdotq_s32
 * and its assembler refuses SDOT; kernels.def lists this kernel under the same condition. */
#if defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD) && defined(__ARM_FEATURE_QRDMX)
#define TE_NEON_GEMM_S8_DOT
#include "kernels/neon/gemm_s8_neon.h"

void te_conv2d_s8_1x1_neon_dot_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    const te_neon_gemm_s8 *g = (const te_neon_gemm_s8 *)node->state;
    int64_t r0, r1;  /* this task's pixels, as the plain kernel splits them */
    te_task_range(g->m, node->tasks, task, &r0, &r1);
    te_neon_gemm_s8_run(g, (const int8_t *)node->in[0]->data, (const int8_t *)node->in[1]->data,
                        (int8_t *)node->out[0]->data, (size_t)r0, (size_t)r1, 0, g->n);
}

#endif /* __ARM_NEON && __ARM_FEATURE_DOTPROD && __ARM_FEATURE_QRDMX */
