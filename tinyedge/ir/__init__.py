"""tinyedge's intermediate representation: the op table and the graph."""
from .graph import DTYPE_BY_CODE, DTYPES, Graph, Node, QuantParams, Tensor
from .ops import OPS, OPS_BY_CODE, Attr, OpDef, ShapeError, fill_attrs, in_group, infer_shapes

__all__ = ["Graph", "Node", "Tensor", "QuantParams", "DTYPES", "DTYPE_BY_CODE", "OPS", "OPS_BY_CODE",
           "Attr", "OpDef", "ShapeError", "fill_attrs", "infer_shapes", "in_group"]
