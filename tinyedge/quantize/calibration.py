"""Activation ranges from calibration samples, and the scales and zero points they give.

`collect_ranges` runs the float graph with the numpy reference one sample at a time and feeds every
float activation (graph inputs included) to an observer of the chosen method (docs/quantization.md):

- minmax: the smallest and largest value seen.
- percentile: the 0.01th and 99.99th percentiles, read from a histogram of the signed values
  (8192 bins, linear inside a bin).
- mse: the range [lo, hi] (lo <= 0 <= hi) minimizing the expected squared quantization error, on a
  2048-bin histogram of the signed values (values spread evenly inside their bin): a value inside
  the range costs its exact squared rounding error to the grid of multiples of the step
  (hi - lo) / 255 (0 is a grid point), one outside it its squared distance to the range. lo and hi
  move on bin edges by coordinate descent (the best hi for the current lo, then the best lo for
  that hi, until neither moves; each side searched coarse to fine), starting from the full range.
  It can stop in a local minimum of an unusual histogram.
- entropy: TensorRT's KL-divergence method on a 2048-bin histogram of |x|: for every threshold T
  from bin 128 on, P is the histogram up to T with the mass beyond T added to its last bin, Q the
  same bins merged into the number of INT8 levels that cover [0, T] and spread back evenly over the
  non-empty bins; T minimizes KL(P || Q). TensorRT counts 128 levels (symmetric INT8); an asymmetric
  range has 255 * T / width of them (255 for a tensor that is never negative, 128 when both sides
  reach T). The range is [max(min, -T), min(max, T)]. T is at least 1/16 of max|x| (bin 128), so a
  far outlier still leaves a wider range than percentile would.

Histograms split at 0 and count exact zeros apart: 0 is exactly representable in every range, so
zeros cost nothing to mse and entropy leaves them out (the spike a ReLU puts at 0 would otherwise
pull its range in), and a percentile that falls among them is exactly 0. Histograms need the range
first, so histogram methods make two passes over the samples (pass 1: min and max; pass 2: the
histograms over that range): twice the reference runs of minmax, but fixed, exact bins. The
searches cost up to ~0.1 s per tensor (entropy tries ~1900 thresholds), whatever the sample count.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional

import numpy as np

from ..errors import CalibrationError
from ..ir import Graph
from ..reference import run_all
from .calib_data import load_calibration

METHODS = ("minmax", "percentile", "mse", "entropy")
PERCENTILES = (0.01, 99.99)
PERCENTILE_BINS = 8192  # 1/8192 of the range is finer than any INT8 step in it
MSE_BINS = 2048  # as fine as entropy's; the search costs O(bins) per candidate range
MSE_COARSE = 64  # candidates tried per side before refining around the best
ENTROPY_BINS = 2048  # TensorRT's
ENTROPY_FIRST_BIN = 128  # TensorRT's: the smallest threshold tried is 128 bins
KL_SMOOTHING = 1e-4  # mass given to an empty Q bin where P has mass (as MXNet's smoothing)
LEVELS = 255  # steps across an INT8 range (256 values)
# A range narrower than this (after including 0) is widened to it: a scale of at least ~3.9e-9 keeps
# every requantization multiplier s_x * s_w / s_y of realistic layers below the 2**30 limit, and an
# all-zero tensor gets a valid (positive) scale.
MIN_RANGE_WIDTH = 1e-6
# An all-zero weight tensor quantizes as if its largest magnitude were 1.
ZERO_WEIGHT_SCALE = np.float32(1.0 / 127.0)

Progress = Callable[[int, int], None]


def collect_ranges(graph: Graph, samples: Mapping[str, np.ndarray], method: str = "minmax",
                   progress: Optional[Progress] = None) -> dict[str, tuple[float, float]]:
    """(lo, hi) for every float activation of graph (graph inputs included), by method.

    samples: {input name: float32 (N, *input_shape)} (calib_data.load_calibration's result; a
    sample without its leading batch dimension of 1 is accepted too). The graph runs on the numpy
    reference, one sample at a time. progress(done, total) is called after each run (histogram
    methods run every sample twice). Raises CalibrationError for an unknown method, bad samples, or
    an activation that becomes NaN or Inf."""
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method '{method}'; supported: "
                               f"{', '.join(METHODS)}")
    specs = [(n, graph.tensors[n].shape, graph.tensors[n].dtype) for n in graph.inputs]
    samples = load_calibration(samples, specs)
    count = next(iter(samples.values())).shape[0]
    names = [t for t in graph.activations() if graph.tensors[t].dtype == "float32"]
    total = count if method == "minmax" else 2 * count

    extremes = {t: [np.inf, -np.inf] for t in names}
    for k in range(count):
        values = run_all(graph, {n: a[k] for n, a in samples.items()})
        for t in names:
            _update_extremes(graph, t, values[t], k, extremes[t])
        if progress:
            progress(k + 1, total)
    ranges = {t: _observed(lo, hi) for t, (lo, hi) in extremes.items()}
    if method == "minmax":
        return ranges

    histograms = {t: _Histogram.for_method(method, lo, hi)
                  for t, (lo, hi) in ranges.items() if lo < hi}
    for k in range(count):
        values = run_all(graph, {n: a[k] for n, a in samples.items()})
        for t, h in histograms.items():
            h.add(values[t])
        if progress:
            progress(count + k + 1, total)
    for t, h in histograms.items():
        ranges[t] = _SEARCH[method](h, *ranges[t])
    return ranges


def qparams_from_range(lo: float, hi: float) -> tuple[np.float32, int]:
    """(scale, zero_point) of an INT8 activation whose values span [lo, hi].

    As docs/quantization.md says: the range is widened to include 0, then s = (max - min) / 255
    (in double, then float32) and z = sat8(-128 - rint(min / s)) (in double with the float32 s,
    ties to even). A range narrower than MIN_RANGE_WIDTH (a constant tensor) is widened to it, away
    from 0 on the side that has values (upward for an all-zero tensor). Raises ValueError for a
    bound that is not finite or lo > hi."""
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"calibration range [{lo}, {hi}] is not a finite interval")
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < MIN_RANGE_WIDTH:
        if -lo > hi:
            lo = hi - MIN_RANGE_WIDTH
        else:
            hi = lo + MIN_RANGE_WIDTH
    scale = np.float32((hi - lo) / LEVELS)
    zero_point = int(np.clip(-128 - np.rint(lo / float(scale)), -128, 127))
    return scale, zero_point


def weight_scales(w: np.ndarray, per_channel: bool) -> np.ndarray:
    """Symmetric INT8 weight scales max|w_c| / 127 (in double, then float32).

    per_channel: one scale per index of axis 0 (conv2d OHWI and fully_connected [N, K] output
    channels), else one for the whole tensor; returns float32 of shape (channels,) or (1,). A
    channel that is all zero (or whose scale would not be a normal float32) takes the largest scale
    of the tensor, so that its multiplier and its bias's int32 scale stay like its neighbours';
    an all-zero tensor takes 1/127. Raises ValueError for NaN or Inf weights."""
    w = np.asarray(w, dtype=np.float64)
    if not np.isfinite(w).all():
        raise ValueError(f"weights of shape {w.shape} hold NaN or Inf; they cannot be quantized")
    if per_channel:
        if w.ndim == 0 or w.shape[0] == 0:
            raise ValueError(f"per-channel weight scales need channels on axis 0, got shape "
                             f"{w.shape}")
        peak = np.abs(w.reshape(w.shape[0], -1)).max(axis=1, initial=0.0)
    else:
        peak = np.array([np.abs(w).max(initial=0.0)])
    scales = (peak / 127.0).astype(np.float32)
    usable = scales >= np.finfo(np.float32).tiny
    fallback = scales[usable].max() if usable.any() else ZERO_WEIGHT_SCALE
    return np.where(usable, scales, fallback).astype(np.float32)


# -- pass 1: extremes ------------------------------------------------------------------------------

def _update_extremes(graph: Graph, name: str, x: np.ndarray, sample: int, acc: list) -> None:
    if x.size == 0:
        return
    lo, hi = float(x.min()), float(x.max())  # NaN propagates through min and max
    if not (np.isfinite(lo) and np.isfinite(hi)):
        nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
        node = graph.producer(name)
        where = f"node '{node.name}' ({node.op})" if node else "graph input"
        raise CalibrationError(f"activation '{name}' ({where}) has {nan} NaN and {inf} Inf values "
                               f"on calibration sample {sample}; its range cannot be calibrated")
    acc[0], acc[1] = min(acc[0], lo), max(acc[1], hi)


def _observed(lo: float, hi: float) -> tuple[float, float]:
    """The extremes seen; (0, 0) for a tensor without elements."""
    return (0.0, 0.0) if lo > hi else (lo, hi)


# -- pass 2: histograms and the range searches -----------------------------------------------------

class _Histogram:
    """Counts of values (or of |values|) over [lo, hi] (lo <= 0 <= hi): equal bins on each side of
    0 (`bins` in all, shared in proportion to the sides' lengths) and exact zeros counted apart.
    0 is therefore an edge, and a spike at 0 (ReLU outputs) is a point, not a bin's worth of
    values."""

    def __init__(self, lo: float, hi: float, bins: int, absolute: bool):
        if lo == 0 or hi == 0:
            negative = 0 if lo == 0 else bins
        else:  # each side gets at least one bin
            negative = min(max(round(bins * -lo / (hi - lo)), 1), bins - 1)
        self.neg_edges = np.linspace(lo, 0.0, negative + 1)
        self.pos_edges = np.linspace(0.0, hi, bins - negative + 1) if hi > 0 else np.zeros(1)
        self.neg = np.zeros(self.neg_edges.size - 1, np.int64)
        self.pos = np.zeros(self.pos_edges.size - 1, np.int64)
        self.zeros = 0
        self.absolute = absolute

    @classmethod
    def for_method(cls, method: str, lo: float, hi: float) -> "_Histogram":
        """The histogram a method searches, given the tensor's extremes lo < hi."""
        if method == "entropy":
            return cls(0.0, max(-lo, hi), ENTROPY_BINS, absolute=True)
        bins = PERCENTILE_BINS if method == "percentile" else MSE_BINS
        return cls(min(lo, 0.0), max(hi, 0.0), bins, absolute=False)

    def add(self, x: np.ndarray) -> None:
        v = np.abs(x.reshape(-1)) if self.absolute else x.reshape(-1)
        neg, pos = v[v < 0], v[v > 0]
        self.zeros += v.size - neg.size - pos.size
        sides = ((neg, self.neg_edges, self.neg), (pos, self.pos_edges, self.pos))
        for values, edges, counts in sides:
            if counts.size:
                # Clipping keeps a value a rounding error outside the end edge in the end bin.
                values = np.clip(values, edges[0], edges[-1])
                counts += np.histogram(values, bins=counts.size, range=(edges[0], edges[-1]))[0]

    @property
    def edges(self) -> np.ndarray:
        """Bin edges without the zeros, negative then positive side (0 is an edge)."""
        return np.concatenate((self.neg_edges, self.pos_edges[1:]))

    @property
    def counts(self) -> np.ndarray:
        """Bin counts without the zeros, in the order of `edges`."""
        return np.concatenate((self.neg, self.pos))


def _percentile_range(h: _Histogram, lo: float, hi: float) -> tuple[float, float]:
    # The zeros are a bin of width 0 between the two sides.
    left = np.concatenate((h.neg_edges[:-1], [0.0], h.pos_edges[:-1]))
    right = np.concatenate((h.neg_edges[1:], [0.0], h.pos_edges[1:]))
    counts = np.concatenate((h.neg, [h.zeros], h.pos))
    cum = np.cumsum(counts)

    def at(q: float) -> float:
        target = q / 100.0 * cum[-1]
        i = min(int(np.searchsorted(cum, target)), cum.size - 1)  # first bin reaching target
        before = cum[i - 1] if i > 0 else 0
        inside = (target - before) / counts[i] if counts[i] else 0.0  # values spread evenly
        return float(left[i] + inside * (right[i] - left[i]))

    return max(lo, at(PERCENTILES[0])), min(hi, at(PERCENTILES[1]))


def _mse_range(h: _Histogram, lo: float, hi: float) -> tuple[float, float]:
    counts = h.counts.astype(np.float64)
    edges = h.edges
    widths = np.diff(edges)
    centers = (edges[:-1] + edges[1:]) / 2

    # Clipping: sums over the bins before edge i (prefix) and from edge i on (suffix) of c, c * m
    # and c * (m**2 + width**2 / 12) give the squared distance of every value (spread evenly in
    # its bin of center m) to lo = edges[i] (bins before) or to hi = edges[j] (bins from j on).
    def sums(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prefix = np.concatenate(([0.0], np.cumsum(values)))
        return prefix, prefix[-1] - prefix

    (p0, s0), (p1, s1) = sums(counts), sums(counts * centers)
    p2, s2 = sums(counts * (centers**2 + widths**2 / 12))
    below = p2 - 2 * edges * p1 + edges**2 * p0
    above = s2 - 2 * edges * s1 + edges**2 * s0

    # Rounding: values inside round to the nearest multiple of the step (0 is a grid point).
    occupied = np.flatnonzero(counts)
    density = counts[occupied] / widths[occupied]

    def cost(i, j) -> np.ndarray:  # one of i, j is an array of candidate edge indices
        i, j = np.broadcast_arrays(np.atleast_1d(i), np.atleast_1d(j))
        step = (edges[j] - edges[i])[:, None] / LEVELS
        with np.errstate(divide="ignore", invalid="ignore"):  # step 0: [0, 0] is no range
            per_bin = density * (_rounding_integral(edges[occupied + 1] / step)
                                 - _rounding_integral(edges[occupied] / step))
            inside = (occupied >= i[:, None]) & (occupied < j[:, None])
            rounding = np.where(inside, per_bin, 0.0).sum(axis=1) * step[:, 0] ** 3
        return np.where(step[:, 0] > 0, below[i] + above[j] + rounding, np.inf)

    lo_side = np.flatnonzero(edges <= 0)
    hi_side = np.flatnonzero(edges >= 0)
    i, j = int(lo_side[0]), int(hi_side[-1])
    for _ in range(64):  # converges in a few steps; the bound only guards against cycling
        new_j = _best_candidate(hi_side, lambda js: cost(i, js), widest="last")
        new_i = _best_candidate(lo_side, lambda is_: cost(is_, new_j), widest="first")
        if (new_i, new_j) == (i, j):
            break
        i, j = new_i, new_j
    return max(lo, float(edges[i])), min(hi, float(edges[j]))


def _rounding_integral(u: np.ndarray) -> np.ndarray:
    """G(u) = integral from -1/2 to u of (t - round(t))**2 dt (+ a constant): the squared rounding
    error of values spread evenly over [a, b], in units of the step, is G(b) - G(a)."""
    n = np.floor(u + 0.5)
    f = u - n  # in [-1/2, 1/2)
    return n / 12 + (f**3 + 0.125) / 3


def _best_candidate(candidates: np.ndarray, cost_of: Callable, widest: str) -> int:
    """The candidate of least cost, coarse to fine: every MSE_COARSE-th candidate first, then all
    of them between the best coarse one's neighbours. Ties go to the widest range."""

    def best(subset: np.ndarray) -> int:
        c = cost_of(subset)
        return c.size - 1 - int(np.argmin(c[::-1])) if widest == "last" else int(np.argmin(c))

    stride = max(1, -(-candidates.size // MSE_COARSE))
    coarse = np.unique(np.append(np.arange(0, candidates.size, stride), candidates.size - 1))
    b = best(candidates[coarse])
    first, last = coarse[max(b - 1, 0)], coarse[min(b + 1, coarse.size - 1)]
    fine = candidates[first:last + 1]
    return int(fine[best(fine)])


def _entropy_range(h: _Histogram, lo: float, hi: float) -> tuple[float, float]:
    counts = h.counts.astype(np.float64)
    negative, positive = max(-lo, 0.0), max(hi, 0.0)
    best_kl, best_i = np.inf, counts.size
    for i in range(ENTROPY_FIRST_BIN, counts.size + 1):
        threshold = h.edges[i]
        width = min(positive, threshold) + min(negative, threshold)
        levels = int(np.clip(np.rint(LEVELS * threshold / width), 128, LEVELS))
        if levels > i:
            continue  # fewer bins than levels: Q would equal P
        kl = _kl_clipped(counts, i, levels)
        if kl <= best_kl:  # ties: the larger threshold (clip less)
            best_kl, best_i = kl, i
    threshold = float(h.edges[best_i])
    return max(lo, -threshold), min(hi, threshold)


def _kl_clipped(counts: np.ndarray, i: int, levels: int) -> float:
    """KL(P || Q) for the first i bins of counts merged into `levels` levels (TensorRT's)."""
    kept = counts[:i]
    p = kept.copy()
    p[-1] += counts[i:].sum()  # the clipped values land on the threshold
    level = np.arange(i) * levels // i
    nonzero = kept > 0
    level_sum = np.bincount(level, weights=kept, minlength=levels)
    level_nonzero = np.bincount(level, weights=nonzero, minlength=levels)
    # A level's count spread evenly over its non-empty bins.
    q = np.where(nonzero, level_sum[level] / np.maximum(level_nonzero[level], 1), 0.0)
    q_total = q.sum()
    if q_total == 0:
        return np.inf
    p, q = p / p.sum(), q / q_total
    has = p > 0
    starved = has & (q == 0)  # only the last bin can be: clipped mass on an empty bin
    if starved.any():  # smoothing: give it a little mass, scale the rest to keep the sum 1
        q = np.where(starved, KL_SMOOTHING, q * (1 - KL_SMOOTHING * starved.sum()))
    return float(np.sum(p[has] * np.log(p[has] / q[has])))


_SEARCH = {"percentile": _percentile_range, "mse": _mse_range, "entropy": _entropy_range}
