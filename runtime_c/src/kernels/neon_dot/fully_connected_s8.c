/*
 * fully_connected_s8.c - INT8 fully connected layer with the dot-product extension
 * (te_fully_connected_s8_4x4c16__neon_dot): the plain NEON kernel's matrix product with SDOT as
 * its step (gemm_s8_neon.h). Its prepare is the plain kernel's (neon/fully_connected_s8.c).
 */
/* Built under the condition of neon_dot/conv2d_s8_1x1.c (and of its kernels.def line). */
#if defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD) && defined(__ARM_FEATURE_QRDMX)
#define TE_NEON_GEMM_S8_DOT
#include "kernels/neon/gemm_s8_neon.h"

void te_fully_connected_s8_neon_dot_eval(const te_node *node, void *scratch, int task)
{
    (void)scratch;
    te_neon_gemm_s8_task((const te_neon_gemm_s8 *)node->state, (const int8_t *)node->in[0]->data,
                         (int8_t *)node->out[0]->data, node->tasks, task);
}

#endif /* __ARM_NEON && __ARM_FEATURE_DOTPROD && __ARM_FEATURE_QRDMX */
