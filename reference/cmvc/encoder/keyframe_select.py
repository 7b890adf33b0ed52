"""Keyframe selection (paper Eq. 1) and the ablation strategies of the paper's Table 2.  Not normative.

With T frames and n >= 2 keyframes, frames 0 and T-1 are keyframes and frames 1..T-2 are cut into
n-2 uniform intervals; one keyframe is chosen per interval:

* ``feature`` (Eq. 1): the frame whose feature has the lowest cosine similarity to the feature of
  the previously chosen keyframe;
* ``mse``: the frame with the highest mean squared error to the previous keyframe;
* ``uniform``: the interval's middle frame;
* ``random``: a frame drawn uniformly from the interval (seeded).

Not in the paper: ``interp`` places the n keyframes anywhere (consecutive ones at most twice the
mean interval apart) so that the frames between them are best reconstructed: dynamic programming
over the segment costs of :class:`InterpolationCost` (the reconstruction's squared luma error on up
to three inner frames, at about 10 000 pixels per picture).

Shot boundaries are not forced keyframes: the encoder's weight fit (:mod:`cmvc.encoder.fit`) already
reconstructs the frames on each side of a cut from the keyframe on that side, and two keyframes per
shot cost more than they gain (docs/experiments.md §3).
"""
from __future__ import annotations

import collections
import hashlib
import math
import random as _random
from typing import Callable

import numpy as np

from ..errors import error
from .features import cosine, features
from ..picture import Picture

STRATEGIES = ("feature", "uniform", "random", "mse", "interp")

Interpolator = Callable[[Picture, Picture, list[float]], list[Picture]]  # (I0, I1, time steps) -> pictures


def intervals(t: int, n: int) -> list[range]:
    inner = n - 2
    edges = [1 + (k * (t - 2)) // inner for k in range(inner + 1)] if inner > 0 else []
    return [range(edges[k], edges[k + 1]) for k in range(inner)]


def select_keyframes(pics: list[Picture], n: int, strategy: str = "feature", feature_kind: str = "thumbnail",
                     seed: int = 0, feats: np.ndarray | None = None,
                     cost: "InterpolationCost | None" = None) -> list[int]:
    """Indices of n keyframes (always 0 and t-1). *feats*: precomputed features (``feature``);
    *cost*: the segment costs for ``interp`` (default: RIFE at reduced size, see
    :class:`InterpolationCost`; pass one to share its cache between calls)."""
    t = len(pics)
    if t < 2:
        raise error("E103", f"a video needs at least 2 frames, got {t}")
    n = max(2, min(n, t))
    if strategy not in STRATEGIES:
        raise error("E101", f"unknown keyframe strategy {strategy!r} ({', '.join(STRATEGIES)})")
    if strategy == "interp":
        return min_cost_keyframes(t, n, cost or interpolation_cost(pics), max_gap(t, n))
    chosen = [0]
    rng = _random.Random(seed)
    if strategy == "feature" and feats is None:
        feats = features(pics, feature_kind)
    for iv in intervals(t, n):
        if len(iv) == 0:
            continue
        prev = chosen[-1]
        if strategy == "uniform":
            k = iv[len(iv) // 2]
        elif strategy == "random":
            k = rng.choice(list(iv))
        elif strategy == "mse":
            ref = pics[prev].y.astype(np.float32)
            k = max(iv, key=lambda f: float(np.mean((pics[f].y.astype(np.float32) - ref) ** 2)))
        else:
            k = min(iv, key=lambda f: cosine(feats[f], feats[prev]))
        chosen.append(k)
    if chosen[-1] != t - 1:
        chosen.append(t - 1)
    return sorted(set(chosen))


def max_gap(t: int, n: int) -> int:
    """The largest distance between consecutive keyframes that ``interp`` considers: twice the mean."""
    return max(1, math.ceil(2 * (t - 1) / max(1, n - 1)))


def min_cost_keyframes(t: int, n: int, cost: Callable[[int, int], float], gap: int) -> list[int]:
    """n keyframes 0 = k_0 < ... < k_{n-1} = t-1 with k_{m+1} - k_m <= *gap* minimising
    sum cost(k_m, k_{m+1}) (dynamic programming; ties go to the earlier keyframe)."""
    n = max(2, min(n, t))
    gap = max(gap, -(-(t - 1) // (n - 1)))  # always feasible
    inf = float("inf")
    best = [0.0] + [inf] * (t - 1)  # best[j]: least cost of reaching keyframe j with m keyframes
    back: list[list[int]] = []
    for _ in range(n - 1):
        nxt, arg = [inf] * t, [-1] * t
        for j in range(1, t):
            for i in range(max(0, j - gap), j):
                if best[i] < inf:
                    c = best[i] + cost(i, j)
                    if c < nxt[j]:
                        nxt[j], arg[j] = c, i
        best = nxt
        back.append(arg)
    out = [t - 1]
    for arg in reversed(back):
        out.append(arg[out[-1]])
    return out[::-1]


class InterpolationCost:
    """Segment cost for ``interp``: ``cost(i, j)`` = (j - i - 1) x the mean squared luma error of
    reconstructing up to *samples* evenly spread inner frames of keyframes i and j at linear time
    steps.  Computed on the source pictures (not coded) reduced by a power of two to about *pixels*
    samples (the ranking of segments, not their exact error, matters), with the BLEND reconstruction
    for *profile* ``blend`` and RIFE v4.25 (full-resolution flow) otherwise; results are cached, so
    one instance serves every n."""

    def __init__(self, pics: list[Picture], profile: str = "rife", samples: int = 3, pixels: int = 10_000,
                 progress: Callable[[int], None] | None = None) -> None:
        w, h = pics[0].width, pics[0].height
        d = 1
        while w * h / (4 * d * d) >= pixels and min(w, h) // (2 * d) >= 16:
            d *= 2
        if d > 1:
            from ..resample import downsample

            pics = [downsample(p, -(-w // d), -(-h // d)) for p in pics]
        self.pics, self.samples, self.reduction = pics, samples, d
        self.interpolate = blend_interpolator if profile == "blend" else rife_interpolator(pics[0].width, pics[0].height)
        self.cache: dict[tuple[int, int], float] = {}
        self.progress = progress

    def __call__(self, i: int, j: int) -> float:
        key = (i, j)
        if key not in self.cache:
            inner = list(range(i + 1, j))
            if len(inner) > self.samples:
                inner = [inner[round(q)] for q in np.linspace(0, len(inner) - 1, self.samples)]
            err = 0.0
            if inner:
                out = self.interpolate(self.pics[i], self.pics[j], [(k - i) / (j - i) for k in inner])
                err = float(np.mean([np.mean((o.y.astype(np.float32) - self.pics[k].y) ** 2)
                                     for o, k in zip(out, inner)]))
            self.cache[key] = err * (j - i - 1)
            if self.progress:
                self.progress(len(self.cache))
        return self.cache[key]


_COSTS: collections.OrderedDict = collections.OrderedDict()


def interpolation_cost(pics: list[Picture], profile: str = "rife",
                       progress: Callable[[int], None] | None = None) -> InterpolationCost:
    """An :class:`InterpolationCost` for these pictures, shared with earlier calls for the same
    pictures (rate control's trials and the final encode; the last four are kept, keyed by a digest
    of the pictures)."""
    h = hashlib.blake2b(digest_size=16)
    for p in pics:
        h.update(p.y.tobytes())
        h.update(p.u.tobytes())
        h.update(p.v.tobytes())
    key = (h.hexdigest(), len(pics), pics[0].width, pics[0].height, profile)
    if key not in _COSTS:
        _COSTS[key] = InterpolationCost(pics, profile)
        while len(_COSTS) > 4:
            _COSTS.popitem(last=False)
    _COSTS.move_to_end(key)
    _COSTS[key].progress = progress
    return _COSTS[key]


def blend_interpolator(i0: Picture, i1: Picture, ts: list[float]) -> list[Picture]:
    """BLEND (§7.4, Eq. 5) at time steps *ts* (0 = i0), 8-bit weights."""
    from ..recon.blend import blend

    return [blend(i0, i1, round((1 - t) * 256), 8) for t in ts]


def rife_interpolator(width: int, height: int, scale_exp: int = 0) -> Interpolator:
    """RIFE (§7.5) at *width* x *height*: the default interpolator of :class:`InterpolationCost`."""
    from ..recon.rife import RifeReconstructor, load_ifnet
    from ..write import make_sequence_header

    sh = make_sequence_header(width, height, 2, [0, 1], recon_profile=1, recon_model=0, recon_param=scale_exp)
    return RifeReconstructor(sh, net=load_ifnet()).frames_at
