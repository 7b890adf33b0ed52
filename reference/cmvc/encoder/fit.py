"""Encoder fit of the interpolation weights (paper Eq. 7-8), rate-distortion optimised.

For each inner frame j of a segment the encoder chooses q (w = q / 2^B) minimising

    J(q) = D(q) + lambda * R(q) / (W * H)

with D the mean squared error over all Y'CbCr samples (8-bit units) between the reconstruction and
the source frame (reconstructed as §7.4-7.5 do), and R the bits of q in the interp_params_unit
(Exp-Golomb residual from the linear prediction, spec §4.6).  Not normative.  Methods:

* ``none``: q = the linear prediction (zero residual bits);
* ``search``: every q within ``radius`` of the prediction;
* ``exhaustive``: every q in 0..2^B;
* ``descend``: from the prediction, a step to the better neighbour (q - 1 or q + 1) while J falls:
  the exhaustive choice where J(q) has one minimum, at fewer reconstructions (``--rc-preset model``);
* ``gd``: Eq. 7-8: gradient descent on the L2 loss over the continuous w (Adam, lr 0.001 as in the
  paper), then rounding to the alphabet;
* ``best``: ``gd`` and ``search`` both, the lower J per frame.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..picture import Picture
from ..syntax.interp import predict, se_bits

FIT_METHODS = ("none", "search", "exhaustive", "descend", "gd", "best")


def mse(a: Picture, b: Picture) -> float:
    s = sum(float(np.sum((x.astype(np.float64) - y.astype(np.float64)) ** 2)) for x, y in zip(a.planes(), b.planes()))
    return s / sum(x.size for x in a.planes())


@dataclasses.dataclass
class FitResult:
    q: list[int]
    cost: list[float]
    mse: list[float]
    winner: list[str]  # method that gave each frame's q
    bits: int
    base: list[float | None] = dataclasses.field(default_factory=list)  # each frame's MSE at the prediction (None: not evaluated)


def _cands_eval(recon, i0, i1, truth: list[Picture], cands: list[list[int]], top: int) -> dict[tuple[int, int], float]:
    """MSE of every (frame, q) candidate.  A reconstruction depends on q alone (both keyframes are
    fixed within a segment), so each distinct q is reconstructed once, in one batch, and scored
    against every frame that considers it: the exhaustive search costs 2^B + 1 reconstructions per
    segment, not that many per frame."""
    qs = sorted({q for cs in cands for q in cs})
    pics = dict(zip(qs, _reconstruct(recon, i0, i1, qs, top)))
    return {(j, q): mse(pics[q], truth[j]) for j, cs in enumerate(cands) for q in cs}


def _reconstruct(recon, i0, i1, qs: list[int], top: int) -> list[Picture]:
    if hasattr(recon, "frames_at"):
        return recon.frames_at(i0, i1, [1.0 - q / top for q in qs])
    from ..recon.blend import blend

    return [blend(i0, i1, q, top.bit_length() - 1) for q in qs]


def _gd(recon, i0: Picture, i1: Picture, truth: list[Picture], pred: list[int], top: int, steps: int,
        lr: float = 1e-3) -> list[float]:
    """Eq. 7-8: per-frame continuous w by gradient descent on L2 (Adam, lr 0.001)."""
    import torch

    n = len(truth)
    dev = getattr(recon, "device", "cpu")  # the network's device (--device): the weights and targets go there
    w = torch.tensor([p / top for p in pred], dtype=torch.float32, device=dev, requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr)
    ty = torch.stack([torch.from_numpy(t.y.astype(np.float32) / 255) for t in truth]).to(dev)
    tc = torch.stack([torch.from_numpy(np.stack([t.u, t.v]).astype(np.float32) / 255) for t in truth]).to(dev)
    if hasattr(recon, "float_frames"):
        prep = recon.prepare(i0, i1)
        run = lambda: recon.float_frames(prep, 1.0 - w.clamp(0, 1))  # noqa: E731
    else:
        a_y = torch.from_numpy(i0.y.astype(np.float32) / 255)
        b_y = torch.from_numpy(i1.y.astype(np.float32) / 255)
        a_c = torch.from_numpy(np.stack([i0.u, i0.v]).astype(np.float32) / 255)
        b_c = torch.from_numpy(np.stack([i1.u, i1.v]).astype(np.float32) / 255)
        run = lambda: (w.clamp(0, 1).view(n, 1, 1) * a_y + (1 - w.clamp(0, 1).view(n, 1, 1)) * b_y,  # noqa: E731
                       w.clamp(0, 1).view(n, 1, 1, 1) * a_c + (1 - w.clamp(0, 1).view(n, 1, 1, 1)) * b_c)
    for _ in range(steps):
        y, c = run()
        loss = ((y - ty) ** 2).sum() + ((c - tc) ** 2).sum()
        # gradient w.r.t. w only: no weight gradients of the network (most of backward's cost)
        (w.grad,) = torch.autograd.grad(loss, [w])
        opt.step()
    return [float(x) for x in w.detach().clamp(0, 1)]


def fit_frames(recon, i0: Picture, i1: Picture, truth: list[Picture], js: list[int], n: int, w_bits: int,
               method: str = "search", lam: float = 1000.0, radius: int = 2) -> list[Picture]:
    """The reconstructions of inner frames *js* (1-based) of a segment of *n*, each at the q that
    :func:`fit_segment` chooses for it with *method* (truth[k]: frame js[k]'s source), for rate
    control's estimates (:func:`cmvc.encoder.rate_control.estimate_quality`).  ``none``, ``search``,
    ``exhaustive`` and ``descend`` choose exactly as the encoder does; ``gd`` and ``best`` are approximated by
    ``search`` (no gradient steps).  The distinct q's are reconstructed once, in one batch."""
    top = 1 << w_bits
    pred = [predict(j, n, w_bits) for j in js]
    if method == "descend":
        pixels = truth[0].width * truth[0].height
        q, _ = _descend(recon, i0, i1, truth, pred, top, lam, pixels)
        return _reconstruct(recon, i0, i1, q, top)
    if method == "none":
        cands = [[p] for p in pred]
    elif method == "exhaustive":
        cands = [list(range(top + 1)) for _ in pred]
    else:
        cands = [list(range(max(0, p - radius), min(top, p + radius) + 1)) for p in pred]
    qs = sorted({q for cs in cands for q in cs})
    pics = dict(zip(qs, _reconstruct(recon, i0, i1, qs, top)))
    if all(len(c) == 1 for c in cands):
        return [pics[c[0]] for c in cands]
    pixels = truth[0].width * truth[0].height
    return [pics[min(cs, key=lambda q: mse(pics[q], truth[k]) + lam * se_bits(q - pred[k]) / pixels)]
            for k, cs in enumerate(cands)]


def _descend(recon, i0: Picture, i1: Picture, truth: list[Picture], pred: list[int], top: int, lam: float,
             pixels: int) -> tuple[list[int], dict[tuple[int, int], float]]:
    """The ``descend`` fit: per frame, from its prediction, the better neighbour while J falls (a
    local minimum of J); (q per frame, J of every (frame, q) evaluated).  Each round reconstructs the
    q's that any frame still needs, in one batch."""
    pics: dict[int, Picture] = {}
    cost: dict[tuple[int, int], float] = {}
    cur = list(pred)
    active = set(range(len(truth)))
    while active:
        need = sorted({q for j in active for q in (cur[j] - 1, cur[j], cur[j] + 1) if 0 <= q <= top} - pics.keys())
        pics.update(zip(need, _reconstruct(recon, i0, i1, need, top)))
        for j in sorted(active):
            for q in (cur[j] - 1, cur[j], cur[j] + 1):
                if 0 <= q <= top and (j, q) not in cost:
                    cost[j, q] = mse(pics[q], truth[j]) + lam * se_bits(q - pred[j]) / pixels
            best = min((q for q in (cur[j] - 1, cur[j], cur[j] + 1) if 0 <= q <= top), key=lambda q: (cost[j, q], q))
            if best == cur[j]:
                active.discard(j)
            cur[j] = best
    return cur, cost


def fit_segment(recon, i0: Picture, i1: Picture, truth: list[Picture], w_bits: int, method: str = "search",
                lam: float = 1000.0, radius: int = 2, gd_steps: int = 20, gd_lr: float = 1e-3) -> FitResult:
    n = len(truth)
    top = 1 << w_bits
    pixels = truth[0].width * truth[0].height
    pred = [predict(j, n, w_bits) for j in range(1, n + 1)]
    if method == "descend":
        q_out, cost = _descend(recon, i0, i1, truth, pred, top, lam, pixels)
        bits = [se_bits(q - p) for q, p in zip(q_out, pred)]
        return FitResult(q_out, [cost[j, q] for j, q in enumerate(q_out)],
                         [cost[j, q] - lam * b / pixels for j, (q, b) in enumerate(zip(q_out, bits))],
                         ["descend"] * n, sum(bits), [cost[j, p] - lam * se_bits(0) / pixels for j, p in enumerate(pred)])
    if method == "none":
        d = _cands_eval(recon, i0, i1, truth, [[p] for p in pred], top)
        m = [d[(j, pred[j])] for j in range(n)]
        return FitResult(pred, m, m, ["none"] * n, sum(se_bits(0) for _ in pred), m)
    cands: list[set[int]] = [set() for _ in range(n)]
    origin: dict[tuple[int, int], str] = {}
    if method in ("search", "best"):
        for j, p in enumerate(pred):
            for q in range(max(0, p - radius), min(top, p + radius) + 1):
                cands[j].add(q)
                origin.setdefault((j, q), "search")
    if method == "exhaustive":
        for j in range(n):
            cands[j] = set(range(top + 1))
            for q in cands[j]:
                origin[(j, q)] = "exhaustive"
    if method in ("gd", "best"):
        ws = _gd(recon, i0, i1, truth, pred, top, gd_steps, gd_lr)
        for j, w in enumerate(ws):
            q = int(round(w * top))
            cands[j].add(q)
            origin[(j, q)] = "gd" if method == "gd" or (j, q) not in origin else origin[(j, q)]
            if method == "gd":
                cands[j] = {q}
    d = _cands_eval(recon, i0, i1, truth, [sorted(c) for c in cands], top)
    q_out, cost, err, win, bits = [], [], [], [], 0
    for j in range(n):
        best = min(sorted(cands[j]), key=lambda q: d[(j, q)] + lam * se_bits(q - pred[j]) / pixels)
        q_out.append(best)
        err.append(d[(j, best)])
        cost.append(d[(j, best)] + lam * se_bits(best - pred[j]) / pixels)
        win.append(origin.get((j, best), method))
        bits += se_bits(best - pred[j])
    return FitResult(q_out, cost, err, win, bits, [d.get((j, pred[j])) for j in range(n)])
