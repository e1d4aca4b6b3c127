"""tinyedge: compile ONNX models into flat .tem files and run them with a small C runtime.

    import tinyedge
    tinyedge.build("model.onnx", "model.tem")
    m = tinyedge.load("model.tem")
    outputs = m.run([x])
"""
__version__ = "0.1.0"


def load(path, threads: int = 1):
    """Load a .tem file with the C runtime; returns a `tinyedge.runtime.Model`. threads > 1 (up to
    64) splits the heavy ops across that many threads; outputs are the same for any count."""
    from .runtime import load as _load

    return _load(path, threads=threads)


def build(src, out, **options):
    """Compile a source model (ONNX) into a .tem file, float or INT8 (`quantize="int8"`,
    `calib=...`); see `tinyedge.compiler.build` for the options. Returns a BuildResult."""
    from .compiler import build as _build

    return _build(src, out, **options)


__all__ = ["__version__", "load", "build"]
