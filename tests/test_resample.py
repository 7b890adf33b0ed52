"""§7.8 output upsampling."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cmvc.resample import COEF, resize_plane, upsample
from test_keyframes import random_picture


def test_coefficients_sum_to_64_and_phase0_is_identity():
    assert all(sum(c) == 64 for c in COEF) and COEF[0] == (0, 64, 0, 0) and len(COEF) == 16


@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 60), st.integers(1, 60), st.integers(0, 255))
def test_constant_planes_stay_constant(h, w, oh, ow, v):
    out = resize_plane(np.full((h, w), v, np.uint8), oh, ow)
    assert out.shape == (oh, ow) and (out == v).all()


def test_identity_and_reference_values():
    a = np.arange(0, 256, 16, dtype=np.uint8).reshape(4, 4)
    assert np.array_equal(resize_plane(a, 4, 4), a)
    out = resize_plane(a, 8, 8)
    # first output row: p = ((2x+1)*4*8)//8 - 8 -> phases -4, 4, 12, ... ; hand-computed from Table 7-2
    assert out[0].tolist() == [0, 0, 8, 16, 24, 33, 41, 45]


def test_upsample_picture_odd_sizes():
    p = upsample(random_picture(9, 7, 3), 17, 13)
    assert p.y.shape == (13, 17) and p.u.shape == (7, 9)


def test_encode_decode_with_downscale(testsrc_pics):
    from cmvc.decode import decode
    from cmvc.encoder import EncoderConfig, encode

    pics, _ = testsrc_pics
    res = encode(pics, EncoderConfig(profile="blend", codec="png", interval=4, downscale=2))
    dec = decode(res.data, verify=True)
    assert dec.pictures[0].y.shape == pics[0].y.shape
    sh = dec.stream.sequence_header
    assert (sh.coded_width, sh.coded_height) == (32, 24)
