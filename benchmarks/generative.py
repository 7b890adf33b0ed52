"""Generative modes: stream bits of TT2V and IT2V-diffusion (SD_LORA) next to the offline IT2V
profile (RIFE) and vvenc on the same clip, and seconds per frame for LoRA training and sampling.

    python benchmarks/generative.py [--sd-model DIR] [--t2v-model DIR] [--device cpu|cuda] [--frames 9]

Without model paths it builds tiny randomly initialised models (cmvc.generative.tiny): the bits and
the timing structure are real, the pictures are not meaningful.  The clip is carphone downscaled to
64x48 so that the tiny models run in seconds.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from cmvc.encoder.pipeline import Caption, EncoderConfig, encode
from cmvc.generative import PRESETS
from cmvc.registry import TextRole
from cmvc.resample import downsample
from cmvc.tools.demo import bundled_clip
from cmvc.tools.peers import run_peer, vvenc
from cmvc.tools.video import read_video


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sd-model")
    ap.add_argument("--t2v-model")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--preset", type=int, default=2)
    a = ap.parse_args()
    pics, info = read_video(bundled_clip(), max_frames=a.frames)
    pics = [downsample(p, 64, 48) for p in pics]
    fps = Fraction(info.fps)
    caps = [Caption(TextRole.GLOBAL, 0, len(pics) - 1, "a man talks in a car while the landscape passes by")]
    with tempfile.TemporaryDirectory() as d:
        if not (a.sd_model and a.t2v_model):
            from cmvc.generative import tiny

            print("no model paths given: using tiny randomly initialised models", file=sys.stderr)
        sd = a.sd_model or str(tiny.tiny_sd(Path(d)))
        t2v = a.t2v_model or str(tiny.tiny_t2v(Path(d)))
        rows = []
        r = encode(pics, EncoderConfig(mode="tt2v", t2v_model=t2v, preset=a.preset, captions=caps, device=a.device), fps=fps)
        rows.append(("TT2V (text only)", 8 * len(r.data)))
        t = time.perf_counter()
        r = encode(pics, EncoderConfig(profile="sd_lora", codec="av1", quality=55, keyframes=2, sd_model=sd, preset=a.preset,
                                       fit="gd", fit_iters=3, captions=caps, device=a.device), fps=fps)
        t_sd = time.perf_counter() - t
        rows.append(("IT2V SD_LORA (AV1 keyframes + w_i, w_l)", 8 * len(r.data)))
        r = encode(pics, EncoderConfig(profile="rife", codec="av1", quality=55, keyframes=2, captions=caps), fps=fps)
        rows.append(("IT2V RIFE (offline profile)", 8 * len(r.data)))
        bits, _ = run_peer(vvenc(63), pics, fps)
        rows.append(("VVC vvenc QP 63", bits))
        # timing of the two diffusion stages, measured separately
        import torch

        from cmvc.generative.sd_lora import SdLora

        m = SdLora(sd, a.device, seed=0, preset=a.preset)
        x = torch.rand(1, 3, 48, 64, device=a.device)
        x = torch.nn.functional.pad(x, (0, 0, 0, 16))
        t = time.perf_counter()
        m.train_lora("a", x, 0)
        m.train_lora("b", x, 1)
        t_train = (time.perf_counter() - t) / 2
        t = time.perf_counter()
        with torch.no_grad():
            for j in range(4):
                m.generate(x, x, 0.5, 0.5, j)
        t_sample = (time.perf_counter() - t) / 4
    print(f"{len(pics)} frames 64x48 (carphone), device {a.device}, preset {a.preset} {PRESETS[a.preset]}")
    for name, b in rows:
        print(f"{name:<42} {b:>7} bits  {b / (64 * 48 * len(pics)):.4f} bpp")
    print(f"LoRA training: {t_train:.2f} s per keyframe ({PRESETS[a.preset][0]} steps); "
          f"sampling: {t_sample:.2f} s per frame ({PRESETS[a.preset][1]} steps); SD_LORA encode incl. fit: {t_sd:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
