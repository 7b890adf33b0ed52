"""Spec §7.5 written out is the reference decoder's RIFE: an implementation transcribed from the spec text
alone (plain tensor operations on the weights by key, no cmvc.recon code) against RifeReconstructor, on
random weights (no model download) and odd-sized pictures."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cmvc.picture import Picture
from cmvc.recon.ifnet import IFNet
from cmvc.recon.rife import RifeReconstructor
from cmvc.write import make_sequence_header

KR_KB = {1: (0.2126, 0.0722), 9: (0.2627, 0.0593)}


def lrelu(x):
    return torch.where(x >= 0, x, 0.2 * x)


def resize(x, f):
    return x if f == 1 else F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)


def warp(p, d):
    """§7.5 step 3: sample p at (c + d0, r + d1), clamped, bilinear."""
    h, w = p.shape[2:]
    r, c = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    gx = -1 + 2 * c / (w - 1) + d[:, 0] / ((w - 1) / 2)
    gy = -1 + 2 * r / (h - 1) + d[:, 1] / ((h - 1) / 2)
    return F.grid_sample(p, torch.stack((gx, gy), -1), mode="bilinear", padding_mode="border", align_corners=True)


def ifnet_from_spec(W, i0, i1, t, recon_param):
    """§7.5.1, from the keys of Table 7-3."""
    conv = lambda x, k, st: F.conv2d(x, W[k + ".weight"], W[k + ".bias"], stride=st, padding=1)  # noqa: E731
    deconv = lambda x, k: F.conv_transpose2d(x, W[k + ".weight"], W[k + ".bias"], stride=2, padding=1)  # noqa: E731

    def enc(i):
        a = lrelu(conv(i, "encode.cnn0", 2))
        a = lrelu(conv(a, "encode.cnn1", 1))
        a = lrelu(conv(a, "encode.cnn2", 1))
        return deconv(a, "encode.cnn3")

    def block(k, x):
        a = lrelu(conv(x, f"block{k}.conv0.0.0", 2))
        a = lrelu(conv(a, f"block{k}.conv0.1.0", 2))
        for j in range(8):
            a = lrelu(conv(a, f"block{k}.convblock.{j}.conv", 1) * W[f"block{k}.convblock.{j}.beta"] + a)
        return F.pixel_shuffle(deconv(a, f"block{k}.lastconv.0"), 2)

    e0, e1 = enc(i0), enc(i1)
    hp, wp = i0.shape[2:]
    fl = m = q = None
    for k, base in enumerate((16, 8, 4, 2, 1)):
        s = base * 2 ** recon_param
        tp = torch.full((1, 1, hp // s, wp // s), t)
        if k == 0:
            x = torch.cat((resize(i0, 1 / s), resize(i1, 1 / s), resize(e0, 1 / s), resize(e1, 1 / s), tp), 1)
        else:
            x = torch.cat((resize(warp(i0, fl[:, 0:2]), 1 / s), resize(warp(i1, fl[:, 2:4]), 1 / s),
                           resize(warp(e0, fl[:, 0:2]), 1 / s), resize(warp(e1, fl[:, 2:4]), 1 / s),
                           tp, resize(m, 1 / s), resize(q, 1 / s), resize(fl, 1 / s) * (1 / s)), 1)
        o = resize(block(k, x), s)
        fl = o[:, 0:4] * s if k == 0 else fl + o[:, 0:4] * s
        m, q = o[:, 4:5], o[:, 5:13]
    return fl, m


def rife_from_spec(W, p0, p1, t, recon_param, matrix, full_range):
    h, w = p0.height, p0.width
    mult = 64 * 2 ** recon_param
    hp, wp = -(-h // mult) * mult, -(-w // mult) * mult
    kr, kb = (np.float32(v) for v in KR_KB[matrix])
    kg = np.float32(1 - KR_KB[matrix][0] - KR_KB[matrix][1])

    def rgb(p):
        y = p.y.astype(np.float32)
        u = np.repeat(np.repeat(p.u, 2, 0), 2, 1)[:h, :w].astype(np.float32) - 128
        v = np.repeat(np.repeat(p.v, 2, 0), 2, 1)[:h, :w].astype(np.float32) - 128
        yn, un, vn = (y / 255, u / 255, v / 255) if full_range else ((y - 16) / 219, u / 224, v / 224)
        r = yn + np.float32(2 * (1 - KR_KB[matrix][0])) * vn
        b = yn + np.float32(2 * (1 - KR_KB[matrix][1])) * un
        g = ((yn - kr * r) - kb * b) / kg
        x = torch.from_numpy(np.clip(np.stack((r, g, b)), 0, 1))[None]
        return F.pad(x, (0, wp - w, 0, hp - h), mode="replicate")

    def plane(a, ph, pw):
        x = torch.from_numpy(a.astype(np.float32) / np.float32(255))[None, None]
        return F.pad(x, (0, pw - a.shape[1], 0, ph - a.shape[0]), mode="replicate")

    fl, m = ifnet_from_spec(W, rgb(p0), rgb(p1), t, recon_param)
    s = 1 / (1 + torch.exp(-m))
    y = s * warp(plane(p0.y, hp, wp), fl[:, 0:2]) + (1 - s) * warp(plane(p1.y, hp, wp), fl[:, 2:4])

    def avg(x, k):
        return (((x[..., 0::2, 0::2] + x[..., 0::2, 1::2]) + x[..., 1::2, 0::2]) + x[..., 1::2, 1::2]) * k

    fc, sc = avg(fl, 0.125), avg(s, 0.25)
    out = [y[0, 0, :h, :w]]
    for a0, a1 in ((p0.u, p1.u), (p0.v, p1.v)):
        c = sc * warp(plane(a0, hp // 2, wp // 2), fc[:, 0:2]) + (1 - sc) * warp(plane(a1, hp // 2, wp // 2), fc[:, 2:4])
        out.append(c[0, 0, :a0.shape[0], :a0.shape[1]])
    return [((x * 255) + 0.5).floor().clamp(0, 255).to(torch.uint8).numpy() for x in out]


def _pic(rng, w, h):
    cw, ch = (w + 1) // 2, (h + 1) // 2
    return Picture(rng.integers(0, 256, (h, w), dtype=np.uint8), rng.integers(0, 256, (ch, cw), dtype=np.uint8),
                   rng.integers(0, 256, (ch, cw), dtype=np.uint8))


@pytest.mark.parametrize("recon_param,matrix,full_range", [(0, 1, False), (1, 9, True)])
def test_section_7_5_matches_reference_decoder(recon_param, matrix, full_range):
    torch.manual_seed(0)
    net = IFNet().eval()
    W = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():  # random beta, so that a missing or misplaced beta shows
        for k in W:
            if k.endswith(".beta"):
                W[k].uniform_(0.5, 1.5)
        net.load_state_dict(W)
    rng = np.random.default_rng(1)
    w, h = 37, 29  # odd: chroma padding, cropping
    p0, p1 = _pic(rng, w, h), _pic(rng, w, h)
    sh = make_sequence_header(w, h, 4, [0, 3], recon_profile=1, recon_model=0, recon_param=recon_param,
                              matrix_coefficients=matrix, full_range=full_range)
    got = RifeReconstructor(sh, net=net.fold()).frames_at(p0, p1, [0.25, 0.625])
    for t, pic in zip([0.25, 0.625], got):
        with torch.no_grad():
            want = rife_from_spec(W, p0, p1, t, recon_param, matrix, full_range)
        for a, b in zip(pic.planes(), want):
            diff = np.abs(a.astype(int) - b.astype(int))
            assert diff.max() <= 2 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())


def test_parameter_count_stated_in_spec():
    from cmvc.tools.specgen import spec_dir

    n = sum(p.numel() for p in IFNet().parameters())
    assert n == 5_664_776
    assert f"{n:_}".replace("_", " ") in (spec_dir() / "07-decoding.md").read_text()
