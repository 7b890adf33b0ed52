"""Objective quality of decoded pictures against a source: luma PSNR and MS-SSIM.

Used by the encoder's rate control (:mod:`cmvc.encoder.rate_control`) and by the evaluation tools
(:mod:`cmvc.tools.metrics`); comparisons are made on the decoded Y' plane, with no colour conversion.
"""
from __future__ import annotations

import math

import numpy as np

from .picture import Picture


def psnr_frames(a: list[Picture], b: list[Picture]) -> list[float]:
    """Luma PSNR (dB) of each frame pair, capped at 100."""
    vals = []
    for x, y in zip(a, b):
        m = float(np.mean((x.y.astype(np.float64) - y.y.astype(np.float64)) ** 2))
        vals.append(100.0 if m == 0 else min(100.0, 10 * math.log10(255 ** 2 / m)))
    return vals


def ms_ssim_frames(a: list[Picture], b: list[Picture]) -> list[float]:
    """Luma MS-SSIM (pytorch-msssim) of each frame pair; the Gaussian window is 11 when the smaller
    side exceeds 160, 7 above 96, else 3 (5 scales need a side larger than (win - 1) * 16).  Pictures
    with a side of 32 or less are scored with each sample repeated f x f times, f the least that
    makes the smaller side larger than 32 (pytorch-msssim refuses them as they are)."""
    import torch
    from pytorch_msssim import ms_ssim

    side = min(a[0].height, a[0].width)
    f = 32 // side + 1 if side <= 32 else 1
    win = 11 if side * f > 160 else 7 if side * f > 96 else 3

    def luma(ps: list[Picture]):
        y = np.stack([p.y for p in ps]).astype(np.float32)
        return torch.from_numpy(y.repeat(f, axis=1).repeat(f, axis=2) if f > 1 else y)[:, None]

    vals: list[float] = []
    for k in range(0, len(a), 16):
        vals += ms_ssim(luma(a[k:k + 16]), luma(b[k:k + 16]), data_range=255, size_average=False, win_size=win).tolist()
    return vals


def psnr_y(a: list[Picture], b: list[Picture]) -> float:
    """Mean over frames of the luma PSNR (dB), a frame's PSNR capped at 100."""
    return float(np.mean(psnr_frames(a, b)))


def ms_ssim_y(a: list[Picture], b: list[Picture]) -> float:
    """Mean over frames of the luma MS-SSIM."""
    return float(np.mean(ms_ssim_frames(a, b)))
