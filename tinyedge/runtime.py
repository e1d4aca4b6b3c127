"""Run .tem models with the C runtime from Python (the cffi extension `tinyedge._runtime`).

    model = tinyedge.runtime.load("model.tem")
    [y] = model.run(x)              # or model.run([x1, x2]) or model.run({"x": x})

Inputs are checked (count, names, shape, dtype) before they reach C; a wrong dtype is refused, never
cast silently. Outputs are new numpy arrays. The runtime itself checks the whole file at load
(docs/format.md), so a damaged file raises RuntimeLoadError instead of crashing the process.
"""
from __future__ import annotations

import os
from collections import namedtuple
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from .errors import InputError, RuntimeLoadError, TinyEdgeError

try:
    from ._runtime import ffi, lib
except ImportError as e:  # the extension is compiled, not shipped as source
    raise ImportError("tinyedge's C runtime is not built: run `python tinyedge/_runtime_build.py` "
                      "from the repository root, or `pip install -e .`") from e

TensorInfo = namedtuple("TensorInfo", "name shape dtype scale zero_point")
TensorInfo.__doc__ = """A graph input or output: shape (tuple), numpy dtype, and for a tensor
quantized per tensor its scale and zero point (real = scale * (q - zero_point)); None otherwise."""

OpInfo = namedtuple("OpInfo", "name op kernel macs")
OpInfo.__doc__ = """One op of a loaded model: source node name, IR op, the kernel chosen at load,
multiply-accumulates per run."""

# te_dtype codes (runtime_c/include/tinyedge.h, docs/format.md) to numpy.
_DTYPES = {1: np.dtype(np.float32), 2: np.dtype(np.int8), 3: np.dtype(np.uint8),
           4: np.dtype(np.int32), 5: np.dtype(np.int16)}

Inputs = Union[np.ndarray, Sequence[np.ndarray], Mapping[str, np.ndarray]]

_ERR_SIZE = 1024


def _text(ptr) -> Optional[str]:
    return None if ptr == ffi.NULL else ffi.string(ptr).decode("utf-8", "replace")


def _describe(shape: tuple, dtype: np.dtype) -> str:
    return f"{tuple(int(d) for d in shape)} {np.dtype(dtype).name}"


@ffi.def_extern()
def te_py_profile_op(user, op_index, nanoseconds):
    """The C profiler callback: append (op index, ns) to the list behind the handle."""
    ffi.from_handle(user).append((op_index, nanoseconds))


class Model:
    """A loaded .tem model. Not thread-safe: use one Model per thread (load the file again)."""

    def __init__(self, handle, source: str):
        self._h = ffi.gc(handle, lib.te_model_free)
        self.source = source
        self.inputs = [self._info(lib.te_model_input_info, i)
                       for i in range(lib.te_model_num_inputs(self._h))]
        self.outputs = [self._info(lib.te_model_output_info, i)
                        for i in range(lib.te_model_num_outputs(self._h))]
        self.ops = [self._op(i) for i in range(lib.te_model_num_ops(self._h))]

    # -- description ----------------------------------------------------------------------------
    def _info(self, fn, i: int) -> TensorInfo:
        info = ffi.new("te_tensor_info *")
        self._check(fn(self._h, i, info), "describing a tensor")
        shape = tuple(int(info.dims[d]) for d in range(info.rank))
        quant = (float(info.scale), int(info.zero_point)) if info.has_quant else (None, None)
        return TensorInfo(_text(info.name), shape, _DTYPES[int(info.dtype)], *quant)

    def _op(self, i: int) -> OpInfo:
        info = ffi.new("te_op_info *")
        self._check(lib.te_model_op_info(self._h, i, info), "describing an op")
        return OpInfo(_text(info.name), _text(info.op), _text(info.kernel), int(info.macs))

    @property
    def arena_size(self) -> int:
        """Bytes of activation arena the model uses (from the file's memory plan)."""
        return int(lib.te_model_arena_size(self._h))

    def meta(self, key: str) -> Optional[str]:
        """The metadata value for key ('name', 'producer', 'source', ...), or None when absent."""
        return _text(lib.te_model_meta(self._h, key.encode("utf-8")))

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}: {_describe(t.shape, t.dtype)}" for t in self.inputs)
        return f"<tinyedge.Model {self.source!r} ({ins}) {len(self.ops)} ops>"

    # -- running --------------------------------------------------------------------------------
    def _check(self, status: int, doing: str) -> None:
        if status != lib.TE_OK:
            raise TinyEdgeError(f"{self.source}: {doing}: {_text(lib.te_status_name(status))}: "
                                f"{_text(lib.te_model_error(self._h))}")

    def _ordered(self, x: Inputs) -> list:
        """The inputs as a list in the model's input order, with count and names checked."""
        names = [t.name for t in self.inputs]
        if isinstance(x, Mapping):
            unknown = [k for k in x if k not in names]
            if unknown:
                raise InputError(f"unknown input '{unknown[0]}'; the model's inputs are "
                                 + ", ".join(f"'{n}'" for n in names))
            missing = [n for n in names if n not in x]
            if missing:
                raise InputError(f"missing input '{missing[0]}'; the model's inputs are "
                                 + ", ".join(f"'{n}'" for n in names))
            return [x[n] for n in names]
        if isinstance(x, (list, tuple)):
            if len(x) != len(names):
                raise InputError(f"expected {len(names)} input(s) ("
                                 + ", ".join(f"'{n}'" for n in names) + f"), got {len(x)}")
            return list(x)
        if len(names) != 1:
            raise InputError(f"the model has {len(names)} inputs ("
                             + ", ".join(f"'{n}'" for n in names)
                             + "): pass a list in that order or a dict by name")
        return [x]

    def _set_inputs(self, x: Inputs) -> None:
        for i, (info, value) in enumerate(zip(self.inputs, self._ordered(x))):
            arr = np.asarray(value)
            if arr.dtype != info.dtype:
                raise InputError(f"input '{info.name}': expected {_describe(info.shape, info.dtype)}, "
                                 f"got {_describe(arr.shape, arr.dtype)}; cast it with "
                                 f".astype(np.{info.dtype.name})")
            if arr.shape != info.shape:
                raise InputError(f"input '{info.name}': expected shape "
                                 f"{_describe(info.shape, info.dtype)}, got "
                                 f"{_describe(arr.shape, arr.dtype)}")
            arr = np.ascontiguousarray(arr)  # no copy when it already is
            self._check(lib.te_model_set_input(self._h, i, ffi.from_buffer(arr), arr.nbytes),
                        f"setting input '{info.name}'")

    def _get_outputs(self) -> list[np.ndarray]:
        outs = []
        for i, info in enumerate(self.outputs):
            out = np.empty(info.shape, info.dtype)
            self._check(lib.te_model_get_output(self._h, i, ffi.from_buffer(out, require_writable=True),
                                                out.nbytes), f"reading output '{info.name}'")
            outs.append(out)
        return outs

    def run(self, x: Inputs) -> list[np.ndarray]:
        """Run the model once: x is one array (one-input model), a list in input order, or a dict
        by input name. Returns new arrays, in output order. Raises InputError on a wrong count,
        name, shape or dtype."""
        self._set_inputs(x)
        self._check(lib.te_model_invoke(self._h), "running")
        return self._get_outputs()

    def profile(self, x: Inputs) -> tuple[list[np.ndarray], list[int]]:
        """Run once with the per-op profiler on: the outputs, and each op's wall time in ns."""
        self._set_inputs(x)
        times: list = []
        handle = ffi.new_handle(times)
        lib.te_model_set_profiler(self._h, lib.te_py_profile_op, handle)
        try:
            self._check(lib.te_model_invoke(self._h), "running")
        finally:
            lib.te_model_set_profiler(self._h, ffi.NULL, ffi.NULL)
        ns = [0] * len(self.ops)
        for index, elapsed in times:
            ns[index] = int(elapsed)
        return self._get_outputs(), ns


def _options(threads: int):
    options = ffi.new("te_options *")
    options.threads = threads
    return options


def _load_error(status: int, source: str, err) -> RuntimeLoadError:
    msg = ffi.string(err).decode("utf-8", "replace")
    if not msg.startswith(source):  # I/O messages from the runtime already start with the path
        msg = f"{source}: {msg}"
    return RuntimeLoadError(_text(lib.te_status_name(status)), msg)


def load(path: Union[str, os.PathLike], threads: int = 1) -> Model:
    """Load a .tem file with the C runtime. threads: 0 or 1 runs every op on the calling thread;
    2..64 starts threads - 1 workers at load that split the heavy ops with it (outputs are
    byte-identical for any count). Raises RuntimeLoadError (with the runtime's status name and a
    message starting with the path) when the file is missing or refused."""
    source = os.fspath(path)
    if not os.path.exists(source):
        raise RuntimeLoadError("io error", f"{source}: no such file")
    if os.path.isdir(source):
        raise RuntimeLoadError("io error", f"{source}: is a directory, not a .tem file")
    out = ffi.new("te_model **")
    err = ffi.new("char[]", _ERR_SIZE)
    status = lib.te_model_load_file(os.fsencode(source), _options(threads), out, err, _ERR_SIZE)
    if status != lib.TE_OK:
        raise _load_error(status, source, err)
    return Model(out[0], source)


def load_bytes(data: bytes, threads: int = 1, name: str = "<bytes>") -> Model:
    """Load a .tem file held in memory (the bytes are copied once into an aligned buffer that lives
    as long as the model). `name` stands for the path in messages."""
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    # A 64-aligned copy: over-allocate and start at the first aligned byte.
    store = np.zeros(raw.size + 64, dtype=np.uint8)
    start = (-store.ctypes.data) % 64
    buf = store[start:start + raw.size]
    buf[:] = raw
    out = ffi.new("te_model **")
    err = ffi.new("char[]", _ERR_SIZE)
    status = lib.te_model_load_buffer(ffi.from_buffer(buf), raw.size, _options(threads), out, err,
                                      _ERR_SIZE)
    if status != lib.TE_OK:
        raise _load_error(status, name, err)
    model = Model(out[0], name)
    model._buffer = store  # the runtime uses these bytes in place until the model is freed
    return model
