"""A/B of vvenc's parameters for VVC keyframes under the default rate control, alternating in one process.

    python benchmarks/vvenc_params_ab.py --clip bikes.mp4 [--start 0] [--frames 64] [--targets 0.5 1 2]
        [--params GOPSize=16:HrdParametersPresent=0 GOPSize=16:HrdParametersPresent=0:BIM=0] [--json out.jsonl]

For each target f x the bits of vvenc slow QP 63 on the clip (as ``encoder_speed.py``), each
``--params`` (``-vvenc-params`` of every VVC keyframe encode: trial encodes and the encode; the first
is ``cmvc.keyframes.vvc.PARAMS``) in turn plans with the default preset and encodes, as
``encoder_speed.cmvc_point``: one JSON line per point (plan, bits / budget, VMAF, MS-SSIM, time x vvenc
slow).  The remembered trial encodes are cleared between variants.  Not a timed test: one run.
Measured so: docs/encoder.md, "Not taken: vvenc's block importance mapping off".
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import encoder_speed as es  # noqa: E402


def main(argv=None) -> int:
    import torch

    import cmvc.keyframes.vvc as vvc
    from cmvc.encoder import memo
    from cmvc.encoder.chunking import THREADS
    from cmvc.tools.demo import bundled_clip
    from cmvc.tools.video import read_video

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", required=True)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--targets", type=float, nargs="+", default=[0.5, 1, 2])
    ap.add_argument("--params", nargs="+", default=[vvc.PARAMS, vvc.PARAMS + ":BIM=0"])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    torch.set_num_threads(THREADS)
    pics, info = read_video(bundled_clip(a.clip), max_frames=a.start + a.frames)
    pics = pics[a.start:]
    b63, tvv = es.vvenc_slow(pics, Fraction(info.fps))
    orig = vvc.encode
    try:
        for f in a.targets:
            for p in a.params:
                vvc.encode = lambda *args, _p=p, **kw: orig(*args, **{**kw, "params": _p})
                memo._MEMO.clear()
                r = es.cmvc_point(pics, info, f * b63, "model")
                rec = {"params": p, "clip": a.clip, "start": a.start, "frames": a.frames, "f": f,
                       "vvenc_s": round(tvv, 2), "x": round(r["seconds"] / tvv, 2), "s": round(r["seconds"], 1),
                       "ratio": round(r["bits_vs_budget"], 3), "vmaf": round(r["vmaf"], 2),
                       "ms_ssim": round(r["ms_ssim"], 4), "bits": r["bits"], "plan": r["plan"],
                       "trials": r["trial_encodes"], "load": os.getloadavg()[0]}
                print(json.dumps(rec), flush=True)
                if a.json:
                    with open(a.json, "a") as fh:
                        fh.write(json.dumps(rec) + "\n")
    finally:
        vvc.encode = orig
    return 0


if __name__ == "__main__":
    sys.exit(main())
