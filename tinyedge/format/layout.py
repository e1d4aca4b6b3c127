"""On-disk constants and record layouts of the .tem format (docs/format.md), shared by writer and reader.

Every struct is little-endian with no implicit padding; the asserts at the bottom pin each record
to the size the spec gives it, as the C loader's static asserts do.
"""
from __future__ import annotations

import struct
from enum import IntEnum

MAGIC = b"TEDG"
VERSION_MAJOR = 1
VERSION_MINOR = 0
ENDIAN_TAG = 0x01020304
HEADER_SIZE = 64
MAX_SECTIONS = 64
MAX_RANK = 6
NONE = 0xFFFFFFFF  # absent optional op input, or a tensor without quantization
ARENA_MAX = 1 << 32
SECTION_ALIGN = 8
WEIGHTS_ALIGN = 64  # the WEIGHTS section's file offset and every constant inside it
TENSOR_ALIGN = 64  # every tensor offset (constants in WEIGHTS, activations in the arena)
PARAMS_ALIGN = 4
MAX_ATTR_LEN = 16  # longest ints/floats attribute (TE_MAX_ATTR_LEN in te_internal.h)

STORAGE_ACTIVATION = 0
STORAGE_CONSTANT = 1


class Section(IntEnum):
    """Section kinds (append only)."""

    STRINGS = 1
    TENSORS = 2
    OPS = 3
    IO = 4
    PARAMS = 5
    GRAPH = 6
    PLAN = 7
    METADATA = 8
    WEIGHTS = 9
    QUANT = 10


REQUIRED_SECTIONS = (Section.STRINGS, Section.TENSORS, Section.OPS, Section.IO, Section.PARAMS,
                     Section.GRAPH, Section.PLAN, Section.METADATA, Section.WEIGHTS)

# Bytes per element of each dtype code (tinyedge.ir.DTYPES gives the codes).
DTYPE_SIZES = {1: 4, 2: 1, 3: 1, 4: 4, 5: 2}

# magic, major, minor, endian_tag, header_size, file_size, section_count, section_table, checksum,
# flags, then 24 reserved bytes (written as zeros, ignored on read).
HEADER = struct.Struct("<4sHHIIQIIII24x")
# kind, flags, offset, size
SECTION_ENTRY = struct.Struct("<IIQQ")
# count, reserved: the head of TENSORS, OPS and QUANT; n_inputs, n_outputs: the head of GRAPH.
TABLE_HEAD = struct.Struct("<II")
# name, dtype, rank, storage, reserved, dims[6], offset, nbytes, quant, 12 reserved bytes
TENSOR = struct.Struct("<IBBBB6IQQI12x")
# opcode, name, io_first, n_inputs, n_outputs, params_offset, params_size
OP = struct.Struct("<IIIHHII")
# arena_size, activations_total, lower_bound, alignment, reserved
PLAN = struct.Struct("<QQQII")
# axis, n, data_offset, reserved
QUANT = struct.Struct("<iIII")
U32 = struct.Struct("<I")
I32 = struct.Struct("<i")
F32 = struct.Struct("<f")
META_PAIR = struct.Struct("<II")

assert HEADER.size == HEADER_SIZE
assert SECTION_ENTRY.size == 24
assert TENSOR.size == 64
assert OP.size == 24
assert PLAN.size == 32
assert QUANT.size == 16
