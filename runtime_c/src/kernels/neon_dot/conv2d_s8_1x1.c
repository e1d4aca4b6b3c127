/*
 * conv2d_s8_1x1.c - INT8 pointwise convolution as a matrix product with the dot-product extension
 * (te_conv2d_s8_1x1_4x4c16__neon_dot): the plain NEON kernel's matrix product with SDOT as its
 * step (gemm_s8_neon.h), four products per int32 lane per instruction instead of SMULL, SMLAL2 and
 * SADALP for 16. Its prepare is the plain kernel's (neon/conv2d_s8_1x1.c): same node, same plan,
 * same tasks.
 */
/* The dot product on an ARMv8.2-A target (which always has QRDMX): Debian gcc 12 accepts
 * -mcpu=cortex-a72+dotprod but then cannot inline vdotq_s32 (targets.py gives gcc
 * -march=armv8.2-a+dotprod for this folder instead); kernels.def lists this kernel under the same
 * condition. */
#if defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD) && defined(__ARM_FEATURE_QRDMX)
#define TE_NEON_GEMM_S8_DOT
#include "kernels/neon/gemm_s8_neon.h"

void te_conv2d_s8_1x1_neon_dot_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    te_neon_gemm_s8_task((const te_neon_gemm_s8 *)node->state, (const int8_t *)node->in[0]->data,
                         (int8_t *)node->out[0]->data, node->tasks, task);
}

#endif /* __ARM_NEON && __ARM_FEATURE_DOTPROD && __ARM_FEATURE_QRDMX */
