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
    side exceeds 160, 7 above 96, else 3 (5 scales need a side larger than (win - 1) * 16)."""
    import torch
    from pytorch_msssim import ms_ssim

    side = min(a[0].height, a[0].width)
    win = 11 if side > 160 else 7 if side > 96 else 3
    vals: list[float] = []
    for k in range(0, len(a), 16):
        x = torch.from_numpy(np.stack([p.y for p in a[k:k + 16]]).astype(np.float32))[:, None]
        y = torch.from_numpy(np.stack([p.y for p in b[k:k + 16]]).astype(np.float32))[:, None]
        vals += ms_ssim(x, y, data_range=255, size_average=False, win_size=win).tolist()
    return vals


def psnr_y(a: list[Picture], b: list[Picture]) -> float:
    """Mean over frames of the luma PSNR (dB), a frame's PSNR capped at 100."""
    return float(np.mean(psnr_frames(a, b)))


def ms_ssim_y(a: list[Picture], b: list[Picture]) -> float:
    """Mean over frames of the luma MS-SSIM."""
    return float(np.mean(ms_ssim_frames(a, b)))
