"""§7.4 BLEND (bit-exact) and §7.5 RIFE (tolerance-defined)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmvc.picture import Picture
from cmvc.recon.blend import blend
from cmvc.write import make_sequence_header
from test_keyframes import random_picture


@given(st.integers(1, 12), st.data())
def test_blend_formula(bits, data):
    top = 1 << bits
    q = data.draw(st.integers(0, top))
    a, b = random_picture(5, 3, 1), random_picture(5, 3, 2)
    out = blend(a, b, q, bits)
    expect = (q * a.y.astype(int) + (top - q) * b.y.astype(int) + top // 2) >> bits
    assert np.array_equal(out.y, expect)
    if q == top:
        assert out == a
    if q == 0:
        assert out == b


@pytest.fixture(scope="module")
def rife():
    from cmvc.recon.rife import RifeReconstructor, load_ifnet

    sh = make_sequence_header(64, 48, 3, [0, 2], recon_profile=1, recon_model=0)
    return RifeReconstructor(sh, net=load_ifnet())


def shifted(base: np.ndarray, dx: int) -> Picture:
    y = np.roll(base, dx, axis=1)
    return Picture(y, np.full((24, 32), 128, np.uint8), np.full((24, 32), 128, np.uint8))


def test_rife_beats_blend_on_motion_and_is_deterministic(rife):
    r = np.random.default_rng(0)
    base = (np.kron(r.integers(40, 220, (12, 16)), np.ones((4, 4))) ).astype(np.uint8)
    i0, mid, i1 = shifted(base, 0), shifted(base, 4), shifted(base, 8)
    out = rife.frames_at(i0, i1, [0.5])[0]
    again = rife.frames_at(i0, i1, [0.5])[0]
    assert out == again
    err_rife = np.mean((out.y[:, 10:54].astype(float) - mid.y[:, 10:54]) ** 2)
    err_blend = np.mean((blend(i0, i1, 8, 4).y[:, 10:54].astype(float) - mid.y[:, 10:54]) ** 2)
    assert err_rife < 0.5 * err_blend


def test_rife_odd_size(rife):
    sh = make_sequence_header(37, 21, 3, [0, 2], recon_profile=1, recon_model=0)
    from cmvc.recon.rife import RifeReconstructor

    r = RifeReconstructor(sh, net=rife.net)
    out = r.segment(random_picture(37, 21, 1), random_picture(37, 21, 2), [8], None, 4)
    assert out[0].y.shape == (21, 37) and out[0].u.shape == (11, 19)


def test_ifnet_fold_keeps_the_function():
    """Folding beta into the convolutions (done on load) changes only float rounding."""
    import torch

    from cmvc.recon.ifnet import IFNet

    torch.manual_seed(0)
    net = IFNet().eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("beta"):
                p.uniform_(0.2, 1.5)
    a, b = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    t = torch.tensor([0.25, 0.5, 0.75])
    with torch.no_grad():
        ref = net.flow(a.expand(3, -1, -1, -1), b.expand(3, -1, -1, -1), t)
        net.fold()
        got = net.flow(a.expand(3, -1, -1, -1), b.expand(3, -1, -1, -1), t)
    assert all(float(x.abs().max()) > 0 for x in ref)
    for x, y in zip(ref, got):
        assert torch.allclose(x, y, rtol=1e-4, atol=1e-4 * float(x.abs().max()))
    assert all(float(p.min()) == float(p.max()) == 1.0 for n, p in net.named_parameters() if n.endswith("beta"))


def test_warp_pair_is_two_warps():
    """One grid_sample call for both keyframes gives exactly the two separate warps (ifnet.warp_pair)."""
    import torch

    from cmvc.recon.ifnet import warp, warp_pair

    torch.manual_seed(1)
    x0, x1 = torch.rand(1, 7, 32, 48), torch.rand(3, 7, 32, 48)
    flow = torch.randn(3, 4, 32, 48) * 5
    a, b = warp_pair(x0, x1, flow)
    assert torch.equal(a, warp(x0.expand(3, -1, -1, -1), flow[:, :2]))
    assert torch.equal(b, warp(x1, flow[:, 2:4]))
    assert not torch.equal(a, x0.expand(3, -1, -1, -1))


def test_ifnet_shared_keyframes_match_materialised_batch():
    """The shortcut for one keyframe pair expanded over all time steps computes what a materialised
    batch computes."""
    import torch

    from cmvc.recon.ifnet import IFNet

    torch.manual_seed(2)
    net = IFNet().eval()
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    t = torch.tensor([0.3, 0.6])
    with torch.no_grad():
        shared = net.flow(a.expand(2, -1, -1, -1), b.expand(2, -1, -1, -1), t)
        full = net.flow(a.repeat(2, 1, 1, 1), b.repeat(2, 1, 1, 1), t)
    for x, y in zip(shared, full):
        assert torch.allclose(x, y, rtol=1e-5, atol=1e-5 * float(x.abs().max()))
