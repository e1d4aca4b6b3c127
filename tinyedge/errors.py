"""Errors tinyedge raises for bad input. Each message is one line that names what is wrong."""


class TinyEdgeError(Exception):
    """Base class: the CLI prints these as one line and exits with status 1, without a traceback."""


class ModelError(TinyEdgeError):
    """A source model (ONNX) cannot be read or is not valid."""


class UnsupportedOpError(ModelError):
    """A source model uses an op, or an attribute value, that tinyedge does not support."""

    def __init__(self, op: str, node: str, source: str, detail: str = ""):
        self.op, self.node, self.source = op, node, source
        msg = f"{source}: unsupported op '{op}' (node '{node}')"
        super().__init__(msg + (f": {detail}" if detail else ""))


class FormatError(TinyEdgeError):
    """A .tem file is malformed, damaged or of a version this tinyedge does not read."""


class RuntimeLoadError(TinyEdgeError):
    """The C runtime refused a .tem file; `status` is the runtime's te_status name."""

    def __init__(self, status: str, message: str):
        self.status = status
        super().__init__(message)


class InputError(TinyEdgeError):
    """Inputs given to a model do not match what it declares (name, count, shape or dtype)."""


class CalibrationError(TinyEdgeError):
    """Calibration data cannot be used: a missing path, unreadable images, wrong input names or
    shapes, non-float, empty, NaN or Inf data, or an unknown calibration method."""
