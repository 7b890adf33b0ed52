"""RIFE v4.2x IFNet (Huang et al., "Real-Time Intermediate Flow Estimation", ECCV 2022; Practical-RIFE).

Written for the key layout of the rife-v4.25 weights in :mod:`cmvc.zoo`: a 4-channel feature head
``encode.cnn0..3`` and five flow blocks ``block0..4`` (widths 192, 128, 96, 64, 32) applied coarse
to fine at scales 16, 8, 4, 2, 1.  :meth:`IFNet.flow` returns the bidirectional flow and the blend
mask for time step t, so that callers can warp any planes (we warp Y'CbCr, not RGB).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WIDTHS = (192, 128, 96, 64, 32)
SCALES = (16, 8, 4, 2, 1)
FEAT = 4  # channels of the feature head
PAD = 64  # inputs are padded to multiples of this


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2, True))


class Head(nn.Module):
    """Per-image features at full resolution."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn0 = nn.Conv2d(3, 16, 3, 2, 1)
        self.cnn1 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(16, FEAT, 4, 2, 1)
        self.act = nn.LeakyReLU(0.2, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.cnn0(x))
        x = self.act(self.cnn1(x))
        return self.cnn3(self.act(self.cnn2(x)))


class ResConv(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))
        self.act = nn.LeakyReLU(0.2, True)
        self.folded = False  # beta multiplied into conv (see fold)

    @torch.no_grad()
    def fold(self) -> None:
        """Multiply beta into the convolution's weights and bias and set beta to 1: the same function
        without a per-channel multiply, which on NHWC tensors costs about as much as the convolution."""
        self.conv.weight.mul_(self.beta.view(-1, 1, 1, 1))
        self.conv.bias.mul_(self.beta.view(-1))
        self.beta.fill_(1.0)
        self.folded = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if not self.folded:
            y = y * self.beta
        return self.act(y.add_(x))


class IFBlock(nn.Module):
    """One refinement level: predicts a flow update (4), a mask (1) and features (8)."""

    def __init__(self, cin: int, c: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv(cin, c // 2, 2), _conv(c // 2, c, 2))
        self.convblock = nn.Sequential(*[ResConv(c) for _ in range(8)])
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * 13, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, parts: list[torch.Tensor], flow: torch.Tensor | None, scale: float):
        """*parts* are the input's channel groups; resampling each before concatenating gives the same
        values as resampling their concatenation (bilinear resampling works channel by channel) and
        moves far less memory.  A group expanded from one batch item is resampled once."""
        if scale != 1:
            parts = [_down(p, scale) for p in parts]
        if flow is not None:
            if scale != 1:
                flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False) / scale
            parts = [*parts, flow]
        n = max(p.shape[0] for p in parts)
        parts = [p.expand(n, -1, -1, -1) for p in parts]
        if torch.is_grad_enabled() and any(p.requires_grad for p in parts):  # cat(out=) has no autograd
            x = torch.cat(parts, 1).contiguous(memory_format=torch.channels_last)
        else:
            h, w = parts[0].shape[2:]
            x = torch.empty((n, sum(p.shape[1] for p in parts), h, w), dtype=parts[0].dtype,
                            device=parts[0].device, memory_format=torch.channels_last)  # the convolutions' layout
            torch.cat(parts, 1, out=x)
        tmp = self.lastconv(self.convblock(self.conv0(x)))
        if scale != 1:
            tmp = F.interpolate(tmp, scale_factor=scale, mode="bilinear", align_corners=False)
        return tmp[:, :4] * scale, tmp[:, 4:5], tmp[:, 5:]


def _down(x: torch.Tensor, scale: float) -> torch.Tensor:
    if x.shape[0] > 1 and x.stride(0) == 0:
        return _down(x[:1], scale).expand(x.shape[0], -1, -1, -1)
    return F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)


_GRIDS: dict = {}


def _grid(h: int, w: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    key = (h, w, dtype, device)
    if key not in _GRIDS:
        gy, gx = torch.meshgrid(torch.linspace(-1.0, 1.0, h, dtype=dtype, device=device),
                                torch.linspace(-1.0, 1.0, w, dtype=dtype, device=device), indexing="ij")
        norm = torch.tensor([(w - 1.0) / 2.0, (h - 1.0) / 2.0], dtype=dtype, device=device).view(1, 2, 1, 1)
        _GRIDS[key] = (torch.stack((gx, gy), 0).unsqueeze(0), norm)
    return _GRIDS[key]


def warp_pair(x0: torch.Tensor, x1: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``warp(x0, flow[:, :2])`` and ``warp(x1, flow[:, 2:4])`` in one grid_sample call (the same values:
    every output sample depends on its own batch item only)."""
    n = flow.shape[0]
    y = warp(torch.cat((x0.expand(n, -1, -1, -1), x1.expand(n, -1, -1, -1)), 0),
             torch.cat((flow[:, :2], flow[:, 2:4]), 0))
    return y[:n], y[n:]


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: sample x at (position + flow), bilinear, border padding."""
    grid, norm = _grid(flow.shape[2], flow.shape[3], flow.dtype, flow.device)
    g = (grid + flow / norm).permute(0, 2, 3, 1)
    return F.grid_sample(x, g, mode="bilinear", padding_mode="border", align_corners=True)


class IFNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block0 = IFBlock(3 + 3 + FEAT + FEAT + 1, WIDTHS[0])
        for i in range(1, 5):
            setattr(self, f"block{i}", IFBlock(6 + 2 * FEAT + 1 + 1 + 8 + 4, WIDTHS[i]))
        self.encode = Head()

    def fold(self) -> "IFNet":
        """Fold every ResConv's beta into its convolution (after loading weights; see ResConv.fold)."""
        for m in self.modules():
            if isinstance(m, ResConv):
                m.fold()
        return self

    def flow(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor, scale: float = 1.0):
        """Flow (N,4,H,W: to img0, to img1), mask logits (N,1,H,W) for time steps t (N,) in [0,1].

        img0, img1: (N,3,H,W) RGB in [0,1], H and W multiples of 64 / scale.
        """
        n, _, h, w = img0.shape
        ts = t.view(-1, 1, 1, 1).to(img0.dtype).expand(n, 1, h, w)
        if n > 1 and img0.stride(0) == 0 and img1.stride(0) == 0:  # one keyframe pair for every time step
            f0 = self.encode(img0[:1]).expand(n, -1, -1, -1)
            f1 = self.encode(img1[:1]).expand(n, -1, -1, -1)
        else:
            f0, f1 = self.encode(img0), self.encode(img1)
        flow = mask = feat = None
        # images and features are warped by the same flow before each refinement: one call for all four
        shared = n > 1 and img0.stride(0) == 0 and img1.stride(0) == 0
        x0, x1 = (torch.cat((img0[:1], f0[:1]), 1), torch.cat((img1[:1], f1[:1]), 1)) if shared else \
            (torch.cat((img0, f0), 1), torch.cat((img1, f1), 1))
        for i, s in enumerate(SCALES):
            blk = getattr(self, f"block{i}")
            s = s / scale
            if flow is None:
                flow, mask, feat = blk([img0, img1, f0, f1, ts], None, s)
            else:
                w0, w1 = warp_pair(x0, x1, flow)
                fd, mask, feat = blk([w0[:, :3], w1[:, :3], w0[:, 3:], w1[:, 3:], ts, mask, feat], flow, s)
                flow = flow + fd
        return flow, mask

    def forward(self, img0, img1, t, scale: float = 1.0):
        flow, mask = self.flow(img0, img1, t, scale)
        m = torch.sigmoid(mask)
        return warp(img0, flow[:, :2]) * m + warp(img1, flow[:, 2:4]) * (1 - m)
