"""tinyedge: compile ONNX models into flat .tem files and run them with a small C runtime.

    import tinyedge
    tinyedge.build("model.onnx", "model.tem")
    m = tinyedge.load("model.tem")
    outputs = m.run([x])
    tinyedge.deploy("model.tem", "pi4", "pi@raspberrypi.local", trace="trace.json")
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


def deploy(model, board, host=None, **options):
    """Push a .tem model and the board's runner to a board (over SSH, or locally for an emulated
    board without `host`), run the on-device benchmark and return a DeployResult (summary, trace
    path); see `tinyedge.device.session.deploy` for the options."""
    from .device.session import deploy as _deploy

    return _deploy(model, board, host, **options)


def deploy_fleet(hosts, **options):
    """The same deploy to several hosts at once with a bounded pool (`jobs=4`); one FleetEntry
    (host, result or error) per host: one failing host does not stop the others."""
    from .device.fleet import deploy_fleet as _fleet

    return _fleet(hosts, **options)


__all__ = ["__version__", "load", "build", "deploy", "deploy_fleet"]
