"""`tinyedge build`: compile a model into a .tem file (float or INT8) and print a short summary."""
from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import TinyEdgeError
from .fmt import human_bytes

CALIB_METHODS = ("minmax", "percentile", "mse", "entropy")


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


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise TinyEdgeError(f"{flag} '{text}': expected comma-separated numbers") from None


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="compile an ONNX model into a .tem file (float or INT8)",
                       description="Import a model, optimize it, optionally quantize it to INT8, plan "
                                   "its memory and write a .tem file.")
    p.add_argument("model", help="source model (.onnx)")
    p.add_argument("-o", "--output", help="the .tem file to write (default: MODEL with .tem)")
    p.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...",
                   help="concrete shape for an input with symbolic dims (repeatable)")
    q = p.add_argument_group("INT8 quantization (docs/quantization.md)")
    q.add_argument("--quantize", choices=["int8"], help="quantize to INT8 (needs --calib)")
    q.add_argument("--calib", metavar="FILE.npz|DIR",
                   help="calibration data: .npz with one array per input (first axis = samples), or "
                        "a folder of images for a one-input image model")
    q.add_argument("--calib-method", choices=CALIB_METHODS, default="minmax",
                   help="how activation ranges are chosen (default minmax: never clips what the "
                        "calibration set produced; see docs/quantization.md)")
    q.add_argument("--per-tensor", action="store_true",
                   help="one weight scale per tensor instead of per output channel")
    q.add_argument("--float-layers", metavar="NAME,...", help="keep these layers (node names, see "
                   "`tinyedge inspect`) in float")
    q.add_argument("--min-sqnr", type=float, metavar="DB",
                   help="keep in float the fewest layers needed for every output to reach this SQNR "
                        "against the float model on the calibration data")
    q.add_argument("--io", choices=["float", "int8"], default="float",
                   help="model inputs/outputs stay float (default) or are raw INT8")
    q.add_argument("--calib-limit", type=int, metavar="N", help="use at most N calibration samples")
    img = p.add_argument_group("image-folder calibration preprocessing")
    img.add_argument("--calib-size", metavar="H,W", help="resize images to H,W (default: the input's)")
    img.add_argument("--calib-mean", default="0,0,0", metavar="M0,M1,M2",
                     help="per-channel mean subtracted after scaling to [0, 1] (default 0,0,0)")
    img.add_argument("--calib-std", default="1,1,1", metavar="S0,S1,S2",
                     help="per-channel std divided by (default 1,1,1)")
    img.add_argument("--calib-channels", choices=["rgb", "bgr"], default="rgb")
    img.add_argument("--calib-layout", choices=["nchw", "nhwc"], default="nchw")
    p.set_defaults(func=run)


def quant_settings(args):
    """(QuantOptions, ImagePreprocess) from the parsed flags."""
    from ..quantize import QuantOptions
    from ..quantize.calib_data import ImagePreprocess

    options = QuantOptions(method=args.calib_method, per_channel=not args.per_tensor,
                           float_layers=tuple(n for n in (args.float_layers or "").split(",") if n),
                           min_sqnr=args.min_sqnr, io=args.io)
    size = None
    if args.calib_size:
        hw = _floats(args.calib_size, "--calib-size")
        if len(hw) != 2 or any(v < 1 or v != int(v) for v in hw):
            raise TinyEdgeError(f"--calib-size '{args.calib_size}': expected H,W")
        size = (int(hw[0]), int(hw[1]))
    pre = ImagePreprocess(size=size, mean=_floats(args.calib_mean, "--calib-mean"),
                          std=_floats(args.calib_std, "--calib-std"), channels=args.calib_channels,
                          layout=args.calib_layout)
    return options, pre


def run(args, console) -> int:
    from ..compiler import build

    out = Path(args.output) if args.output else Path(args.model).with_suffix(".tem")
    quant = {}
    if args.quantize:
        options, pre = quant_settings(args)
        quant = dict(quantize=args.quantize, calib=args.calib, quant_options=options, preprocess=pre)
        if args.calib_limit:
            quant["calib_limit"] = args.calib_limit
    elif args.calib or args.float_layers or args.min_sqnr is not None or args.io != "float":
        raise TinyEdgeError("--calib, --float-layers, --min-sqnr and --io need --quantize int8")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks = {}

        def on_stage(name):
            tasks.setdefault(name, progress.add_task(name, total=None))

        def on_progress(name, done, total):
            task = tasks.setdefault(name, progress.add_task(name, total=total))
            progress.update(task, completed=done, total=total)

        result = build(args.model, out, input_shapes=parse_shapes(args.input_shape),
                       on_stage=on_stage, progress=on_progress, **quant)
    if result.report is not None:
        result.report.render(console)
    plan = result.plan
    t = Table(title=f"{out}", show_header=False, title_justify="left")
    t.add_row("ops", f"{result.num_ops}  ({result.graph.summary()})")
    t.add_row("parameters", f"{result.num_params:,}  ({human_bytes(result.weight_bytes)} of weights)")
    size = human_bytes(result.file_size)
    if result.float_file_size:
        size += (f"  (float {human_bytes(result.float_file_size)}: "
                 f"{result.file_size / result.float_file_size:.0%})")
    t.add_row("file size", size)
    t.add_row("arena", f"{human_bytes(plan.arena_size)}  (all activations "
                       f"{human_bytes(plan.activations_total)}, lower bound {human_bytes(plan.lower_bound)})")
    console.print(t)
    if result.report_path:
        console.print(f"quantization report: {result.report_path}", soft_wrap=True)
    return 0
