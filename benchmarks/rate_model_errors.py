"""The rate model's errors against measured ones, per keyframe count (``cmvc.encoder.rate_model``).

    python benchmarks/rate_model_errors.py --clip carphone_pristine.mp4 [--start 0] [--frames 64]
        [--target 2] [--counts 10 16 31 40] [--downscale 1] [--json out.json]

Fits the model as ``model_plan`` does (first pass, ``fit_codec``), then for each count: the
quantiser the ranking gives it, the modelled keyframe bytes, keyframe error ``D_key`` and inner-frame
term ``lam D_interp``, against one ``medium`` trial encode of that count and quantiser (evenly spaced
keyframes): its bytes, its decoded keyframes' mean squared luma error, that of every inner frame
reconstructed as the scored candidates' estimate reconstructs them (predicted weights, RIFE's flow
VERIFY_SCALE_STEP coarser), and the estimate itself.  *--target*: a multiple of vvenc QP 63's bits
(``encoder_speed.py``'s peer; bigbuckbunny needs --peer-bits).  Not a test: it shows where the
model's ranking and the estimate part (docs/encoder.md, "Not taken: the keyframes' error by
quantiser").
"""
from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np

from cmvc.encoder import rate_model as rm
from cmvc.encoder.pipeline import EncoderConfig
from cmvc.encoder.rate_control import estimate_quality
from cmvc.encoder.trials import _Trials
from cmvc.keyframes import Colour
from cmvc.tools.demo import bundled_clip
from cmvc.tools.memory import retain_freed_memory
from cmvc.tools.video import read_video

PEER_BITS = {"carphone_pristine.mp4": 16152, "bikes.mp4": 30408}  # vvenc slow QP 63, 64 frames (encoder_speed.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", required=True)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--target", type=float, default=1.0)
    ap.add_argument("--peer-bits", type=float, help="vvenc QP 63's bits for these frames (default: the table above)")
    ap.add_argument("--counts", type=int, nargs="+", default=[10, 16, 31])
    ap.add_argument("--downscale", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()
    retain_freed_memory()
    pics, info = read_video(bundled_clip(a.clip), max_frames=a.start + a.frames)
    pics = pics[a.start:]
    colour = Colour(info.matrix_coefficients, info.full_range)
    cfg = EncoderConfig()
    budget = a.target * (a.peer_bits or PEER_BITS[a.clip]) / 8
    diff = rm.first_pass(pics, cfg.profile)
    m = rm.fit_codec(pics, cfg, "vvc", a.downscale, colour, budget, diff)
    if m is None:
        raise SystemExit("no model at that coded size")
    t = len(pics)
    print(f"model: bytes exp({m.a:.2f} {m.b:+.3f} k) (n/{m.n0})^{m.beta:.2f}, D_key exp({m.c:.2f}) (bytes/n)^{m.d:.2f}, "
          f"lam {m.lam:.2f}; first pass {dict(zip(diff.gaps, (round(x, 1) for x in diff.mse)))}")
    best = rm.choose([m], pics, cfg, budget, diff)
    print(f"the ranking's best: {best.n} keyframes at QP {m.qualities[best.k]}")
    tr = _Trials(pics, dataclasses.replace(cfg, codec="vvc", vvc_preset=rm.VERIFY_PRESET or cfg.vvc_preset),
                 a.downscale, colour, "uniform")
    scale = min(tr.cfg.rife_scale + rm.VERIFY_SCALE_STEP, 2)
    rows = []
    for n in a.counts:
        c = rm.choose([m], pics, cfg, budget, diff, [n])
        if c is None:
            print(f"{n:3d} keyframes: nothing fits")
            continue
        q = m.qualities[c.k]
        size = tr.bytes(n, q)  # the trial encode
        box: list = []

        def per_frame(dec, src):
            box.append([float(np.mean((d.y.astype(np.float32) - s.y) ** 2)) for d, s in zip(dec, src)])
            return 0.0

        estimate_quality(pics, tr, n, q, scorer=per_frame, fit="none", rife_scale=scale)
        err, kf = box[0], set(tr.keyframes(n))
        key = float(np.mean([err[i] for i in sorted(kf)]))
        inner = float(np.mean([err[i] for i in range(t) if i not in kf])) if len(kf) < t else 0.0
        est = estimate_quality(pics, tr, n, q, "ms-ssim", fit="none", max_pixels=rm.VERIFY_PIXELS, rife_scale=scale)
        row = {"n": n, "qp": q, "model_bytes": c.bytes, "bytes": size, "model_d_key": m.d_key(n, c.k),
               "d_key": key, "model_inner_term": m.lam * diff.at((t - 1) / (n - 1)), "inner_minus_key": inner - key,
               "model_mse": c.mse, "mse": float(np.mean(err)), "estimate": est}
        rows.append(row)
        print(f"{n:3d} keyframes QP {q}: bytes {row['model_bytes']:.0f} modelled, {row['bytes']} measured "
              f"({row['bytes'] / budget:.3f} of the budget); D_key {row['model_d_key']:.1f} / {key:.1f}; "
              f"inner frames' excess {row['model_inner_term']:.1f} / {inner - key:.1f}; "
              f"mean error {c.mse:.1f} / {row['mse']:.1f}; estimate {est:.4f}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "budget_bytes": budget, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
