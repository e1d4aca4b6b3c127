"""`tinyedge ops`: list the IR ops the compiler and the runtime support (from the op table)."""
from __future__ import annotations

from rich.table import Table


def add_parser(sub) -> None:
    p = sub.add_parser("ops", help="list the supported IR ops",
                       description="List tinyedge's IR ops with their opcodes and attributes.")
    p.set_defaults(func=run)


def run(args, console) -> int:
    from ..ir.ops import OPS_BY_CODE

    t = Table("opcode", "op", "inputs", "attributes", "what it computes")
    for code in sorted(OPS_BY_CODE):
        d = OPS_BY_CODE[code]
        ins = ", ".join(d.inputs) + (", ..." if d.variadic else "")
        t.add_row(str(code), d.name, ins, ", ".join(a.name for a in d.attrs), d.doc)
    console.print(t)
    return 0
