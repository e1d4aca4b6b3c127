"""`tinyedge build`: compile a model into a .tem file and print a short summary."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..errors import TinyEdgeError
from .fmt import human_bytes


def parse_shapes(items) -> dict:
    """Parse --input-shape NAME=d0,d1,... values into {name: (d0, d1, ...)}."""
    shapes = {}
    for item in items or []:
        name, sep, dims = item.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise TinyEdgeError(f"--input-shape '{item}': expected NAME=d0,d1,... "
                                "(for example input=1,3,224,224)") from None
    return shapes


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="compile an ONNX model into a .tem file",
                       description="Import a model, optimize it, plan its memory and write a .tem file.")
    p.add_argument("model", help="source model (.onnx)")
    p.add_argument("-o", "--output", help="the .tem file to write (default: MODEL with .tem)")
    p.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...",
                   help="concrete shape for an input with symbolic dims (repeatable)")
    p.set_defaults(func=run)


def run(args, console) -> int:
    from ..compiler import build

    out = Path(args.output) if args.output else Path(args.model).with_suffix(".tem")
    with console.status("building") as status:
        result = build(args.model, out, input_shapes=parse_shapes(args.input_shape),
                       on_stage=lambda s: status.update(f"{s}..."))
    plan = result.plan
    t = Table(title=f"{out}", show_header=False, title_justify="left")
    t.add_row("ops", f"{result.num_ops}  ({result.graph.summary()})")
    t.add_row("parameters", f"{result.num_params:,}  ({human_bytes(result.weight_bytes)} of weights)")
    t.add_row("file size", human_bytes(result.file_size))
    t.add_row("arena", f"{human_bytes(plan.arena_size)}  (all activations "
                       f"{human_bytes(plan.activations_total)}, lower bound {human_bytes(plan.lower_bound)})")
    console.print(t)
    return 0
