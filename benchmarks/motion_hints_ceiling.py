"""Ceiling of motion hints on one segment of bikes (frames 30..46; the encoder places keyframes
0, 15, 16 of it at interval 8, AV1 CRF 63): per-frame PSNR-Y of RIFE as decoded, with a per-frame
16x16-block velocity search of +-64 pixels, and with free 4x4-block corrections of the 4 flow channels
(and of the mask logit) fitted by Adam (150 steps), at no bit cost.  docs/motion.md §2.

    PYTHONPATH=reference python benchmarks/motion_hints_ceiling.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fractions import Fraction  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import motion_hints as mh  # noqa: E402
from cmvc.decode import decode, segment_weights  # noqa: E402
from cmvc.encoder import EncoderConfig, encode  # noqa: E402
from cmvc.keyframes import Colour  # noqa: E402
from cmvc.recon.rife import RifeReconstructor  # noqa: E402
from cmvc.tools.demo import bundled_clip  # noqa: E402
from cmvc.tools.video import read_video  # noqa: E402

torch.set_num_threads(2)
pics, info = read_video(bundled_clip("bikes.mp4"), max_frames=17, start=30)
net = mh.load_ifnet()
res = encode(pics, EncoderConfig(interval=8, quality=63, fit="none"), fps=Fraction(info.fps), colour=Colour(info.matrix_coefficients, info.full_range), net=net)
d = decode(res.data, net=net)
kf = res.keyframes
print(kf)
rec = RifeReconstructor(d.stream.sequence_header, net=net)
a, b = kf[0], kf[1]
inner = list(range(a + 1, b))
nn = len(inner)
q_i, _, wb = segment_weights(d.stream, 0, nn)
ts = torch.tensor([1.0 - q / (1 << wb) for q in q_i])
prep = rec.prepare(d.pictures[a], d.pictures[b])
flow, m = mh.base_flow(rec, prep, ts)
truth = [pics[k] for k in inner]
ty, tc = mh.targets(truth)


def ps(y):
    return [float(-10 * np.log10(((y[i] - ty[i]) ** 2).mean())) for i in range(len(y))]


with torch.no_grad():
    y, c = mh.render(prep, flow, m, None)
print('base', np.round(ps(y), 2))
# keyframe psnr
print('kf psnr', [round(float(10*np.log10(255**2/np.mean((d.pictures[k].y.astype(float)-pics[k].y)**2))),2) for k in (a,b)])
for label, blk, rng, step in (("search64", 16, 64, 8),):
    mh.BLOCK = blk
    t0 = time.time()
    dd = mh.block_search(prep, flow, m, ts, ty, per_frame=True, rng=rng, step=step)
    with torch.no_grad():
        y, c = mh.render(prep, flow, m, mh.split(mh.upsample(dd, *flow.shape[2:]), ts))
    print(label, np.round(ps(y), 2), time.time()-t0)
# free per-pixel 4-channel flow correction + mask logit correction, GD from zero at 4x4 blocks
mh.BLOCK = 4
h2, w2 = flow.shape[2:]
for use_mask in (False, True):
    corr = torch.zeros(nn, 4, -(-h2//4), -(-w2//4), requires_grad=True)
    mk = torch.zeros(nn, 1, -(-h2//4), -(-w2//4), requires_grad=True)
    opt = torch.optim.Adam([corr, mk] if use_mask else [corr], lr=0.5)
    lg = torch.logit(m.clamp(1e-4, 1-1e-4))
    for it in range(150):
        mm = torch.sigmoid(lg + mh.upsample(mk, h2, w2)) if use_mask else m
        y, c = mh.render(prep, flow, mm, mh.upsample(corr, h2, w2))
        loss = ((y - ty) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print('free4x4 mask' if use_mask else 'free4x4', np.round(ps(y.detach()), 2))
