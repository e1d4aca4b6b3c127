/*
 * conv2d_s8_kxk.c - INT8 convolution of any window, stride, dilation and pads with one group, with
 * the dot-product extension (te_conv2d_s8_kxk_4x4c16__neon_dot): the plain kernel's im2col and
 * matrix product (neon/conv2d_s8_kxk.h) with SDOT as the product's step. Its prepare is the plain
 * kernel's (neon/conv2d_s8_kxk.c).
 */
/* Built under the condition of neon_dot/conv2d_s8_1x1.c (and of its kernels.def line). */
#if defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD) && defined(__ARM_FEATURE_QRDMX)
#define TE_NEON_GEMM_S8_DOT
#include "kernels/neon/conv2d_s8_kxk.h"

void te_conv2d_s8_kxk_neon_dot_eval(const te_node *node, void *scratch, int task)
{
    te_neon_conv2d_s8_kxk_task((const te_neon_conv2d_s8_kxk *)node->state,
                               (const int8_t *)node->in[0]->data, (int8_t *)node->out[0]->data,
                               (int8_t *)scratch, node->tasks, task);
}

#endif /* __ARM_NEON && __ARM_FEATURE_DOTPROD && __ARM_FEATURE_QRDMX */
