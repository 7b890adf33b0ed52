"""Issue 35, phase 1: do transmitted motion hints pay?  Measured before any format change.

    python benchmarks/motion_hints.py [--frames 33] [--clips carphone bikes bbb] [--json out.json]
                                      [--intervals 8 16] [--hint-q 63] [--rd-q 63 50]
                                      [--rd-intervals 4 8 16] [--kinds segment affine frame]
                                      [--lam 300 30000] [--no-vmaf]

Results and their reading: docs/motion.md (no representation pays; the format is unchanged).

For each clip, CMVC streams (RIFE, AV1 keyframes, w fit ``none``) are encoded and decoded at every
keyframe interval of --rd-intervals and CRF of --rd-q: the rate-distortion curve WITHOUT hints
(the alternative way to spend bits: better or more keyframes).  Then, for the streams at
--intervals x --hint-q, each segment's inner frames are reconstructed again with a flow correction
added to IFNet's flow before the warp of §7.5 step 3, fitted by the encoder through the warp
(block search for a start, then Adam on the L2 loss through grid_sample; the network is not
differentiated: the correction enters after it), quantised, and its bits estimated with an
adaptive binary model (CABAC-like: a zero flag with a context on the left neighbour, a sign, a
unary magnitude with a context per bin, an Exp-Golomb escape; KT estimates).  Representations:

* ``frame``: a velocity correction field d (2 x ceil(W/16) x ceil(H/16)) per inner frame; the flow
  to I0 gets -t*d, the flow to I1 (1-t)*d (a linear-motion split), d bilinearly upsampled by 16;
* ``segment``: one such field per segment, shared by its inner frames (the linear split in t);
* ``affine``: one global affine velocity correction per segment (6 parameters).

Each hinted point (bits = stream bits + hint bits + 1 flag bit per segment) is compared with the
no-hint curve at the same bits (PSNR-Y, MS-SSIM and VMAF interpolated linearly in log-rate between the
two nearest no-hint points of the convex hull).  A positive delta means hints pay.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from cmvc.decode import decode, segment_weights
from cmvc.encoder import EncoderConfig, encode
from cmvc.keyframes import Colour
from cmvc.picture import Picture
from cmvc.quality import ms_ssim_y, psnr_y
from cmvc.recon.ifnet import _GRIDS, warp_pair  # noqa: F401
from cmvc.recon.rife import RifeReconstructor, _area, _mean2, load_ifnet
from cmvc.resample import downsample
from cmvc.tools.demo import bundled_clip
from cmvc.tools.video import read_video

BLOCK = 16

CLIPS = {  # name: (file, start frame, output size or None)
    "carphone": ("carphone_pristine.mp4", 0, None),
    "bikes": ("bikes.mp4", 30, None),  # frames 30..: after the scene cut at 29|30 (fast motion, no cut)
    "bbb": ("bigbuckbunny.mp4", 0, (640, 360)),  # held out: never used to choose any parameter
}


# ---------------------------------------------------------------- bits: an adaptive binary model
class _Ctx:
    __slots__ = ("n0", "n1")

    def __init__(self):
        self.n0 = self.n1 = 0.5

    def cost(self, b: int) -> float:
        p = (self.n1 if b else self.n0) / (self.n0 + self.n1)
        if b:
            self.n1 += 1
        else:
            self.n0 += 1
        return -math.log2(p)


def field_bits(values: np.ndarray) -> float:
    """Adaptive code length (bits) of integer fields in raster order, channel by channel (the
    contexts persist across the arrays of one call: one segment's or one clip's hints)."""
    zero = [_Ctx(), _Ctx(), _Ctx()]
    sign = _Ctx()
    mag = [_Ctx() for _ in range(8)]
    bits = 0.0
    for arr in values:
        a = np.asarray(arr, dtype=np.int64)
        for ch in a.reshape(-1, *a.shape[-2:]):
            for r in range(ch.shape[0]):
                for c in range(ch.shape[1]):
                    v = int(ch[r, c])
                    left = int(ch[r, c - 1] != 0) if c else 2
                    bits += zero[left].cost(v != 0)
                    if v == 0:
                        continue
                    bits += sign.cost(v < 0)
                    m = abs(v) - 1
                    k = 0
                    while k < 8:
                        stop = m == k
                        bits += mag[k].cost(not stop)
                        if stop:
                            break
                        k += 1
                    if k == 8:  # escape: Exp-Golomb order 0 of m - 8, bypass
                        bits += 2 * int(math.log2(m - 8 + 1)) + 1
    return bits


# ---------------------------------------------------------------- reconstruction with a correction
def base_flow(rec: RifeReconstructor, prep, ts: torch.Tensor):
    r0, r1, (y0, c0), (y1, c1), feats, (h, w, ch, cw) = prep
    n = len(ts)
    with torch.no_grad():
        flow, mask = rec.net.flow(r0.expand(n, -1, -1, -1), r1.expand(n, -1, -1, -1), ts, 1.0, feats=feats)
    return flow[..., :2 * ch, :2 * cw].contiguous(), torch.sigmoid(mask[..., :2 * ch, :2 * cw]).contiguous()


def render(prep, flow, m, corr, luma_only: bool = False):
    """§7.5 step 3 with *corr* (N,4,H2,W2 or None) added to the flow; Y (N,h,w) and CbCr."""
    r0, r1, (y0, c0), (y1, c1), feats, (h, w, ch, cw) = prep
    fl = flow if corr is None else flow + corr
    a, b = warp_pair(y0, y1, fl, _area(y0, 2 * ch, 2 * cw))
    y = a * m + b * (1 - m)
    if luma_only:
        return y[:, 0, :h, :w], None
    fc = _mean2(fl, 0.5)
    mc = _mean2(m)
    a, b = warp_pair(c0, c1, fc, _area(c0, ch, cw))
    return y[:, 0, :h, :w], a * mc + b * (1 - mc)


def split(d_up: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Velocity correction d (N or 1, 2, H2, W2) -> flow correction (N, 4, H2, W2): -t d to I0, (1-t) d to I1."""
    t = ts.view(-1, 1, 1, 1)
    return torch.cat((-t * d_up, (1 - t) * d_up), 1)


def upsample(d: torch.Tensor, h2: int, w2: int) -> torch.Tensor:
    up = F.interpolate(d, scale_factor=BLOCK, mode="bilinear", align_corners=False)
    return up[..., :h2, :w2]


def affine_field(p: torch.Tensor, h2: int, w2: int) -> torch.Tensor:
    """p (6,): d_x = p0 + p1 x + p2 y, d_y = p3 + p4 x + p5 y, x and y in [-1, 1] over the picture."""
    gy, gx = torch.meshgrid(torch.linspace(-1, 1, h2), torch.linspace(-1, 1, w2), indexing="ij")
    dx = p[0] + p[1] * gx + p[2] * gy
    dy = p[3] + p[4] * gx + p[5] * gy
    return torch.stack((dx, dy), 0)[None]


def targets(truth: list[Picture]):
    ty = torch.stack([torch.from_numpy(t.y.astype(np.float32) / 255) for t in truth])
    tc = torch.stack([torch.from_numpy(np.stack([t.u, t.v]).astype(np.float32) / 255) for t in truth])
    return ty, tc


def block_search(prep, flow, m, ts, ty, per_frame: bool, rng: int, step: int, lam: float = 0.0) -> torch.Tensor:
    """Uniform candidate velocity corrections; per 16x16 block the one of least luma SSE (summed
    over the segment's frames unless per_frame) plus lam x its approximate bits.  Returns d (N or 1, 2,
    gh, gw)."""
    h, w = ty.shape[1:]
    h2, w2 = flow.shape[2:]
    gh, gw = -(-h2 // BLOCK), -(-w2 // BLOCK)
    best = None
    bestd = None
    cands = [(0, 0)] + [(dx, dy) for dy in range(-rng, rng + 1, step) for dx in range(-rng, rng + 1, step)
                        if (dx, dy) != (0, 0)]
    for dx, dy in cands:
        d = torch.tensor([dx, dy], dtype=torch.float32).view(1, 2, 1, 1).expand(1, 2, h2, w2)
        with torch.no_grad():
            y, _ = render(prep, flow, m, split(d, ts), luma_only=True)
        e = (y - ty) ** 2
        e = F.pad(e, (0, gw * BLOCK - w, 0, gh * BLOCK - h))
        e = F.avg_pool2d(e[:, None], BLOCK)[:, 0]  # (N, gh, gw)
        if not per_frame:
            e = e.sum(0, keepdim=True)
        # lam is in 8-bit squared error per bit; e is a mean over the block in [0, 1] units
        e = e + lam * (_approx_bits(dx, step) + _approx_bits(dy, step)) / (BLOCK * BLOCK * 255.0 ** 2)
        if best is None:
            best = e
            bestd = torch.zeros((e.shape[0], 2, gh, gw))
        else:
            better = e < best
            best = torch.where(better, e, best)
            bestd[:, 0][better] = float(dx)
            bestd[:, 1][better] = float(dy)
    return bestd


def _approx_bits(v: float, step: float) -> float:
    return 0.3 if v == 0 else 3 + 2 * math.log2(1 + abs(v) / step)


def fit_correction(kind: str, prep, flow, m, ts, truth, qstep: float, lam_l1: float, iters: int, lam: float):
    """Fit, quantise; returns (quantised integers list for the bit model, flow correction tensor)."""
    ty, tc = targets(truth)
    h2, w2 = flow.shape[2:]
    n = len(ts)
    if kind == "affine":
        d0 = block_search(prep, flow, m, ts, ty, per_frame=False, rng=24, step=4, lam=lam)
        # start from the best single translation: the most common block vector, weighted equally
        p = torch.zeros(6)
        p[0], p[3] = d0[0, 0].median(), d0[0, 1].median()
        p.requires_grad_(True)
        opt = torch.optim.Adam([p], lr=0.2)
        for _ in range(iters):
            y, c = render(prep, flow, m, split(affine_field(p, h2, w2), ts))
            loss = ((y - ty) ** 2).mean() * 3 + ((c - tc) ** 2).mean() * 1.5 + lam_l1 * p.abs().sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        q = torch.round(p.detach() / qstep)
        return [q.numpy().reshape(1, 1, 6)], split(affine_field(q * qstep, h2, w2), ts)
    per_frame = kind == "frame"
    d = block_search(prep, flow, m, ts, ty, per_frame=per_frame, rng=24, step=4, lam=lam)
    d.requires_grad_(True)
    opt = torch.optim.Adam([d], lr=0.25)
    for _ in range(iters):
        y, c = render(prep, flow, m, split(upsample(d, h2, w2), ts))
        loss = ((y - ty) ** 2).mean() * 3 + ((c - tc) ** 2).mean() * 1.5 + lam_l1 * d.abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    q = d.detach() / qstep
    q = torch.where(q.abs() < 0.75, torch.zeros_like(q), torch.round(q))  # a dead zone: zeros are cheap
    return [q.numpy()], split(upsample(q * qstep, h2, w2), ts)


def to_pics(y: torch.Tensor, c: torch.Tensor) -> list[Picture]:
    y8 = (y * 255 + 0.5).floor().clamp(0, 255).to(torch.uint8).numpy()
    c8 = (c * 255 + 0.5).floor().clamp(0, 255).to(torch.uint8).numpy()
    return [Picture(y8[i], c8[i, 0], c8[i, 1]) for i in range(len(y8))]


# ---------------------------------------------------------------- metrics and the comparison
def metrics(dist, ref, with_vmaf: bool) -> dict:
    out = {"psnr_y": psnr_y(dist, ref), "ms_ssim": ms_ssim_y(dist, ref)}
    if with_vmaf:
        from cmvc.tools.metrics import vmaf_scorer

        out["vmaf"] = vmaf_scorer(dist, ref)
    return out


def hull_at(points: list[dict], bits: float, key: str) -> float | None:
    """The no-hint curve's *key* at *bits*: upper convex hull in (log2 bits, key), linear between points."""
    pts = sorted((math.log2(p["bits"]), p[key]) for p in points if key in p)
    hull: list[tuple[float, float]] = []
    for x, y in pts:
        if hull and y <= hull[-1][1]:
            continue  # dominated: more bits, no better
        while len(hull) >= 2 and (hull[-1][1] - hull[-2][1]) * (x - hull[-2][0]) <= (y - hull[-2][1]) * (hull[-1][0] - hull[-2][0]):
            hull.pop()
        hull.append((x, y))
    lb = math.log2(bits)
    if not hull or lb < hull[0][0] or lb > hull[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(hull, hull[1:]):
        if x0 <= lb <= x1:
            return y0 + (y1 - y0) * (lb - x0) / (x1 - x0)
    return hull[-1][1]


def run_clip(name: str, frames: int, args, net, log) -> dict:
    fname, start, size = CLIPS[name]
    pics, info = read_video(bundled_clip(fname), max_frames=frames, start=start)
    if size:
        pics = [downsample(p, *size) for p in pics]
    colour = Colour(info.matrix_coefficients, info.full_range)
    sh = SimpleNamespace(recon_param=0, matrix_coefficients=info.matrix_coefficients,
                         colour_flags=SimpleNamespace(full_range_flag=info.full_range))
    rec = RifeReconstructor(sh, net=net)
    out = {"clip": name, "size": [pics[0].width, pics[0].height], "frames": len(pics), "rd": [], "hints": []}
    streams = {}
    for n_int in sorted(set(args.rd_intervals) | set(args.intervals)):
        for q in sorted(set(args.rd_q) | set(args.hint_q), reverse=True):
            t0 = time.time()
            res = encode(pics, EncoderConfig(interval=n_int, quality=q, fit="none", codec="av1"),
                         fps=Fraction(info.fps), colour=colour, net=net)
            dd = decode(res.data, net=net)
            dec = dd.pictures
            row = {"interval": n_int, "crf": q, "bits": 8 * len(res.data), **metrics(dec, pics, args.vmaf)}
            log(f"{name} N={n_int} crf={q}: {row} ({time.time() - t0:.0f} s)")
            out["rd"].append(row)
            streams[(n_int, q)] = (res, dec, row, dd.stream)
    for n_int in args.intervals:
        for q in args.hint_q:
            res, dec, row, ps = streams[(n_int, q)]
            kfs = list(res.keyframes)
            for kind, lam in [(k, lm) for k in args.kinds for lm in args.lam]:
                t0 = time.time()
                hinted = list(dec)
                hint_bits = 0.0
                fields = []
                worst = 0
                for s, (a, b) in enumerate(zip(kfs, kfs[1:])):
                    inner = list(range(a + 1, b))
                    if not inner:
                        continue
                    nn = len(inner)
                    q_i, _, wb = segment_weights(ps, s, nn)  # the time steps the decoder uses (§7.5)
                    ts = torch.tensor([1.0 - qq / (1 << wb) for qq in q_i], dtype=torch.float32)
                    prep = rec.prepare(dec[a], dec[b])
                    flow, m = base_flow(rec, prep, ts)
                    with torch.no_grad():
                        y, c = render(prep, flow, m, None)
                    base = to_pics(y, c)
                    worst = max([worst] + [int(np.abs(p.y.astype(int) - dec[k].y).max()) for p, k in zip(base, inner)])
                    truth = [pics[k] for k in inner]
                    qv, corr = fit_correction(kind, prep, flow, m, ts, truth, args.qstep, args.l1, args.iters, lam)
                    with torch.no_grad():
                        y, c = render(prep, flow, m, corr)
                    new = to_pics(y, c)
                    # the encoder's per-segment decision: D + lambda R against no hints
                    seg_bits = field_bits(qv) + 1
                    d_old = sum(float(np.mean((p.y.astype(np.float64) - t.y) ** 2)) for p, t in zip(base, truth))
                    d_new = sum(float(np.mean((p.y.astype(np.float64) - t.y) ** 2)) for p, t in zip(new, truth))
                    pixels = truth[0].y.size
                    if d_new * pixels + lam * seg_bits < d_old * pixels + lam * 1:
                        for k, p in zip(inner, new):
                            hinted[k] = p
                        hint_bits += seg_bits
                        fields.append(int(np.count_nonzero(np.concatenate([x.ravel() for x in qv]))))
                    else:
                        hint_bits += 1
                hrow = {"interval": n_int, "crf": q, "kind": kind, "lambda": lam, "stream_bits": row["bits"],
                        "hint_bits": round(hint_bits, 1), "bits": row["bits"] + hint_bits,
                        "segments_on": len(fields), "segments": len(kfs) - 1, "nonzero": sum(fields),
                        "max_diff_to_decoder": worst, **metrics(hinted, pics, args.vmaf)}
                for key in ("psnr_y", "ms_ssim", "vmaf"):
                    if key in hrow:
                        hrow[f"d_{key}_same_bits_stream"] = round(hrow[key] - row[key], 4)
                        ref = hull_at(out["rd"], hrow["bits"], key)
                        hrow[f"d_{key}_vs_hull"] = None if ref is None else round(hrow[key] - ref, 4)
                log(f"{name} N={n_int} crf={q} {kind} lambda={lam}: {hrow} ({time.time() - t0:.0f} s)")
                out["hints"].append(hrow)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=33)
    ap.add_argument("--clips", nargs="+", default=["carphone", "bikes", "bbb"], choices=list(CLIPS))
    ap.add_argument("--intervals", nargs="+", type=int, default=[8, 16])
    ap.add_argument("--hint-q", nargs="+", type=int, default=[63])
    ap.add_argument("--rd-q", nargs="+", type=int, default=[63, 50])
    ap.add_argument("--rd-intervals", nargs="+", type=int, default=[4, 8, 16])
    ap.add_argument("--kinds", nargs="+", default=["segment", "affine"], choices=["segment", "frame", "affine"])
    ap.add_argument("--qstep", type=float, default=1.0, help="quantiser step of the correction (pixels)")
    ap.add_argument("--l1", type=float, default=1e-5)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--lam", nargs="+", type=float, default=[300.0, 30000.0],
                    help="lambdas of the block search and the per-segment decision (8-bit squared error per bit)")
    ap.add_argument("--no-vmaf", dest="vmaf", action="store_false")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    net = load_ifnet()
    res = []
    for c in args.clips:
        res.append(run_clip(c, args.frames, args, net, lambda s: print(s, flush=True)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "clips": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
