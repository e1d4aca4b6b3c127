"""The numpy reference executor: the float32 golden model of every IR op.

Every other backend (the C kernels, and the float models the frontends import) is checked against
it. One kernel per op of tinyedge.ir.OPS, split by family: conv, linear, elementwise, pool,
movement, normalize, resize.
"""
from .executor import ANY_DTYPE_OPS, KERNELS, evaluate, run, run_all

__all__ = ["run", "run_all", "evaluate", "KERNELS", "ANY_DTYPE_OPS"]
