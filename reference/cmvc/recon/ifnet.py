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


CAT_ROWS = 16  # rows per tile of _cat_rows


def _cat_rows(parts: list[torch.Tensor], x: torch.Tensor) -> None:
    """``torch.cat(parts, 1, out=x)`` into channels-last *x*, a band of rows at a time.  Each part writes
    a few channels of every pixel, so one cat pass over a large picture rewrites every cache line of
    *x* once per part; a band of CAT_ROWS rows stays in cache while all parts are written (docs/experiments.md
    §4.4).  Copies only: the same values."""
    h = x.shape[2]
    if h <= CAT_ROWS:
        torch.cat(parts, 1, out=x)
        return
    for r in range(0, h, CAT_ROWS):
        torch.cat([p[:, :, r:r + CAT_ROWS] for p in parts], 1, out=x[:, :, r:r + CAT_ROWS])


class IFBlock(nn.Module):
    """One refinement level: predicts a flow update (4), a mask (1) and features (8)."""

    def __init__(self, cin: int, c: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv(cin, c // 2, 2), _conv(c // 2, c, 2))
        self.convblock = nn.Sequential(*[ResConv(c) for _ in range(8)])
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * 13, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, parts: list[torch.Tensor], out: int = 13, shuffle: bool = True) -> torch.Tensor:
        """The block's first *out* of 13 output channels (flow update 4, mask 1, features 8) at its own
        resolution, from its input's channel groups *parts*, already at that resolution (a group of
        batch 1 is broadcast over the batch).  Each output channel is computed on its own, so the
        last block, whose features nobody reads, computes only flow and mask (out=5); with
        shuffle=False its output is returned before the final PixelShuffle (see _add_shuffled)."""
        n = max(p.shape[0] for p in parts)
        parts = [p.expand(n, -1, -1, -1) for p in parts]
        if torch.is_grad_enabled() and any(p.requires_grad for p in parts):  # cat(out=) has no autograd
            x = torch.cat(parts, 1).contiguous(memory_format=torch.channels_last)
        else:
            h, w = parts[0].shape[2:]
            x = torch.empty((n, sum(p.shape[1] for p in parts), h, w), dtype=parts[0].dtype,
                            device=parts[0].device, memory_format=torch.channels_last)  # the convolutions' layout
            _cat_rows(parts, x)
        y = self.convblock(self.conv0(x))
        if out == 13:
            return self.lastconv(y)
        ct, k = self.lastconv[0], 4 * out  # PixelShuffle(2) makes channel c of input channels 4c..4c+3
        y = F.conv_transpose2d(y, ct.weight[:, :k], ct.bias[:k], stride=2, padding=1)
        return F.pixel_shuffle(y, 2) if shuffle else y


def _add_shuffled(base: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``base + pixel_shuffle(y, 2)[:, :4]`` and ``pixel_shuffle(y, 2)[:, 4:5]`` for the last block's
    unshuffled output *y* (N, 20, H/2, W/2): the shuffle is a copy, so reading y through a view in
    the add gives the same values without writing the shuffled tensor (channel 4c + 2i + j of y is
    channel c at row offset i, column offset j)."""
    n, k, h2, w2 = y.shape
    y6 = y.permute(0, 2, 3, 1).reshape(n, h2, w2, k // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)  # n, c, y, i, x, j
    flow = (base.reshape(n, 4, h2, 2, w2, 2) + y6[:, :4]).reshape(n, 4, 2 * h2, 2 * w2)
    return flow, y6[:, 4:5].reshape(n, 1, 2 * h2, 2 * w2)


def _down(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Bilinear downsampling by *scale* (align_corners=False); a batch expanded from one item is
    resampled once."""
    if scale == 1:
        return x
    if x.shape[0] > 1 and x.stride(0) == 0:
        return _down(x[:1], scale).expand(x.shape[0], -1, -1, -1)
    return F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)


def _times(x: torch.Tensor, s: float) -> torch.Tensor:
    """x * s for a power of two s (exact: no rounding), and x itself for s = 1, not a copy.  The flow
    blocks scale their coarse outputs before upsampling them: bilinear interpolation commutes exactly
    with such a scaling, so ``_up(_times(x, s), s) == _up(x, s) * s`` bit for bit, at a fraction of
    the work; x * (1/s) is x / s bit for bit."""
    return x if s == 1 else x * s


def _up(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Bilinear upsampling by *scale*; a slice of a channels-last tensor (a block's flow or mask) is
    copied to a contiguous one first, which torch upsamples about twice as fast (the same values)."""
    if scale == 1:
        return x
    if not x.is_contiguous():
        x = x.contiguous()
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


def _read_by_down(n: int, scale: float, device: torch.device | str = "cpu") -> torch.Tensor | None:
    """The full-resolution indices that bilinear downsampling by *scale* reads (align_corners=False,
    even integer scale s dividing n: output sample Y lies half-way between s*Y + s/2 - 1 and s*Y + s/2),
    interleaved; None when that is every index (s <= 2) or the shortcut does not apply."""
    s = int(scale)
    if s != scale or s <= 2 or s % 2 or n % s:
        return None
    y = torch.arange(n // s, device=device)
    return torch.stack((s * y + s // 2 - 1, s * y + s // 2), 1).reshape(-1)


def _up_at(x: torch.Tensor, scale: float, rows: torch.Tensor | None, cols: torch.Tensor | None) -> torch.Tensor:
    """``_up(x, scale)`` evaluated at the full-resolution *rows* x *cols* only (None: everywhere), with
    the arithmetic of torch's bilinear upsampling: source position (i + 0.5) / scale - 0.5 clamped at
    0, weights (1 - l, l), columns interpolated first, then rows."""
    if rows is None or cols is None:
        return _up(x, scale)
    if scale == 1:
        return x.index_select(2, rows).index_select(3, cols)

    def taps(idx: torch.Tensor, n: int):
        src = ((idx.to(x.dtype) + 0.5) * (1.0 / scale) - 0.5).clamp(min=0)
        i0 = src.long()
        lam = src - i0.to(x.dtype)
        return i0, (i0 + 1).clamp(max=n - 1), lam

    c0, c1, lc = taps(cols, x.shape[3])
    xc = x.index_select(3, c0) * (1 - lc) + x.index_select(3, c1) * lc
    r0, r1, lr = taps(rows, x.shape[2])
    lr = lr.view(-1, 1)
    return xc.index_select(2, r0) * (1 - lr) + xc.index_select(2, r1) * lr


_GRIDS: dict = {}


def _grid(h: int, w: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    key = (h, w, dtype, device)
    if key not in _GRIDS:
        gy, gx = torch.meshgrid(torch.linspace(-1.0, 1.0, h, dtype=dtype, device=device),
                                torch.linspace(-1.0, 1.0, w, dtype=dtype, device=device), indexing="ij")
        norm = torch.tensor([(w - 1.0) / 2.0, (h - 1.0) / 2.0], dtype=dtype, device=device).view(1, 2, 1, 1)
        _GRIDS[key] = (torch.stack((gx, gy), 0).unsqueeze(0), norm)
    return _GRIDS[key]


Positions = tuple[torch.Tensor, torch.Tensor] | None  # (rows, cols) of the full-resolution grid; None: all


def _sampling_grid(x: torch.Tensor, flow: torch.Tensor, at: Positions) -> torch.Tensor:
    """grid_sample's (N, h, w, 2) grid for a backward warp of x by *flow*, whose samples stand for the
    full-resolution positions *at*."""
    grid, norm = _grid(x.shape[2], x.shape[3], flow.dtype, flow.device)
    if at is not None:
        grid = grid.index_select(2, at[0]).index_select(3, at[1])
    return (grid + flow / norm).permute(0, 2, 3, 1)


def warp(x: torch.Tensor, flow: torch.Tensor, at: Positions = None) -> torch.Tensor:
    """Backward warp: sample x at (position + flow), bilinear, border padding; with *at*, only at those
    full-resolution positions (flow then holds their values)."""
    return F.grid_sample(x, _sampling_grid(x, flow, at), mode="bilinear", padding_mode="border", align_corners=True)


def warp_pair(x0: torch.Tensor, x1: torch.Tensor, flow: torch.Tensor,
              at: Positions = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``warp(x0, flow[:, :2], at)`` and ``warp(x1, flow[:, 2:4], at)`` in one grid_sample call (the same
    values: grid_sample computes every output sample from its own grid point).  Keyframes of batch 1
    are not copied for each time step: the time steps' grids are stacked along the height instead."""
    n = flow.shape[0]
    if x0.shape[0] == 1 and x1.shape[0] == 1 and n > 1:
        g = torch.cat((_sampling_grid(x0, flow[:, :2], at).reshape(1, -1, flow.shape[3], 2),
                       _sampling_grid(x1, flow[:, 2:4], at).reshape(1, -1, flow.shape[3], 2)), 0)
        y = F.grid_sample(torch.cat((x0, x1), 0), g, mode="bilinear", padding_mode="border", align_corners=True)
        y = y.view(2, x0.shape[1], n, flow.shape[2], flow.shape[3]).transpose(1, 2)
        return y[0], y[1]
    y = warp(torch.cat((x0.expand(n, -1, -1, -1), x1.expand(n, -1, -1, -1)), 0),
             torch.cat((flow[:, :2], flow[:, 2:4]), 0), at)
    return y[:n], y[n:]


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

    def flow_literal(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor, scale: float = 1.0):
        """§7.5 step 2 as Practical-RIFE writes it: each block's output upsampled to full resolution,
        images and features warped at full resolution, then downsampled for the next block.
        :meth:`flow` computes the same values with less work; the tests compare the two."""
        n, _, h, w = img0.shape
        ts = t.view(-1, 1, 1, 1).to(img0.dtype).expand(n, 1, h, w)
        f0, f1 = self.encode(img0), self.encode(img1)
        flow = mask = feat = None
        for i, s in enumerate(SCALES):
            blk = getattr(self, f"block{i}")
            s = s / scale
            if flow is None:
                tmp = blk([_down(p, s) for p in (img0, img1, f0, f1, ts)])
            else:
                w = [warp(img0, flow[:, :2]), warp(img1, flow[:, 2:4]), warp(f0, flow[:, :2]), warp(f1, flow[:, 2:4])]
                tmp = blk([_down(p, s) for p in (*w, ts, mask, feat)] + [_down(flow, s) / s])
            tmp = _up(tmp, s)
            fd, mask, feat = tmp[:, :4] * s, tmp[:, 4:5], tmp[:, 5:]
            flow = fd if flow is None else flow + fd
        return flow, mask

    def flow(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor, scale: float = 1.0,
             feats: tuple[torch.Tensor, torch.Tensor] | None = None):
        """Flow (N,4,H,W: to img0, to img1), mask logits (N,1,H,W) for time steps t (N,) in [0,1].

        img0, img1: (N,3,H,W) RGB in [0,1], H and W multiples of 64 / scale; a keyframe expanded from
        one item (stride 0) is processed once.  *feats*: the feature head's outputs for img0 and img1
        (batch 1), when the caller keeps them (a keyframe serves two segments).  The values of :meth:`flow_literal`, computed with less
        work: a block at scale s >= 4 reads its full-resolution inputs only at the two rows and columns
        per s x s cell that bilinear downsampling reads, so the images are warped, and the earlier
        blocks' outputs upsampled, at those positions only (a quarter of the samples at s = 4, a
        sixteenth at s = 8, ...); full-resolution flow and mask are made once, at the end.  The mask
        and features that a block at scale s reads from the block before (scale 2s) are that block's
        output upsampled by 2: downsampling by s reads two positions of the upsampling by 2s that lie
        in one interpolation interval, and their mean is upsampling by 2's position (float rounding).
        """
        n, _, h, w = img0.shape
        m = 64 / scale
        if h % m or w % m:
            raise ValueError(f"IFNet input {w}x{h} is not a multiple of {m:g} (64 / scale) in both dimensions")
        if n > 1 and img0.stride(0) == 0 and img1.stride(0) == 0:  # one keyframe pair for every time step
            img0, img1 = img0[:1], img1[:1]
        f0, f1 = feats if feats is not None else (self.encode(img0), self.encode(img1))
        x0, x1 = (torch.cat(p, 1).contiguous(memory_format=torch.channels_last) for p in ((img0, f0), (img1, f1)))
        tv = t.view(-1, 1, 1, 1).to(img0.dtype)
        outs: list[tuple[torch.Tensor, float]] = []  # each block's output at its resolution, and its scale
        full: list = [0, None]  # running full-resolution flow: blocks summed, sum

        def flow_at(at: Positions) -> torch.Tensor:
            if at is None:
                for tmp, s in outs[full[0]:]:
                    fd = _up(_times(tmp[:, :4], s), s)
                    full[1] = fd if full[1] is None else full[1] + fd
                full[0] = len(outs)
                return full[1]
            acc = None
            for tmp, s in outs:
                fd = _up_at(_times(tmp[:, :4], s), s, *at)
                acc = fd if acc is None else acc + fd
            return acc

        for i, s in enumerate(SCALES):
            blk = getattr(self, f"block{i}")
            s = s / scale
            ts = tv.expand(n, 1, round(h / s), round(w / s))  # a constant plane: its downsampling is itself
            if not outs:
                tmp = blk([_down(img0, s), _down(img1, s), _down(f0, s), _down(f1, s), ts])
            else:
                rows, cols = _read_by_down(h, s, img0.device), _read_by_down(w, s, img0.device)
                at = None if rows is None or cols is None else (rows, cols)
                fl = flow_at(at)
                w0, w1 = warp_pair(x0, x1, fl, at)
                ptmp, ps = outs[-1]
                down = (lambda z: _down(z, 2)) if at is not None else (lambda z: _down(z, s))
                w0, w1 = down(w0), down(w1)
                if at is not None or s == 2:  # down_s(up_2s(m)) is up2(m), to float rounding (see flow)
                    mf = _up(ptmp[:, 4:], ps / s)
                else:
                    mf = _down(_up(ptmp[:, 4:], ps), s)
                parts = [w0[:, :3], w1[:, :3], w0[:, 3:], w1[:, 3:], ts, mf[:, :1], mf[:, 1:], _times(down(fl), 1 / s)]
                if i == len(SCALES) - 1 and s == 1:  # full-resolution flow: add the last block unshuffled
                    return _add_shuffled(fl, blk(parts, 5, shuffle=False))
                tmp = blk(parts, 5 if i == len(SCALES) - 1 else 13)
            outs.append((tmp, s))
        tmp, s = outs[-1]
        return flow_at(None), _up(tmp[:, 4:5], s)

    def forward(self, img0, img1, t, scale: float = 1.0):
        flow, mask = self.flow(img0, img1, t, scale)
        m = torch.sigmoid(mask)
        return warp(img0, flow[:, :2]) * m + warp(img1, flow[:, 2:4]) * (1 - m)
