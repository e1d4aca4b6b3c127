"""The files generated from the op table are up to date, and the C runtime agrees with the table."""
from tinyedge.ir import OPS_BY_CODE
from tinyedge.ir.codegen import main as codegen


def test_generated_files_are_current():
    assert codegen(["--check"]) == 0, "run `make codegen` (python -m tinyedge.ir.codegen)"


def test_c_runtime_knows_every_opcode_by_the_same_name():
    from tinyedge._runtime import ffi, lib

    for code, d in OPS_BY_CODE.items():
        name = lib.te_opcode_name(code)
        assert name != ffi.NULL and ffi.string(name).decode() == d.name
    assert lib.te_opcode_name(max(OPS_BY_CODE) + 1) == ffi.NULL
