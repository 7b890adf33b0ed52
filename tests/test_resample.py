"""§7.8 output upsampling."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cmvc.resample import COEF, resize_plane, upsample
from test_keyframes import random_picture


def test_coefficients_sum_to_128_phase0_is_identity_and_phases_mirror():
    assert len(COEF) == 16 and all(len(c) == 8 and sum(c) == 128 for c in COEF)
    assert COEF[0] == (0, 0, 0, 128, 0, 0, 0, 0)
    assert COEF[8] == (-2, 8, -21, 79, 79, -21, 8, -2)  # Table 7-2, half-sample phase
    for f in range(1, 16):  # phase f and 16 - f are mirror images (the kernel is even)
        assert COEF[f] == COEF[16 - f][::-1]


def literal(plane: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """§7.8 as the spec's pseudo-code reads, one sample at a time."""
    def taps(n_in, n_out, x):
        p = ((2 * x + 1) * n_in * 8) // n_out - 8
        i, f = p >> 4, p & 15
        return [(min(max(i - 3 + k, 0), n_in - 1), COEF[f][k]) for k in range(8)]

    h, w = plane.shape
    t = [[sum(c * int(plane[r][j]) for j, c in taps(w, ow, x)) for x in range(ow)] for r in range(h)]
    return np.array([[min(255, max(0, (sum(c * t[j][x] for j, c in taps(h, oh, y)) + 8192) >> 14))
                      for x in range(ow)] for y in range(oh)], np.uint8)


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 19), st.integers(1, 19), st.randoms(use_true_random=False))
def test_matches_the_literal_process(h, w, oh, ow, rnd):
    a = np.array([[rnd.choice((0, 255, rnd.randrange(256))) for _ in range(w)] for _ in range(h)], np.uint8)
    assert np.array_equal(resize_plane(a, oh, ow), a if (h, w) == (oh, ow) else literal(a, oh, ow))


@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 60), st.integers(1, 60), st.integers(0, 255))
def test_constant_planes_stay_constant(h, w, oh, ow, v):
    out = resize_plane(np.full((h, w), v, np.uint8), oh, ow)
    assert out.shape == (oh, ow) and (out == v).all()


def test_identity_and_reference_values():
    a = np.arange(0, 256, 16, dtype=np.uint8).reshape(4, 4)
    assert np.array_equal(resize_plane(a, 4, 4), a)
    out = resize_plane(a, 8, 8)
    # phases alternate 12, 4, 12, 4, ... (p = -4, 4, 12, 20, ...); the taps' clamping flattens the corner
    assert np.array_equal(out, literal(a, 8, 8))
    assert out[0, 0] == 0 and out[7, 7] == 248  # the ramp (0..240) overshoots at its end: Lanczos rings


def test_upsample_picture_odd_sizes():
    p = upsample(random_picture(9, 7, 3), 17, 13)
    assert p.y.shape == (13, 17) and p.u.shape == (7, 9)


def test_encode_decode_with_downscale(testsrc_pics):
    from cmvc.decode import decode
    from cmvc.encoder.pipeline import EncoderConfig, encode

    pics, _ = testsrc_pics
    res = encode(pics, EncoderConfig(profile="blend", codec="png", interval=4, downscale=2))
    dec = decode(res.data, verify=True)
    assert dec.pictures[0].y.shape == pics[0].y.shape
    sh = dec.stream.sequence_header
    assert (sh.coded_width, sh.coded_height) == (32, 24)
