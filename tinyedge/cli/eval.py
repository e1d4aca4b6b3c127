"""`tinyedge eval`: accuracy of a .tem model on a data set, and agreement with a reference."""
from __future__ import annotations

from rich.progress import Progress
from rich.table import Table


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="measure a .tem file on a data set",
                       description="Run every sample of a data set through a .tem model; report top-1 "
                                   "accuracy (with --labels) and, against --reference, the output "
                                   "cosine similarity and max error.")
    p.add_argument("model", help="the .tem file")
    p.add_argument("--data", required=True, metavar="DATA.npz",
                   help="one array per model input, first axis = samples (float; INT8 inputs are "
                        "quantized with their scale and zero point)")
    p.add_argument("--labels", metavar="LABELS.npy", help="class index per sample (top-1 accuracy)")
    p.add_argument("--reference", metavar="MODEL.onnx|MODEL.tem",
                   help="compare outputs with this model (onnxruntime for .onnx when installed)")
    p.set_defaults(func=run)


def run(args, console) -> int:
    from ..evaluate import evaluate

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("evaluating", total=None)
        result = evaluate(args.model, args.data, args.labels, args.reference,
                          progress=lambda done, total: progress.update(task, completed=done, total=total))
    t = Table(show_header=False, title=f"{args.model} on {result.samples} samples of {args.data}",
              title_justify="left")
    if result.top1 is not None:
        t.add_row("top-1 accuracy", f"{result.top1:.2%}")
    for name, cos in result.cosine.items():
        t.add_row(f"'{name}' vs reference", f"cosine {cos:.5f}, max error {result.max_error[name]:.4g}")
    if result.reference:
        t.add_row("reference", f"{args.reference} ({result.reference})")
    if not t.rows:
        t.add_row("nothing to report", "give --labels and/or --reference")
    console.print(t)
    return 0
