"""Keyframe selection (paper Eq. 1) and the ablation strategies of the paper's Table 2.

With T frames and n >= 2 keyframes, frames 0 and T-1 are keyframes and frames 1..T-2 are cut into
n-2 uniform intervals; one keyframe is chosen per interval:

* ``feature`` (Eq. 1): the frame whose feature has the lowest cosine similarity to the feature of
  the previously chosen keyframe;
* ``mse``: the frame with the highest mean squared error to the previous keyframe;
* ``uniform``: the interval's middle frame;
* ``random``: a frame drawn uniformly from the interval (seeded).
"""
from __future__ import annotations

import random as _random

import numpy as np

from .errors import error
from .features import cosine, features
from .picture import Picture

STRATEGIES = ("feature", "uniform", "random", "mse")


def intervals(t: int, n: int) -> list[range]:
    inner = n - 2
    edges = [1 + (k * (t - 2)) // inner for k in range(inner + 1)] if inner > 0 else []
    return [range(edges[k], edges[k + 1]) for k in range(inner)]


def select_keyframes(pics: list[Picture], n: int, strategy: str = "feature", feature_kind: str = "thumbnail",
                     seed: int = 0, feats: np.ndarray | None = None) -> list[int]:
    t = len(pics)
    if t < 2:
        raise error("E103", f"a video needs at least 2 frames, got {t}")
    n = max(2, min(n, t))
    if strategy not in STRATEGIES:
        raise error("E101", f"unknown keyframe strategy {strategy!r} ({', '.join(STRATEGIES)})")
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
