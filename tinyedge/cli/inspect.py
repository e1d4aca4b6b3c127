"""`tinyedge inspect`: what a .tem file holds, read by the Python reader (no C runtime needed)."""
from __future__ import annotations

import json

from rich.table import Table

from .fmt import human_bytes, shape_str


def add_parser(sub) -> None:
    p = sub.add_parser("inspect", help="list what a .tem file holds",
                       description="List a .tem file's inputs, outputs, ops, tensors, weights and "
                                   "memory plan. The file is checked as the runtime checks it.")
    p.add_argument("model", help="the .tem file")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.set_defaults(func=run)


def _layouts(meta: dict, key: str, n: int) -> list[str]:
    vals = meta.get(key, "").split(",") if meta.get(key) else []
    return (vals + ["-"] * n)[:n]


def _quant(t):
    """A tensor's quantization parameters as plain data, or None."""
    q = t.quant
    if q is None:
        return None
    return {"scale": [float(v) for v in q.scale], "zero_point": [int(v) for v in q.zero_point],
            "axis": q.axis}


def _quant_str(q) -> str:
    if q is None:
        return ""
    if len(q["scale"]) == 1:
        return f"scale {q['scale'][0]:.4g}, zero point {q['zero_point'][0]}"
    return f"{len(q['scale'])} scales (axis {q['axis']}), {min(q['scale']):.3g}..{max(q['scale']):.3g}"


def describe(path) -> dict:
    """Everything inspect shows, as plain data."""
    from ..format.reader import read_tem
    from ..ir.cost import macs

    tem = read_tem(path)
    t = tem.tensors

    def io(indices, layouts):
        return [{"name": t[i].name, "shape": list(t[i].shape), "dtype": t[i].dtype, "layout": lay,
                 "quant": _quant(t[i])} for i, lay in zip(indices, layouts)]

    ops = []
    for op in tem.ops:
        ins = [t[i] for i in op.inputs if i is not None]
        outs = [t[i] for i in op.outputs]
        ops.append({"op": op.op, "name": op.name, "inputs": [x.name for x in ins],
                    "outputs": [x.name for x in outs], "output_shape": list(outs[0].shape),
                    "macs": macs(op.op, [x.shape for x in ins], [x.shape for x in outs], op.attrs)})
    role = {**{t[i].name: "output" for i in tem.outputs}, **{t[i].name: "input" for i in tem.inputs}}
    tensors = [{"name": x.name, "shape": list(x.shape), "dtype": x.dtype, "nbytes": x.nbytes,
                "kind": "constant" if x.is_const else role.get(x.name, "activation"),
                "offset": x.offset, "quant": _quant(x)} for x in t]
    return {"file": str(path), "format_version": "%d.%d" % tem.version, "file_size": tem.file_size,
            "meta": tem.meta,
            "inputs": io(tem.inputs, _layouts(tem.meta, "input_layouts", len(tem.inputs))),
            "outputs": io(tem.outputs, _layouts(tem.meta, "output_layouts", len(tem.outputs))),
            "ops": ops, "tensors": tensors,
            "weights": {"tensors": sum(x.is_const for x in t), "bytes": tem.weight_bytes},
            "plan": {"arena_size": tem.arena_size, "activations_total": tem.activations_total,
                     "lower_bound": tem.lower_bound, "alignment": tem.alignment}}


def run(args, console) -> int:
    d = describe(args.model)
    if args.json:
        console.print_json(json.dumps(d))
        return 0
    m = d["meta"]
    console.print(f"[bold]{d['file']}[/]: '{m.get('name', '?')}' from {m.get('source', '?')}, "
                  f"built by {m.get('producer', '?')}, format {d['format_version']}, "
                  f"{human_bytes(d['file_size'])}")
    for title, rows in (("inputs", d["inputs"]), ("outputs", d["outputs"])):
        tab = Table("name", "shape", "dtype", "layout", "quantization", title=title, title_justify="left")
        for r in rows:
            tab.add_row(r["name"], shape_str(r["shape"]), r["dtype"], r["layout"], _quant_str(r["quant"]))
        console.print(tab)
    tab = Table("#", "op", "node", "inputs", "output shape", "MACs", title=f"{len(d['ops'])} ops",
                title_justify="left")
    for i, o in enumerate(d["ops"]):
        tab.add_row(str(i), o["op"], o["name"], ", ".join(o["inputs"]), shape_str(o["output_shape"]),
                    f"{o['macs']:,}" if o["macs"] else "")
    console.print(tab)
    console.print(f"total MACs per run: {sum(o['macs'] for o in d['ops']):,}")
    tab = Table("name", "kind", "shape", "dtype", "bytes", "offset", "quantization", title=f"{len(d['tensors'])} tensors "
                "(offset: in the arena for activations, in the weights for constants)",
                title_justify="left")
    for x in d["tensors"]:
        tab.add_row(x["name"], x["kind"], shape_str(x["shape"]), x["dtype"], f"{x['nbytes']:,}",
                    str(x["offset"]), _quant_str(x["quant"]))
    console.print(tab)
    w, p = d["weights"], d["plan"]
    console.print(f"weights: {w['tensors']} constant tensors, {human_bytes(w['bytes'])}")
    console.print(f"memory plan: arena {human_bytes(p['arena_size'])}; all activations "
                  f"{human_bytes(p['activations_total'])}; lower bound (largest set alive at once) "
                  f"{human_bytes(p['lower_bound'])}; alignment {p['alignment']}")
    return 0
