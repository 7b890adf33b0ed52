"""Rate and quality of CMVC next to conventional codecs at their lowest rates, in one run.

    python benchmarks/rd_vs_peers.py [--frames 64] [--clips carphone_pristine.mp4 bikes.mp4] [--json out.json]
                                     [--rc-metric ms-ssim|psnr|vmaf] [--codecs av1 vvc] [--no-speed]
                                     [--rc-preset full|fast]

For each clip: vvenc QP 63 (and QP 52), x265 QP 51, SVT-AV1 CRF 63; CMVC (RIFE; keyframes AV1 by
default, or whichever of --codecs rate control prefers) rate-controlled (keyframe codec, coded size,
keyframe strategy, interval and CRF/QP chosen by cmvc.encoder.rate_control) to 0.5x the bits of vvenc QP 63,
to 0.75x the bits of SVT-AV1 CRF 63, and to the
bits of vvenc QP 63.  Prints bits, bpp, PSNR-Y, MS-SSIM, VMAF, the issue's targets with met/not met,
and RIFE decoding speed at 416x240 as a ratio to ffmpeg decoding the vvenc stream.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

from cmvc.decode import decode
from cmvc.encoder.pipeline import EncoderConfig, encode
from cmvc.keyframes import Colour
from cmvc.encoder.rate_control import RC_PRESETS, plan
from cmvc.resample import downsample
from cmvc.tools.demo import bundled_clip
from cmvc.tools.memory import retain_freed_memory
from cmvc.tools.metrics import all_metrics, ffmpeg_exe
from cmvc.tools.peers import run_peer, svtav1, vvenc, x265
from cmvc.tools.video import read_video, write_y4m


def cmvc_at(pics, info, target_bits, fit: str = "exhaustive", rc_metric: str = "ms-ssim",
            strategies: tuple[str, ...] | None = None, codecs: tuple[str, ...] | None = None,
            cache: dict | None = None, preset: str = "full"):
    """CMVC rate-controlled to *target_bits*: coded size, keyframe strategy, interval and CRF chosen by
    cmvc.encoder.rate_control (as `cmvc encode --bpp [--rc-metric vmaf] [--rc-preset P]` does; *strategies*
    and *codecs* default to the search preset's); *cache* shares trial encodes between the targets
    of one clip."""
    sp = RC_PRESETS[preset]
    colour = Colour(info.matrix_coefficients, info.full_range)
    cfg = EncoderConfig(fit=fit, vvc_preset=sp.vvc_preset)
    scorer = None
    if rc_metric == "vmaf":
        from cmvc.tools.metrics import vmaf_scorer as scorer
    p = plan(pics, cfg, target_bits, downscales=sp.downscales, strategies=strategies or sp.strategies,
             codecs=codecs or sp.codecs, colour=colour, metric=rc_metric, scorer=scorer, cache=cache,
             refine=sp.refine, shot_refine=sp.shot_refine)
    cfg = p.apply(cfg)
    res = encode(pics, cfg, fps=Fraction(info.fps), colour=colour)
    return 8 * len(res.data), res, cfg


def decode_speed(frames: int = 33) -> dict:
    """RIFE decoding frames/s at 416x240 (bigbuckbunny downscaled) vs ffmpeg's VVC decoder on vvenc QP 63."""
    pics, info = read_video(bundled_clip("bigbuckbunny.mp4"), max_frames=frames)
    pics = [downsample(p, 416, 240) for p in pics]
    out = {}
    for scale in (0, 1, 2):
        res = encode(pics, EncoderConfig(interval=8, quality=55, fit="none", rife_scale=scale), fps=Fraction(25))
        decode(res.data)  # warm-up (model load)
        best = float("inf")
        for _ in range(3):  # best of 3, as for ffmpeg below (which runs 3 times)
            t = time.perf_counter()
            decode(res.data)
            best = min(best, time.perf_counter() - t)
        out[f"cmvc_rife_scale{scale}_fps"] = frames / best
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "s.y4m")
        write_y4m(src, pics, Fraction(25))
        vvc = os.path.join(d, "o.266")
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", src, "-c:v", "libvvenc", "-qp", "63", "-pix_fmt",
                        "yuv420p10le", "-f", "vvc", vvc], check=True)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([ffmpeg_exe(), "-v", "error", "-threads", "2", "-f", "vvc", "-i", vvc, "-pix_fmt", "yuv420p",
                            "-f", "null", "-"], check=True)
            best = min(best, time.perf_counter() - t)
        out["ffmpeg_vvc_decode_fps"] = frames / best
    for scale in (0, 1, 2):
        out[f"ratio_rife_scale{scale}_to_vvc"] = out[f"cmvc_rife_scale{scale}_fps"] / out["ffmpeg_vvc_decode_fps"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--clips", nargs="+", default=["carphone_pristine.mp4", "bikes.mp4"])
    ap.add_argument("--json")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--rc-metric", choices=["ms-ssim", "psnr", "vmaf"], default="ms-ssim",
                    help="what CMVC's rate control maximises (as cmvc encode --rc-metric)")
    ap.add_argument("--rc-preset", choices=list(RC_PRESETS), default="full",
                    help="rate control's search (cmvc.encoder.rate_control.RC_PRESETS), as cmvc encode --rc-preset")
    ap.add_argument("--strategies", nargs="+", default=None,
                    help="keyframe strategies rate control compares (default: the preset's)")
    ap.add_argument("--codecs", nargs="+", default=None, help="keyframe codecs rate control compares (default: the preset's)")
    a = ap.parse_args()
    retain_freed_memory()  # as the cmvc command does (cmvc.tools.memory)
    os.environ.setdefault("SVT_LOG", "1")
    results = {"clips": {}}
    for clip in a.clips:
        pics, info = read_video(bundled_clip(clip) if not os.path.exists(clip) else clip, max_frames=a.frames)
        fps = Fraction(info.fps)
        px = info.width * info.height * len(pics)
        rows = {}
        cache: dict = {}
        for peer in (vvenc(63), vvenc(52), x265(51), svtav1(63)):
            bits, dec = run_peer(peer, pics, fps)
            rows[peer.name] = {"bits": bits, "bpp": bits / px, **all_metrics(dec, pics, fps)}
        for label, target in (("cmvc@0.5x-vvenc63", 0.5 * rows["vvenc-qp63"]["bits"]),
                              ("cmvc@0.75x-svtav1", 0.75 * rows["svtav1-crf63"]["bits"]),
                              ("cmvc@1.0x-vvenc63", rows["vvenc-qp63"]["bits"])):
            bits, res, cfg = cmvc_at(pics, info, target, rc_metric=a.rc_metric, cache=cache, preset=a.rc_preset,
                                     strategies=tuple(a.strategies) if a.strategies else None,
                                     codecs=tuple(a.codecs) if a.codecs else None)
            rows[label] = {"bits": bits, "bpp": bits / px, "interval": cfg.interval, "n_keyframes": cfg.keyframes, "crf": cfg.quality, "codec": cfg.codec,
                           "downscale": cfg.downscale, "strategy": cfg.strategy,
                           **all_metrics(res.decoded, pics, fps)}
        v, s = rows["vvenc-qp63"], rows["svtav1-crf63"]
        c1, c2 = rows["cmvc@0.5x-vvenc63"], rows["cmvc@0.75x-svtav1"]
        targets = {
            "bits<=0.5x vvenc63": c1["bits"] <= 0.5 * v["bits"] * 1.02,
            "VMAF>=vvenc63 at 0.5x": c1["vmaf"] >= v["vmaf"],
            "MS-SSIM>=vvenc63 at 0.5x": c1["ms_ssim"] >= v["ms_ssim"],
            "bits<=0.75x svtav1": c2["bits"] <= 0.75 * s["bits"] * 1.02,
            "VMAF>=svtav1 at 0.75x": c2["vmaf"] >= s["vmaf"],
        }
        results["clips"][clip] = {"rows": rows, "targets": targets}
        print(f"\n{clip}: {len(pics)} frames {info.width}x{info.height}")
        print(f"{'codec':<20} {'bits':>8} {'bpp':>9} {'PSNR-Y':>7} {'MS-SSIM':>8} {'VMAF':>6}  settings")
        for k, r in rows.items():
            extra = (f"{r['codec']} {r['strategy']} keyframes, downscale {r['downscale']}, {r['n_keyframes']} keyframes (interval {r['interval']}), "
                     f"{'qp' if r['codec'] == 'vvc' else 'crf'} {r['crf']}"
                     if "interval" in r else "")
            print(f"{k:<20} {r['bits']:>8} {r['bpp']:>9.5f} {r['psnr_y']:>7.2f} {r['ms_ssim']:>8.4f} {r['vmaf']:>6.2f}  {extra}")
        for k, ok in targets.items():
            print(f"  target {k}: {'met' if ok else 'NOT met'}")
    if not a.no_speed:
        sp = decode_speed()
        results["speed"] = sp
        print("\ndecoding at 416x240 on this machine:")
        for k, v in sp.items():
            print(f"  {k}: {v:.2f}")
        print("  target rife >= 30 frames/s: " + ", ".join(
            f"scale{s} {'met' if sp[f'cmvc_rife_scale{s}_fps'] >= 30 else 'NOT met'}" for s in (0, 1, 2)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
