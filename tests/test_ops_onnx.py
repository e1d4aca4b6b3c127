"""The ONNX op sweep: every ONNX op in scope, over seeded random shapes and attributes, imported with
load_onnx and run by the numpy reference and by the C runtime, each compared with onnxruntime.

Each case is a one-node (or few-node) model built with onnx.helper. The generators draw shapes and
attributes from a seeded numpy Generator, so a failing case id (`Conv-o13-7`) always names the same
model. Ops whose signature changed across opsets are swept over each form.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyedge
from tinyedge.frontends import load_onnx
from tinyedge.reference import run as reference_run

# The bound: float32 kernels that sum in another order than onnxruntime stay well inside it.
RTOL = 1e-4
# The error is relative to max(|onnxruntime output|); the floor only keeps it defined when that
# output is all zeros (a Relu of negative values, a Clip below its min).
ABS_FLOOR = 1e-6


@dataclass
class Case:
    id: str
    model: onnx.ModelProto
    feeds: dict


def In(array):
    """A graph input fed with array."""
    return ("in", np.asarray(array, np.float32))


def Const(array, dtype=None):
    """An initializer (float32 unless dtype says otherwise, e.g. np.int64 for shapes)."""
    return ("const", np.asarray(array, dtype or np.float32))


def make_model(nodes, inputs, consts, outputs, opset: int) -> onnx.ModelProto:
    """A model from nodes; inputs and consts map names to arrays, outputs is a list of names."""
    graph = helper.make_graph(
        nodes, "sweep",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in consts.items()])
    ops = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=ops, ir_version=helper.find_min_ir_version_for(ops))


def one(case_id, op, args, opset=17, **attrs) -> Case:
    """A one-node model: args are In(...), Const(...) or None (an absent optional input)."""
    names, inputs, consts = [], {}, {}
    for k, a in enumerate(args):
        if a is None:
            names.append("")
            continue
        names.append(f"{a[0]}{k}")
        (inputs if a[0] == "in" else consts)[names[-1]] = a[1]
    while names and not names[-1]:
        names.pop()
    node = helper.make_node(op, names, ["y"], name=f"{op}_node", **attrs)
    return Case(case_id, make_model([node], inputs, consts, ["y"], opset), inputs)


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def away_from_zero(rng, *shape):
    """Values with |v| in [0.5, 1.5]: safe divisors."""
    return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(np.float32)


def pick(rng, options):
    return options[int(rng.integers(len(options)))]


# ---------------------------------------------------------------------------------------------
# Case generators, one per op family.

def conv_cases():
    rng = np.random.default_rng(101)
    cases = []
    for k in range(40):
        opset = (9, 11, 13, 17, 21)[k % 5]
        if k % 4 == 3:  # depthwise, with a channel multiplier sometimes
            group = cin = int(rng.integers(2, 9))
            cout = cin * int(rng.integers(1, 3))
        else:
            group = pick(rng, [1, 1, 2, 3])
            cin, cout = group * int(rng.integers(1, 4)), group * int(rng.integers(1, 4))
        kernel = [int(v) for v in rng.integers(1, 6, 2)]
        strides = [int(v) for v in rng.integers(1, 4, 2)]
        dil = [int(v) for v in rng.integers(1, 3, 2)]
        span = [(kk - 1) * d + 1 for kk, d in zip(kernel, dil)]
        h, w = (s + int(rng.integers(0, 9)) for s in span)
        attrs = dict(kernel_shape=kernel, strides=strides, dilations=dil, group=group)
        mode = pick(rng, ["NOTSET"] * 4 + ["SAME_UPPER", "SAME_LOWER", "VALID"])
        if mode == "NOTSET":
            attrs["pads"] = [int(v) for v in rng.integers(0, 3, 4)]
        else:
            attrs["auto_pad"] = mode
            if mode != "VALID":  # onnxruntime refuses dilations with SAME_*
                attrs["dilations"] = dil = [1, 1]
                span = kernel
        x = randn(rng, int(rng.integers(1, 3)), cin, h, w)
        wt = randn(rng, cout, cin // group, *kernel)
        bias = [Const(randn(rng, cout))] if rng.random() < 0.5 else []
        cases.append(one(f"Conv-o{opset}-{k}", "Conv", [In(x), Const(wt)] + bias, opset, **attrs))
    x, wt = randn(rng, 1, 4, 7, 6), randn(rng, 6, 4, 3, 3)  # weights computed at run time
    cases.append(one("Conv-o13-weight_input", "Conv", [In(x), In(wt)], 13, pads=[1, 1, 1, 1]))
    return cases


def conv_transpose_cases():
    rng = np.random.default_rng(102)
    cases = []
    for k in range(28):
        opset = (9, 11, 13, 17, 21)[k % 5]
        group = pick(rng, [1, 1, 2])
        cin, cout_g = group * int(rng.integers(1, 4)), int(rng.integers(1, 4))
        kernel = [int(v) for v in rng.integers(1, 5, 2)]
        strides = [int(v) for v in rng.integers(1, 4, 2)]
        dil = [int(v) for v in rng.integers(1, 3, 2)]
        h, w = (int(v) for v in rng.integers(2, 7, 2))
        attrs = dict(kernel_shape=kernel, strides=strides, dilations=dil, group=group)
        style = k % 4
        if style == 0:
            attrs["pads"] = [int(rng.integers(0, kk)) for kk in kernel] * 2
        elif style == 1:  # onnxruntime wants output_padding below the stride
            attrs["output_padding"] = [int(rng.integers(0, s)) for s in strides]
        elif style == 2:  # output_shape: somewhere between the fully cropped and the full output
            full = [s * (n - 1) + (kk - 1) * d + 1 for s, n, kk, d in zip(strides, (h, w), kernel, dil)]
            attrs["output_shape"] = [int(rng.integers(max(f - kk + 1, 1), f + s)) for f, kk, s in
                                     zip(full, kernel, strides)]
        else:
            attrs["auto_pad"] = pick(rng, ["SAME_UPPER", "SAME_LOWER", "VALID"])
        x = randn(rng, 1, cin, h, w)
        wt = randn(rng, cin, cout_g, *kernel)
        bias = [Const(randn(rng, cout_g * group))] if rng.random() < 0.5 else []
        cases.append(one(f"ConvTranspose-o{opset}-{k}", "ConvTranspose", [In(x), Const(wt)] + bias,
                         opset, **attrs))
    return cases


def gemm_cases():
    rng = np.random.default_rng(103)
    cases = []
    for k in range(24):
        opset = (9, 11, 13)[k % 3]
        m, kk, n = (int(v) for v in rng.integers(1, 9, 3))
        ta, tb = int(rng.integers(0, 2)), int(rng.integers(0, 2))
        a = randn(rng, *((kk, m) if ta else (m, kk)))
        b = randn(rng, *((n, kk) if tb else (kk, n)))
        c_shape = pick(rng, [None, (n,), (1, n), (m, n), (m, 1), (), (1,)])
        if c_shape is None and opset < 11:
            c_shape = (n,)  # C was required before opset 11
        args = [In(a), Const(b) if k % 5 else In(b)]
        if c_shape is not None:
            args.append(In(randn(rng, *c_shape)) if k % 7 == 6 else Const(randn(rng, *c_shape)))
        attrs = dict(transA=ta, transB=tb, alpha=float(pick(rng, [1.0, 0.5, -2.0])),
                     beta=float(pick(rng, [1.0, 0.25, 0.0])))
        cases.append(one(f"Gemm-o{opset}-{k}", "Gemm", args, opset, **attrs))
    return cases


def matmul_cases():
    rng = np.random.default_rng(104)
    shapes = [((3, 5), (5, 4), "const"), ((2, 3, 5), (5, 4), "const"), ((2, 1, 3, 5), (5, 6), "const"),
              ((3, 5), (5, 4), "in"), ((2, 3, 5), (2, 5, 4), "in"), ((2, 1, 3, 5), (3, 5, 2), "in"),
              ((5,), (5, 4), "const"), ((2, 3, 5), (5,), "const"), ((5,), (2, 5, 3), "in"),
              ((3, 5), (5,), "in"), ((3, 5), (2, 5, 4), "const"), ((4, 5), (5, 3), "const_a")]
    cases = []
    for k, (sa, sb, kind) in enumerate(shapes):
        a, b = randn(rng, *sa), randn(rng, *sb)
        args = [Const(a), In(b)] if kind == "const_a" else [In(a), Const(b) if kind == "const" else In(b)]
        cases.append(one(f"MatMul-o13-{k}", "MatMul", args, 13))
    return cases


def batchnorm_cases():
    rng = np.random.default_rng(105)
    cases = []
    for k, (opset, shape) in enumerate([(9, (2, 3, 5, 4)), (14, (1, 6, 3, 3)), (15, (2, 4)),
                                        (9, (2, 5, 7)), (15, (1, 8, 4, 6))]):
        c = shape[1]
        params = [Const(rng.uniform(0.5, 1.5, c)), Const(randn(rng, c)), Const(randn(rng, c) * 0.1),
                  Const(rng.uniform(0.5, 2.0, c))]
        cases.append(one(f"BatchNormalization-o{opset}-{k}", "BatchNormalization",
                         [In(randn(rng, *shape) * 2)] + params, opset, epsilon=float(10.0 ** -(k + 2))))
    return cases


def random_shape(rng, rank_lo=1, rank_hi=4):
    return tuple(int(v) for v in rng.integers(1, 7, int(rng.integers(rank_lo, rank_hi + 1))))


def activation_cases():
    rng = np.random.default_rng(106)
    cases = []
    simple = [("Relu", {}, 13), ("Sigmoid", {}, 13), ("Tanh", {}, 13), ("HardSwish", {}, 14),
              ("LeakyRelu", {}, 9), ("LeakyRelu", dict(alpha=0.3), 16),
              ("HardSigmoid", {}, 9), ("HardSigmoid", dict(alpha=0.5, beta=0.4), 13)]
    for k, (op, attrs, opset) in enumerate(simple * 2):
        x = randn(rng, *random_shape(rng)) * 4  # wide enough to reach the saturated parts
        cases.append(one(f"{op}-o{opset}-{k}", op, [In(x)], opset, **attrs))
    clip_forms = [(9, {}, []), (9, dict(min=-0.5), []), (9, dict(min=-0.5, max=0.7), []),
                  (11, {}, [-0.5, 0.7]), (11, {}, [None, 0.3]), (11, {}, [-0.2]), (13, {}, [0.0, 6.0]),
                  (13, {}, [])]
    for k, (opset, attrs, bounds) in enumerate(clip_forms):
        x = randn(rng, *random_shape(rng))
        args = [In(x)] + [None if v is None else Const(np.float32(v)) for v in bounds]
        cases.append(one(f"Clip-o{opset}-{k}", "Clip", args, opset, **attrs))
    for k, (xs, ss) in enumerate([((2, 3, 4, 5), (3, 1, 1)), ((2, 3, 4, 5), (1,)),
                                  ((2, 3, 4, 5), (5,)), ((3, 4), (3, 4)), ((1, 2, 3, 4, 5), (1, 1, 1, 5))]):
        cases.append(one(f"PRelu-o{(9, 16)[k % 2]}-{k}", "PRelu",
                         [In(randn(rng, *xs)), Const(randn(rng, *ss))], (9, 16)[k % 2]))
    return cases


def binary_cases():
    rng = np.random.default_rng(107)
    pairs = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((2, 3, 4, 5), (3, 1, 1)),
             ((1,), (2, 3)), ((4, 1, 3), (2, 1)), ((), (3, 4)), ((2, 1, 4, 1), (1, 3, 1, 5))]
    cases = []
    for op in ("Add", "Sub", "Mul", "Div"):
        for k, (sa, sb) in enumerate(pairs):
            b = away_from_zero(rng, *sb) if op == "Div" else randn(rng, *sb)
            a = randn(rng, *sa)
            if not sa:  # a scalar activation is not a useful model input; make it the constant
                args = [Const(a), In(b)]
            else:
                args = [In(a), Const(b) if k % 2 else In(b)]
            opset = (9, 13, 14)[k % 3]
            cases.append(one(f"{op}-o{opset}-{k}", op, args, opset))
    for k, shapes in enumerate([[(2, 3)], [(2, 3), (2, 3)], [(2, 3, 4), (4,), (3, 1)]]):
        cases.append(one(f"Sum-o13-{k}", "Sum", [In(randn(rng, *s)) for s in shapes], 13))
    return cases


def pool_cases():
    rng = np.random.default_rng(108)
    cases = []
    for op in ("MaxPool", "AveragePool"):
        for k in range(30):
            opset = (9, 10, 12, 19)[k % 4]
            kernel = [int(v) for v in rng.integers(1, 5, 2)]
            strides = [int(v) for v in rng.integers(1, 4, 2)]
            attrs = dict(kernel_shape=kernel, strides=strides)
            span = list(kernel)
            if op == "MaxPool" and opset >= 10 and rng.random() < 0.4:
                attrs["dilations"] = [int(v) for v in rng.integers(1, 3, 2)]
                span = [(kk - 1) * d + 1 for kk, d in zip(kernel, attrs["dilations"])]
            if opset >= 10 and k % 3 != 2:
                attrs["ceil_mode"] = int(rng.integers(0, 2))
            if op == "AveragePool":
                attrs["count_include_pad"] = int(rng.integers(0, 2))
            if k % 3 == 2:
                attrs["auto_pad"] = pick(rng, ["SAME_UPPER", "SAME_LOWER", "VALID"])
                if attrs["auto_pad"] != "VALID":  # onnxruntime's SAME pads go negative otherwise
                    attrs["strides"] = strides = [min(s, kk) for s, kk in zip(strides, kernel)]
            else:  # onnxruntime wants each pad below the kernel
                attrs["pads"] = [int(rng.integers(0, kk)) for kk in kernel] * 2
                attrs["pads"][2:] = [int(rng.integers(0, kk)) for kk in kernel]
            h, w = (s + int(rng.integers(0, 7)) for s in span)
            x = randn(rng, int(rng.integers(1, 3)), int(rng.integers(1, 5)), h, w)
            cases.append(one(f"{op}-o{opset}-{k}", op, [In(x)], opset, **attrs))
    for k, shape in enumerate([(1, 3, 5, 7), (2, 4, 1, 6), (1, 2, 8, 8)]):
        cases.append(one(f"GlobalAveragePool-o13-{k}", "GlobalAveragePool", [In(randn(rng, *shape))], 13))
    forms = [(13, dict(axes=[1]), None), (13, dict(axes=[-1, 0], keepdims=0), None), (13, {}, None),
             (13, dict(keepdims=0), None), (18, {}, [2, 3]), (18, dict(keepdims=0), [-2]),
             (18, dict(noop_with_empty_axes=1), None), (18, {}, None)]
    for k, (opset, attrs, axes) in enumerate(forms):
        args = [In(randn(rng, 2, 3, 4, 5))] + ([Const(axes, np.int64)] if axes is not None else [])
        cases.append(one(f"ReduceMean-o{opset}-{k}", "ReduceMean", args, opset, **attrs))
    return cases


def shape_op_cases():
    rng = np.random.default_rng(109)
    cases = []
    x4 = randn(rng, 2, 3, 4, 5)
    for k, axis in enumerate([0, 1, 2, 4, -1, -3]):
        cases.append(one(f"Flatten-o13-{k}", "Flatten", [In(x4)], (11, 13)[k % 2], axis=axis))
    for k, (target, allowzero) in enumerate([([6, 20], 0), ([0, -1], 0), ([-1], 0), ([2, 0, 5, 4], 0),
                                             ([4, 30], 1), ([1, 2, 3, 1, 20], 0)]):
        opset = 14 if allowzero else (9, 13)[k % 2]
        cases.append(one(f"Reshape-o{opset}-{k}", "Reshape", [In(x4), Const(target, np.int64)], opset,
                         **(dict(allowzero=1) if allowzero else {})))
    xs = randn(rng, 1, 3, 1, 4, 1)
    for k, (opset, axes) in enumerate([(11, [0]), (11, [-1, 2]), (11, None), (13, [0, 4]), (13, None)]):
        if opset < 13:
            cases.append(one(f"Squeeze-o{opset}-{k}", "Squeeze", [In(xs)], opset,
                             **({} if axes is None else dict(axes=axes))))
        else:
            args = [In(xs)] + ([] if axes is None else [Const(axes, np.int64)])
            cases.append(one(f"Squeeze-o{opset}-{k}", "Squeeze", args, opset))
    for k, (opset, axes) in enumerate([(11, [0]), (11, [-1, 1]), (13, [0, 3]), (13, [-1])]):
        x = randn(rng, 3, 4)
        if opset < 13:
            cases.append(one(f"Unsqueeze-o{opset}-{k}", "Unsqueeze", [In(x)], opset, axes=axes))
        else:
            cases.append(one(f"Unsqueeze-o{opset}-{k}", "Unsqueeze", [In(x), Const(axes, np.int64)], opset))
    for k in range(6):
        shape = random_shape(rng, 2, 5)
        perm = [int(v) for v in rng.permutation(len(shape))]
        cases.append(one(f"Transpose-o13-{k}", "Transpose", [In(randn(rng, *shape))], 13,
                         **(dict(perm=perm) if k else {})))
    for k in range(6):
        shape = random_shape(rng, 1, 4)
        axis = int(rng.integers(-len(shape), len(shape)))
        parts = []
        for j in range(int(rng.integers(2, 4))):
            s = list(shape)
            s[axis] = int(rng.integers(1, 4))
            parts.append(Const(randn(rng, *s)) if j == 1 and k % 2 else In(randn(rng, *s)))
        cases.append(one(f"Concat-o13-{k}", "Concat", parts, (11, 13)[k % 2], axis=axis))
    return cases


def pad_cases():
    rng = np.random.default_rng(110)
    cases = []
    for k in range(20):
        opset = (9, 11, 13, 18, 21)[k % 5]
        shape = random_shape(rng, 1, 4)
        rank = len(shape)
        mode = pick(rng, ["constant", "reflect", "edge"])
        if mode == "reflect":  # reflect cannot reach past the edge
            pads = [int(rng.integers(0, d)) for d in shape * 2]
        elif mode == "constant" and k % 4 == 3:  # negative pads crop
            pads = [int(rng.integers(-(d - 1) // 2, 3)) for d in shape * 2]
        else:
            pads = [int(v) for v in rng.integers(0, 4, 2 * rank)]
        value = float(rng.normal())
        x = In(randn(rng, *shape))
        if opset < 11:
            cases.append(one(f"Pad-o{opset}-{k}", "Pad", [x], opset, mode=mode, pads=pads, value=value))
            continue
        args = [x, Const(pads, np.int64), Const(np.float32(value)) if mode == "constant" else None]
        if opset >= 18 and k % 2:  # pads for a subset of axes only
            axes = sorted(int(a) for a in rng.choice(rank, int(rng.integers(1, rank + 1)), False))
            args[1] = Const([pads[a] for a in axes] + [pads[a + rank] for a in axes], np.int64)
            args.append(Const([a - rank for a in axes], np.int64))
        cases.append(one(f"Pad-o{opset}-{k}", "Pad", args, opset, mode=mode))
    return cases


def slice_cases():
    rng = np.random.default_rng(111)
    cases = []
    big = 2 ** 62
    while len(cases) < 30:
        k = len(cases)
        opset = (9, 10, 11, 13, 21)[k % 5]
        shape = random_shape(rng, 1, 4)
        rank = len(shape)
        axes = [int(a) for a in rng.choice(rank, int(rng.integers(1, rank + 1)), False)]
        starts, ends, steps = [], [], []
        for a in axes:
            d = shape[a]
            step = 1 if opset < 10 else int(pick(rng, [1, 1, 2, 3, -1, -2]))
            starts.append(int(pick(rng, [0, 1, -1, -d, d - 1, -big, big])))
            ends.append(int(pick(rng, [d, -1, 1, 0, big, -big, d - 1])))
            steps.append(step)
        if any(len(range(*slice(s, e, st).indices(shape[a]))) == 0
               for s, e, st, a in zip(starts, ends, steps, axes)):
            continue  # an empty result (Python's own slicing says so): not a useful model
        axes = [a - rank if rng.random() < 0.3 else a for a in axes]
        x = In(randn(rng, *shape))
        if opset < 10:
            cases.append(one(f"Slice-o{opset}-{k}", "Slice", [x], opset, starts=starts, ends=ends, axes=axes))
        else:
            args = [x, Const(starts, np.int64), Const(ends, np.int64), Const(axes, np.int64),
                    Const(steps, np.int64)]
            cases.append(one(f"Slice-o{opset}-{k}", "Slice", args, opset))
    return cases


def softmax_cases():
    rng = np.random.default_rng(112)
    cases = []
    for k, (opset, shape, axis) in enumerate([(11, (2, 3, 4, 5), None), (11, (2, 3, 4, 5), 2),
                                              (11, (3, 7), -1), (11, (2, 3, 4), 0), (13, (2, 3, 4, 5), 1),
                                              (13, (2, 3, 4, 5), None), (13, (4, 6), 0), (9, (2, 5, 3), 1)]):
        attrs = {} if axis is None else dict(axis=axis)
        cases.append(one(f"Softmax-o{opset}-{k}", "Softmax", [In(randn(rng, *shape) * 3)], opset, **attrs))
    # onnxruntime supports odd sizes only
    for k, (size, attrs) in enumerate([(3, {}), (7, dict(alpha=0.01, beta=0.5, bias=2.0)),
                                       (5, dict(alpha=1e-3)), (1, {})]):
        cases.append(one(f"LRN-o13-{k}", "LRN", [In(randn(rng, 2, 6, 4, 5) * 3)], 13, size=size, **attrs))
    return cases


def resize_cases():
    rng = np.random.default_rng(113)
    cases = []
    legacy_scales = [(2.0, 2.0), (3.0, 1.5), (0.5, 0.5), (1.0, 2.5), (0.6, 1.0)]
    for k, (sh, sw) in enumerate(legacy_scales):
        x = In(randn(rng, 1, 2, 5, 6))
        scales = Const([1, 1, sh, sw])
        for mode in ("nearest", "linear"):
            if min(sh, sw) >= 1:  # onnxruntime's Upsample only upsamples
                cases.append(one(f"Upsample-o9-{mode}-{k}", "Upsample", [x, scales], 9, mode=mode))
            cases.append(one(f"Resize-o10-{mode}-{k}", "Resize", [x, scales], 10, mode=mode))
    coords = ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn"]
    nearest_modes = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
    for k in range(48):
        opset = (11, 13, 18, 19)[k % 4]
        mode = ("nearest", "linear")[k % 2]
        coord = pick(rng, coords if mode == "nearest" else coords[:4])
        attrs = dict(mode=mode, coordinate_transformation_mode=coord)
        if mode == "nearest":
            attrs["nearest_mode"] = pick(rng, nearest_modes)
        h, w = (int(v) for v in rng.integers(2, 8, 2))
        x = In(randn(rng, int(rng.integers(1, 3)), int(rng.integers(1, 4)), h, w))
        empty = Const(np.zeros(0, np.float32))
        if k % 3 == 0:  # sizes
            sizes = [int(rng.integers(2, 13)), int(rng.integers(2, 13))]
            if opset >= 18 and k % 2:
                args = [x, None, None, Const(sizes, np.int64)]
                attrs["axes"] = [2, 3]
            else:
                args = [x, empty if opset < 13 else None, empty if opset < 13 else None,
                        Const([x[1].shape[0], x[1].shape[1]] + sizes, np.int64)]
        else:
            scales = [float(pick(rng, [0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 1.7])) for _ in range(2)]
            args = [x, empty if opset < 13 else None, Const([1.0, 1.0] + scales)]
        cases.append(one(f"Resize-o{opset}-{mode}-{k}", "Resize", args, opset, **attrs))
    return cases


def alias_cases():
    """Ops removed at import (Dropout, Identity) and constants folded into the graph."""
    rng = np.random.default_rng(114)
    x = randn(rng, 2, 3, 4)
    cases = []
    for opset in (9, 12):
        nodes = [helper.make_node("Dropout", ["x"], ["d"], name="drop"),
                 helper.make_node("Relu", ["d"], ["y"], name="relu")]
        cases.append(Case(f"Dropout-o{opset}", make_model(nodes, {"x": x}, {}, ["y"], opset), {"x": x}))
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Identity", ["s"], ["y"])]
    cases.append(Case("Identity-o13", make_model(nodes, {"x": x}, {}, ["y"], 13), {"x": x}))
    const = numpy_helper.from_array(randn(rng, 4), "c")
    nodes = [helper.make_node("Constant", [], ["k"], value=const),
             helper.make_node("ConstantOfShape", ["shape"], ["ones"],
                              value=numpy_helper.from_array(np.array([2.0], np.float32))),
             helper.make_node("Mul", ["k", "ones"], ["k2"]), helper.make_node("Add", ["x", "k2"], ["y"])]
    model = make_model(nodes, {"x": x}, {"shape": np.array([4], np.int64)}, ["y"], 13)
    cases.append(Case("Constant-o13-folded", model, {"x": x}))
    return cases


CASES = (conv_cases() + conv_transpose_cases() + gemm_cases() + matmul_cases() + batchnorm_cases()
         + activation_cases() + binary_cases() + pool_cases() + shape_op_cases() + pad_cases()
         + slice_cases() + softmax_cases() + resize_cases() + alias_cases())


# ---------------------------------------------------------------------------------------------
# The checks.

_ORT_CACHE: dict[str, list] = {}


def ort_outputs(case: Case) -> list[np.ndarray]:
    """onnxruntime's outputs for a case (computed once per session, shared by both tests)."""
    if case.id not in _ORT_CACHE:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(case.model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
        _ORT_CACHE[case.id] = sess.run(None, case.feeds)
    return _ORT_CACHE[case.id]


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape}, onnxruntime {want.shape}"
    diff = np.abs(got.astype(np.float64) - want)
    err = float(diff.max() / max(float(np.abs(want).max()), ABS_FLOOR)) if diff.size else 0.0
    if not err <= RTOL:  # also catches NaN
        worst = np.unravel_index(int(np.nanargmax(diff)) if np.isfinite(diff).any() else 0, diff.shape)
        bad = int(np.sum(~(diff <= RTOL * max(float(np.abs(want).max()), ABS_FLOOR))))
        pytest.fail(f"{what}: relative error {err:.2e} > {RTOL:.0e}; {bad} of {diff.size} elements "
                    f"off, worst at {tuple(int(i) for i in worst)}: got {got[worst]}, "
                    f"onnxruntime {want[worst]}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_reference_matches_onnxruntime(case):
    want = ort_outputs(case)
    graph = load_onnx(case.model, source=f"{case.id}.onnx")
    got = reference_run(graph, case.feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_close(g, w, "numpy reference vs onnxruntime")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_c_runtime_matches_onnxruntime(case, tmp_path):
    want = ort_outputs(case)
    path = tmp_path / f"{case.id}.onnx"
    onnx.save(case.model, str(path))
    result = tinyedge.build(path, tmp_path / f"{case.id}.tem")
    got = tinyedge.load(result.path).run(case.feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_close(g, w, "C runtime vs onnxruntime")
