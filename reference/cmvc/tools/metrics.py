"""Quality metrics on 8-bit 4:2:0 pictures: PSNR, MS-SSIM (pytorch-msssim) and VMAF (ffmpeg's libvmaf).

All comparisons are made in Y'CbCr as decoded: no colour conversion stands between a codec's output
and the metric (VMAF reads the Y4M files directly).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from fractions import Fraction

import numpy as np

from ..picture import Picture


def psnr_y(a: list[Picture], b: list[Picture]) -> float:
    """Mean over frames of the luma PSNR (dB), a frame's PSNR capped at 100."""
    vals = []
    for x, y in zip(a, b):
        m = float(np.mean((x.y.astype(np.float64) - y.y.astype(np.float64)) ** 2))
        vals.append(100.0 if m == 0 else min(100.0, 10 * math.log10(255 ** 2 / m)))
    return float(np.mean(vals))


def ms_ssim_y(a: list[Picture], b: list[Picture]) -> float:
    """Mean MS-SSIM of luma; the Gaussian window is 11 when the smaller side exceeds 160, else 7
    (5 scales need a side larger than (win - 1) * 16)."""
    import torch
    from pytorch_msssim import ms_ssim

    side = min(a[0].height, a[0].width)
    win = 11 if side > 160 else 7 if side > 96 else 3
    vals = []
    for k in range(0, len(a), 16):
        x = torch.from_numpy(np.stack([p.y for p in a[k:k + 16]]).astype(np.float32))[:, None]
        y = torch.from_numpy(np.stack([p.y for p in b[k:k + 16]]).astype(np.float32))[:, None]
        vals += ms_ssim(x, y, data_range=255, size_average=False, win_size=win).tolist()
    return float(np.mean(vals))


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def vmaf(dist_y4m: str, ref_y4m: str, threads: int | None = None) -> float:
    """Pooled mean VMAF (default model) of two Y4M files, frames paired by index."""
    threads = threads or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "vmaf.json")
        graph = (f"[0:v]setpts=N/(25*TB)[d];[1:v]setpts=N/(25*TB)[r];"
                 f"[d][r]libvmaf=log_path={log}:log_fmt=json:n_threads={threads}")
        p = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", dist_y4m, "-i", ref_y4m,
                            "-lavfi", graph, "-f", "null", "-"], capture_output=True, text=True)
        if p.returncode:
            from ..errors import error

            raise error("E203", f"ffmpeg libvmaf failed: {p.stderr.strip()[-300:]}")
        with open(log) as f:
            return float(json.load(f)["pooled_metrics"]["vmaf"]["mean"])


def all_metrics(dist: list[Picture], ref: list[Picture], fps: Fraction = Fraction(25), with_vmaf: bool = True) -> dict:
    from .video import write_y4m

    out = {"psnr_y": psnr_y(dist, ref), "ms_ssim": ms_ssim_y(dist, ref)}
    if with_vmaf:
        with tempfile.TemporaryDirectory() as d:
            write_y4m(os.path.join(d, "d.y4m"), dist, fps)
            write_y4m(os.path.join(d, "r.y4m"), ref, fps)
            out["vmaf"] = vmaf(os.path.join(d, "d.y4m"), os.path.join(d, "r.y4m"))
    return out
