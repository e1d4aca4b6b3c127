"""The .tem file format (docs/format.md): the writer, the reader and their shared layout."""
from .reader import TemModel, TemOp, TemSection, TemTensor, read_tem
from .writer import serialize, tensor_order, write_tem

__all__ = ["serialize", "write_tem", "tensor_order", "read_tem", "TemModel", "TemTensor", "TemOp",
           "TemSection"]
