"""§7.5 RIFE: frame interpolation with RIFE v4.2x, time step t = 1 - w_i (tolerance-defined).

1. Convert both decoded keyframes to RGB in [0, 1] (§7.2.2, float), pad right/bottom by edge
   replication to multiples of 64 * 2^recon_param.
2. Run IFNet (weights: the declared RECONSTRUCTION model, rife-v4.25) with flow-estimation scale
   2^-recon_param at time step t for each inner frame: bidirectional flow F (4 channels) and mask M.
3. Warp the Y'CbCr planes, not RGB: Y = M * warp(Y0, F[0:2]) + (1 - M) * warp(Y1, F[2:4]);
   chroma with the flow and mask averaged over 2x2 blocks and the flow halved.
4. Round to 8 bits: floor(255 * x + 0.5) clipped to 0..255 on samples scaled to [0, 1].
Warping Y'CbCr keeps the keyframes' colour exactly: no RGB round trip touches the output.
The networks run in IEEE float32 (:mod:`cmvc.precision`, §11.1).  Variants measured and left out of
the format (flow at twice the resolution, a time step per region): docs/experiments.md §4.
"""
from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F

from ..colour import picture_to_rgb_float
from ..errors import error
from ..picture import Picture
from ..precision import ieee_float32
from ..zoo import RIFE_V4, weights_path
from .ifnet import PAD, IFNet, warp_pair

_NETS: dict[str, IFNet] = {}


def load_ifnet(name: str = RIFE_V4.name, sha256: str | None = None, device: str = "cpu") -> IFNet:
    """The IFNet with the zoo's weights, checked against *sha256* (the stream's declaration), on *device*
    (one copy per device)."""
    from safetensors.torch import load_file

    from ..zoo import ZOO

    if sha256 is not None and name in ZOO and ZOO[name].sha256 != sha256:
        raise error("E202", f"the stream declares {name} with SHA-256 {sha256}, the zoo has {ZOO[name].sha256}")
    key = name if device == "cpu" else f"{name}@{device}"
    if key not in _NETS:
        net = IFNet()
        net.load_state_dict(load_file(str(weights_path(name))), strict=True)
        net.eval()
        net.requires_grad_(False)  # inference only: the encoder's Eq. 7-8 fit differentiates w.r.t. t alone
        net.fold()
        net.to(device=device, memory_format=torch.channels_last)  # oneDNN convolutions run faster on NHWC weights
        _NETS[key] = net
    return _NETS[key]


def _planes_tensor(p: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(p.astype(np.float32) / 255.0)[None, None]


def _mean2(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``F.avg_pool2d(x, 2) * scale`` for a power of two *scale*, bit for bit (the same sums in the same
    order, ((a + b) + c) + d, and a power-of-two multiply), read through strided views: about 4x faster
    than avg_pool2d's NCHW kernel on a flow of 448x256."""
    s = (x[..., 0::2, 0::2] + x[..., 0::2, 1::2]) + x[..., 1::2, 0::2]
    return s.add_(x[..., 1::2, 1::2]).mul_(0.25 * scale)


SEGMENT_WINDOW = 4096  # time steps of a segment batched and de-duplicated together (iter_segment)
BATCH_PIXELS = 12 * 448 * 256  # padded samples per IFNet batch (time steps x picture): see batches()


def batches(n: int, pixels: int, budget: int = BATCH_PIXELS) -> list[int]:
    """Sizes of the batches that *n* time steps of a segment are reconstructed in: as few as a budget
    of padded samples allows, of near-equal size (with room for 8 frames, 9 go as 5 + 4, not 8 + 1:
    a batch of one frame runs the coarse blocks' convolutions on a few dozen pixels; docs/experiments.md
    §4.4)."""
    if n <= 0:
        return []
    most = max(1, budget // pixels)
    k = -(-n // most)
    return [n // k + (i < n % k) for i in range(k)]


def _area(x: torch.Tensor, h: int, w: int):
    """The positions of warp's *at* for the top-left h x w samples of x (None: all of x)."""
    if (h, w) == tuple(x.shape[2:]):
        return None
    return torch.arange(h, device=x.device), torch.arange(w, device=x.device)


def _to_u8(x: torch.Tensor) -> np.ndarray:
    """Step 4: Clip3(0, 255, floor(255 * x + 0.5)) in float32 (in place: x is not used afterwards)."""
    return x.mul_(255.0).add_(0.5).floor_().clamp_(0, 255).to(torch.uint8).contiguous().cpu().numpy()


class RifeReconstructor:
    name = "rife"

    def __init__(self, sh, models=None, net: IFNet | None = None, batch_pixels: int = BATCH_PIXELS,
                 device: str = "cpu") -> None:
        self.sh = sh
        self.scale_exp = sh.recon_param
        if net is None:
            entry = sh.models[sh.recon_model] if models is None else models[sh.recon_model]
            net = load_ifnet(entry.model_name, entry.sha256.hex(), device)
        self.net = net
        try:  # the tensors go where the network is
            self.device = next(net.parameters()).device
        except (AttributeError, StopIteration):
            self.device = torch.device("cpu")
        self.batch_pixels = batch_pixels  # torch's thread count is the caller's choice (the bench pool sets 1 per job)
        self._kept: list = []  # (picture, its _keyframe tuple) of the last two keyframes

    @torch.no_grad()
    def _keyframe(self, p: Picture):
        """Step 1 for one keyframe, with its IFNet features: padded R'G'B', padded Y and CbCr planes.
        The last two are kept (the picture object itself is held, so `is` cannot mistake a new one
        for it): each keyframe but the first and last is I1 of one segment and I0 of the next."""
        for q, v in self._kept:
            if q is p:
                return v
        h, w = p.height, p.width
        m = PAD << self.scale_exp
        ph, pw = -(-h // m) * m, -(-w // m) * m
        pad = (0, pw - w, 0, ph - h)
        mc, fr = self.sh.matrix_coefficients, self.sh.colour_flags.full_range_flag
        dev = self.device
        rgb = F.pad(torch.from_numpy(picture_to_rgb_float(p, mc, fr)).permute(2, 0, 1)[None].to(dev), pad, mode="replicate")
        y = F.pad(_planes_tensor(p.y).to(dev), pad, mode="replicate")
        cpad = (0, pw // 2 - p.u.shape[1], 0, ph // 2 - p.u.shape[0])
        u = F.pad(_planes_tensor(p.u).to(dev), cpad, mode="replicate")
        v = F.pad(_planes_tensor(p.v).to(dev), cpad, mode="replicate")
        with ieee_float32():
            feat = self.net.encode(rgb)
        out = (rgb, (y, torch.cat((u, v), 1)), feat)
        self._kept = [*self._kept[-1:], (p, out)]
        return out

    def _prep(self, i0: Picture, i1: Picture):
        (r0, p0, f0), (r1, p1, f1) = self._keyframe(i0), self._keyframe(i1)
        return r0, r1, p0, p1, (f0, f1)

    def float_frames(self, prep, t: torch.Tensor):
        """Y (N,H,W) and CbCr (N,2,H/2,W/2) in [0,1] at time steps t (differentiable in t)."""
        r0, r1, (y0, c0), (y1, c1), feats, (h, w, ch, cw) = prep
        n = len(t)
        t = t.to(r0.device)
        with ieee_float32():  # Table 11-1 holds for float32 only, whatever precision the host process set
            flow, mask = self.net.flow(r0.expand(n, -1, -1, -1), r1.expand(n, -1, -1, -1), t, 2.0 ** -self.scale_exp,
                                       feats=feats)
        # step 3 on the picture's area only (each warped sample is computed from its own grid point, so
        # the padding's samples, cropped in step 4, need not be made)
        flow, mask = flow[..., :2 * ch, :2 * cw], mask[..., :2 * ch, :2 * cw]
        m = torch.sigmoid(mask)
        a, b = warp_pair(y0, y1, flow, _area(y0, 2 * ch, 2 * cw))
        y = a * m + b * (1 - m)
        fc = _mean2(flow, 0.5)
        mc = _mean2(m)
        a, b = warp_pair(c0, c1, fc, _area(c0, ch, cw))
        c = a * mc + b * (1 - mc)
        return y[:, 0, :h, :w], c

    def prepare(self, i0: Picture, i1: Picture):
        return (*self._prep(i0, i1), (i0.height, i0.width, *i0.u.shape))

    def frames_at(self, i0: Picture, i1: Picture, ts: list[float]) -> list[Picture]:
        """Interpolated pictures at time steps *ts* (0 = i0, 1 = i1): :meth:`iter_frames_at` collected."""
        return list(self.iter_frames_at(i0, i1, ts))

    @torch.no_grad()
    def iter_frames_at(self, i0: Picture, i1: Picture, ts: list[float]):
        """The interpolated pictures at time steps *ts*, in order, each as soon as its batch is made.  A
        frame depends on its time step alone (both keyframes are fixed), so each distinct time step is
        reconstructed once, in order of first appearance, in batches of :func:`batches`; frames that
        repeat one get copies of its picture, which is kept until its last repetition."""
        if not ts:
            return
        uniq = list(dict.fromkeys(ts))
        last = {t: j for j, t in enumerate(ts)}
        prep = self.prepare(i0, i1)
        r0 = prep[0]
        ready: dict[float, Picture] = {}
        seen: set[float] = set()
        k = j = 0
        for size in batches(len(uniq), r0.shape[2] * r0.shape[3], self.batch_pixels):
            y, c = self.float_frames(prep, torch.tensor(uniq[k: k + size], dtype=torch.float32))
            y8, c8 = _to_u8(y), _to_u8(c)
            del y, c
            for i in range(len(y8)):
                ready[uniq[k + i]] = Picture(y8[i], c8[i, 0], c8[i, 1])
            k += size
            while j < len(ts) and ts[j] in ready:  # the first frame at a time step takes its picture, later ones copies
                t = ts[j]
                p = ready[t]
                if last[t] == j:
                    del ready[t]
                yield p if t not in seen else Picture(p.y.copy(), p.u.copy(), p.v.copy())
                seen.add(t)
                j += 1

    def segment(self, i0: Picture, i1: Picture, q_i: list[int], q_l: list[int] | None, w_bits: int) -> list[Picture]:
        return list(self.iter_segment(i0, i1, q_i, q_l, w_bits))

    def iter_segment(self, i0: Picture, i1: Picture, q_i, q_l, w_bits: int):
        """The segment's frames in order, a batch at a time (the streaming decoder's use), its time steps
        taken SEGMENT_WINDOW at a time so that no list grows with the segment."""
        top = 1 << w_bits
        for a in range(0, len(q_i), SEGMENT_WINDOW):
            yield from self.iter_frames_at(i0, i1, [1.0 - q / top for q in q_i[a: a + SEGMENT_WINDOW]])
