/* fixed_point.c - the parts of the requantization rule that run at load (docs/quantization.md). */
#include "fixed_point.h"

#include <math.h>

te_status te_quantize_multiplier(double real, int32_t *m, int *shift)
{
    if (!(real > 0.0) || !isfinite(real))
        return TE_ERR_SHAPE;
    int exp;
    double frac = frexp(real, &exp); /* real = frac * 2^exp, frac in [0.5, 1) */
    double q = floor(frac * 2147483648.0 + 0.5); /* exact: see fixed_point.py */
    if (q == 2147483648.0) {
        q /= 2;
        exp += 1;
    }
    if (exp < -31) {
        *m = 0;
        *shift = 0;
        return TE_OK;
    }
    if (exp > 30)
        return TE_ERR_SHAPE;
    *m = (int32_t)q;
    *shift = exp;
    return TE_OK;
}

int32_t te_requantize_i32(int32_t acc, int32_t m, int shift)
{
    return te_requantize(acc, m, shift);
}
