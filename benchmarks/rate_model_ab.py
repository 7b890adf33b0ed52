"""A/B runs of the model's constants (``cmvc.encoder.rate_model``), alternating in one process.

    python benchmarks/rate_model_ab.py --clip carphone_pristine.mp4 [--start 0] [--frames 64]
        [--targets 0.5 1 2] [--rounds 1] [--plan-only] [--json out.json] -- base FILL=0 "SPREAD=1.6,FILL=1"

Each variant is ``base`` (the constants as they are) or comma-separated ``NAME=VALUE`` assignments
to constants of :mod:`cmvc.encoder.rate_model` (VALUE a Python literal).  For each round, target
(a multiple of vvenc preset slow's bits at QP 63, as ``encoder_speed.py``) and variant in turn, so
that a change of load hits every variant alike: the plan, timed from the pictures, and unless
--plan-only the encode with its bits, VMAF and MS-SSIM; where ``encoder_speed.py``'s cache holds
the ``exhaustive`` reference of these frames, each variant's BD-rate against it.  Remembered
trial encodes are forgotten before each run (``cmvc.encoder.memo``), so that no variant reuses
another's.  The experiments "not taken" in docs/encoder.md were measured so.  Not a test: the
times are one machine's, printed as ratios to vvenc slow's time measured in the same run.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import encoder_speed as es  # noqa: E402

from cmvc.encoder import memo, rate_model  # noqa: E402
from cmvc.encoder.rate_control import RC_PRESETS, plan  # noqa: E402
from cmvc.encoder.pipeline import EncoderConfig  # noqa: E402
from cmvc.keyframes import Colour  # noqa: E402
from cmvc.tools.bench import bd_rate  # noqa: E402
from cmvc.tools.demo import bundled_clip  # noqa: E402
from cmvc.tools.video import read_video  # noqa: E402


def parse_variant(v: str) -> dict:
    """``base`` -> {}; ``A=1,B=x`` -> {"A": 1, "B": "x"} for constants that rate_model has (ValueError
    naming the first that it has not, or whose value is not a literal)."""
    if v == "base":
        return {}
    out = {}
    for kv in v.split(","):
        name, eq, value = kv.partition("=")
        if not eq or not name.isupper() or not hasattr(rate_model, name):
            raise ValueError(f"{kv!r}: not NAME=VALUE for a constant of cmvc.encoder.rate_model")
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name] = value  # a bare word: a string (VERIFY_PRESET=fast)
    return out


def run_point(pics, info, budget: float, knobs: dict, plan_only: bool) -> dict:
    """One plan (and encode) with *knobs* set on rate_model, restored after."""
    old = {k: getattr(rate_model, k) for k in knobs}
    memo._MEMO.clear()
    try:
        for k, v in knobs.items():
            setattr(rate_model, k, v)
        if not plan_only:
            return es.cmvc_point(pics, info, budget, "model")
        sp = RC_PRESETS["model"]
        cfg = EncoderConfig(vvc_preset=sp.vvc_preset, **({"fit": sp.fit} if sp.fit else {}))
        t0 = time.perf_counter()
        rp = plan(pics, cfg, budget, codecs=sp.codecs, strategies=sp.strategies, downscales=sp.downscales,
                  colour=Colour(info.matrix_coefficients, info.full_range), **sp.plan_options())
        return {"seconds": time.perf_counter() - t0, "predicted_bits": 8 * rp.predicted_bytes, "budget": budget,
                "estimate": rp.score, "trial_encodes": rp.trials, "timings": rp.timings,
                "plan": f"{rp.codec} {rp.strategy} 1/{rp.downscale} {rp.keyframes} kf q{rp.quality}"}
    finally:
        for k, v in old.items():
            setattr(rate_model, k, v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", required=True, help="a bundled clip's name or a video file")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--targets", nargs="+", type=float, default=[0.5, 1.0, 2.0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--plan-only", action="store_true", help="time the plans alone (no encode, no quality)")
    ap.add_argument("--cache", default=str(es.CACHE), help="encoder_speed.py's cache of reference points")
    ap.add_argument("--json")
    ap.add_argument("variants", nargs="+", help="base, or NAME=VALUE[,NAME=VALUE...]")
    a = ap.parse_args()
    try:
        knobs = {v: parse_variant(v) for v in a.variants}
    except ValueError as e:
        ap.error(str(e))
    if a.rounds < 1 or a.frames < 2:
        ap.error("--rounds must be at least 1 and --frames at least 2")
    path = a.clip if os.path.exists(a.clip) else bundled_clip(a.clip)
    pics, info = read_video(path, max_frames=a.start + a.frames)
    pics = pics[a.start:]
    b63, t_vv = es.vvenc_slow(pics, Fraction(info.fps))
    from cmvc.encoder.keyframe_select import rife_interpolator

    rife_interpolator(pics[0].width, pics[0].height)(pics[0], pics[-1], [0.5])  # RIFE loaded before the first timing
    print(f"{a.clip} {a.start}+{len(pics)} frames: vvenc slow {t_vv:.2f} s, {b63} bits; load {os.getloadavg()}", flush=True)
    runs: dict = {v: {str(f): [] for f in a.targets} for v in a.variants}
    for r in range(a.rounds):
        for f in a.targets:
            for v in a.variants:
                p = run_point(pics, info, f * b63, knobs[v], a.plan_only)
                p["time_vs_vvenc_slow"] = p["seconds"] / t_vv
                runs[v][str(f)].append(p)
                q = "" if a.plan_only else f" {p['bits_vs_budget']:.3f} of the budget, VMAF {p['vmaf']:.2f}, MS-SSIM {p['ms_ssim']:.4f}"
                print(f"round {r} {f}x {v}: {p['plan']}{q}, {p['trial_encodes']} trial encodes, "
                      f"{p['time_vs_vvenc_slow']:.1f}x vvenc slow", flush=True)
    cache = es.load_cache(Path(a.cache))
    ref = {str(f): cache.get(f"{Path(a.clip).name}|start {a.start}|{len(pics)} frames|{f}x vvenc slow qp63|exhaustive")
           for f in a.targets}
    summary = {}
    for v in a.variants:
        s = summary[v] = {"time_vs_vvenc_slow": {f: sorted(p["time_vs_vvenc_slow"] for p in ps) for f, ps in runs[v].items()},
                          "plans": {f: sorted({p["plan"] for p in ps}) for f, ps in runs[v].items()}}
        if not a.plan_only and sum(x is not None for x in ref.values()) >= 2:
            for m in ("vmaf", "ms_ssim"):
                s[f"bd_rate_{m}_vs_exhaustive"] = [
                    bd_rate([(x["bits"], x[m]) for x in ref.values() if x], [(ps[i]["bits"], ps[i][m]) for f, ps in runs[v].items()
                                                                             if ref[f]]) for i in range(a.rounds)]
        print(f"{v}: {json.dumps(s)}", flush=True)
    if a.json:
        out = Path(a.json)
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(json.dumps({"args": vars(a), "vvenc_slow_s": t_vv, "vvenc_slow_qp63_bits": b63, "runs": runs,
                                   "summary": summary}, indent=1))
        tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
