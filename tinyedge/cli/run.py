"""`tinyedge run`: run a .tem file once on given (or random) inputs; print or save the outputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .fmt import shape_str
from .inputs import read_inputs


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a .tem file with the C runtime",
                       description="Run a .tem file once. Inputs not given are random (seeded).")
    p.add_argument("model", help="the .tem file")
    p.add_argument("-i", "--input", action="append", metavar="[NAME=]FILE",
                   help="input array: FILE.npy in input order, NAME=FILE.npy, or FILE.npz by name")
    p.add_argument("-o", "--output", metavar="OUT.npz", help="save the outputs here, by output name")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.set_defaults(func=run)


def run(args, console) -> int:
    from ..runtime import load

    model = load(args.model)
    feeds = read_inputs(args.input, model.inputs, seed=args.seed)
    outputs = model.run(feeds)
    named = {info.name: out for info, out in zip(model.outputs, outputs)}
    if args.output:
        out = Path(args.output)
        np.savez(out, **named)
        console.print(f"wrote {len(named)} output(s) to {out}")
        return 0
    with np.printoptions(precision=5, suppress=True, threshold=64, edgeitems=4):
        for name, arr in named.items():
            console.print(f"[bold]{name}[/] {shape_str(arr.shape)} {arr.dtype}")
            console.print(np.array2string(arr), soft_wrap=True)
    return 0
