"""§7.2.2 colour conversion: integer RGB -> Y'CbCr, and the measured round-trip loss."""
import numpy as np
import pytest

from cmvc.colour import int_coefficients, picture_to_rgb8, rgb_to_picture


def psnr(a, b):
    m = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 99.0 if m == 0 else 10 * np.log10(255 ** 2 / m)


@pytest.mark.parametrize("matrix,full", [(1, False), (1, True), (6, False), (9, False)])
def test_roundtrip_is_near_lossless(matrix, full):
    """In-gamut content (made from RGB) survives Y'CbCr -> RGB -> Y'CbCr with rounding loss only."""
    r = np.random.default_rng(matrix)
    rgb = np.kron(r.integers(0, 256, (6, 8, 3)), np.ones((4, 4, 1))).astype(np.uint8)  # 24x32, 4x4 blocks
    p = rgb_to_picture(rgb, matrix, full)
    q = rgb_to_picture(picture_to_rgb8(p, matrix, full), matrix, full)
    assert psnr(p.y, q.y) > 45 and psnr(p.u, q.u) > 40 and psnr(p.v, q.v) > 40


def test_roundtrip_on_real_video():
    """Measured on carphone (BT.709, limited range): 67.8 dB luma."""
    from cmvc.tools.demo import bundled_clip
    from cmvc.tools.video import read_video

    pics, info = read_video(bundled_clip(), max_frames=2)
    for p in pics:
        q = rgb_to_picture(picture_to_rgb8(p, info.matrix_coefficients, info.full_range), info.matrix_coefficients,
                           info.full_range)
        assert psnr(p.y, q.y) > 60 and psnr(p.u, q.u) > 60


def test_mismatched_conversion_is_visibly_worse(testsrc_pics):
    p = testsrc_pics[0][0]
    good = psnr(p.y, rgb_to_picture(picture_to_rgb8(p, 1, False), 1, False).y)
    bad = psnr(p.y, rgb_to_picture(picture_to_rgb8(p, 1, False), 6, True).y)
    assert good - bad > 10


def test_integer_coefficients_match_the_formula():
    c = int_coefficients(1, False)
    assert c["y"] == (11966, 40254, 4064)
    assert abs(sum(c["y"]) - round(219 / 255 * 65536)) <= 1  # luma weights sum to the range scale
    assert abs(sum(c["cb"])) <= 1 and abs(sum(c["cr"])) <= 1  # grey has no chroma
    grey = rgb_to_picture(np.full((4, 4, 3), 128, np.uint8), 1, False)
    assert (grey.u == 128).all() and (grey.v == 128).all()
