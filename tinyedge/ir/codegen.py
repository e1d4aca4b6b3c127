"""Generate the C op schema header and docs/ops.md from the op table.

Run `python -m tinyedge.ir.codegen` after changing `tinyedge/ir/ops.py`; a test fails when the
committed files are stale.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .ops import OPS_BY_CODE, PAD_MODES, RESIZE_COORDS, RESIZE_MODES, RESIZE_NEAREST

ROOT = Path(__file__).resolve().parents[2]
C_HEADER = ROOT / "runtime_c" / "src" / "ops.gen.h"
OPS_DOC = ROOT / "docs" / "ops.md"

_KIND = {"int": "TE_ATTR_INT", "float": "TE_ATTR_FLOAT", "ints": "TE_ATTR_INTS", "floats": "TE_ATTR_FLOATS"}


def _enum(prefix: str, names) -> str:
    body = ", ".join(f"{prefix}{n.upper()} = {i}" for i, n in enumerate(names))
    return f"enum {{ {body} }};\n"


def c_header() -> str:
    """The text of runtime_c/src/ops.gen.h."""
    defs = [OPS_BY_CODE[c] for c in sorted(OPS_BY_CODE)]
    out = ["/* Generated from tinyedge/ir/ops.py by `python -m tinyedge.ir.codegen`. Do not edit. */",
           "#ifndef TE_OPS_GEN_H", "#define TE_OPS_GEN_H", "",
           "/* Opcodes as stored in .tem files (append only). */", "typedef enum {"]
    out += [f"    TE_OP_{d.name.upper()} = {d.opcode}," for d in defs]
    out += ["} te_opcode;", f"#define TE_OP_MAX {max(OPS_BY_CODE)}", "",
            "/* Attribute indices: the order of the attributes in a PARAMS blob. */"]
    for d in defs:
        names = [f"TE_{d.name.upper()}_{a.name.upper()}" for a in d.attrs] + [f"TE_{d.name.upper()}_NATTRS"]
        out.append("enum { " + ", ".join(names[:1] and [f"{names[0]} = 0"] + names[1:]) + " };")
    out += ["", "/* Enumerated attribute values. */",
            _enum("TE_INTERP_", RESIZE_MODES).rstrip(),
            _enum("TE_COORD_", RESIZE_COORDS).rstrip(),
            _enum("TE_NEAREST_", RESIZE_NEAREST).rstrip(),
            _enum("TE_PADMODE_", PAD_MODES).rstrip(), "",
            "#ifdef TE_OPS_GEN_TABLE",
            "/* name, min inputs, max inputs, outputs, attribute count, attribute kinds */",
            "static const te_op_schema te_op_schemas[TE_OP_MAX + 1] = {"]
    for d in defs:
        kinds = ", ".join(_KIND[a.kind] for a in d.attrs) or "0"
        out.append(f"    [TE_OP_{d.name.upper()}] = {{\"{d.name}\", {d.min_inputs}, {d.max_inputs}, "
                   f"{d.n_outputs}, {len(d.attrs)}, {{{kinds}}}}},")
    out += ["};", "#endif", "", "#endif", ""]
    return "\n".join(out)


def _default(a) -> str:
    if a.default is None:
        return "required"
    return str(list(a.default)) if isinstance(a.default, tuple) else str(a.default)


def ops_doc() -> str:
    """The text of docs/ops.md."""
    out = ["# tinyedge IR ops", "",
           "Generated from `tinyedge/ir/ops.py` by `python -m tinyedge.ir.codegen`; do not edit.",
           "Activations are NHWC inside the IR. Opcodes are stored in `.tem` files and never renumbered;",
           "attributes are stored in the order listed (see `docs/format.md`, PARAMS).", ""]
    for c in sorted(OPS_BY_CODE):
        d = OPS_BY_CODE[c]
        ins = ", ".join(d.inputs) + (", ..." if d.variadic else "")
        opt = f" (last {d.optional_inputs} optional)" if d.optional_inputs else ""
        out += [f"## `{d.name}` (opcode {d.opcode})", "", d.doc, "", f"Inputs: {ins}{opt}.", ""]
        if d.attrs:
            out += ["| attribute | kind | default |", "|---|---|---|"]
            out += [f"| {a.name} | {a.kind} | {_default(a)} |" for a in d.attrs]
            out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    """Write the generated files (or with --check, exit 1 if they are stale)."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for path, text in ((C_HEADER, c_header()), (OPS_DOC, ops_doc())):
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not check:
            path.write_text(text)
    if check and stale:
        print("stale generated files: " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
