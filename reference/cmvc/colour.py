"""§7.2.2 Colour conversion between R'G'B' and Y'CbCr.

The normative direction is RGB -> Y'CbCr 4:2:0 in integers (for keyframe codecs whose decoders
output RGB).  The other direction (Y'CbCr -> RGB, float) is used only where the result feeds a
tolerance-defined process (RIFE flow estimation) or an encoder.
"""
from __future__ import annotations

import numpy as np

from .picture import Picture

#: (Kr, Kb) by ITU-T H.273 MatrixCoefficients; other values use BT.601.
KR_KB = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}


def kr_kb(matrix: int) -> tuple[float, float]:
    return KR_KB.get(matrix, (0.299, 0.114))


def int_coefficients(matrix: int, full_range: bool) -> dict[str, tuple[int, int, int]]:
    """Table 7-1: integer coefficients of §7.2.2, scaled by 2^16 (luma) and 2^18 (chroma, 2x2 sums)."""
    kr, kb = kr_kb(matrix)
    kg = 1 - kr - kb
    ys, cs = (1.0, 1.0) if full_range else (219 / 255, 224 / 255)
    y = tuple(round(k * ys * 65536) for k in (kr, kg, kb))
    cb = tuple(round(c * cs * 65536) for c in (-kr / (2 - 2 * kb), -kg / (2 - 2 * kb), 0.5))
    cr = tuple(round(c * cs * 65536) for c in (0.5, -kg / (2 - 2 * kr), -kb / (2 - 2 * kr)))
    return {"y": y, "cb": cb, "cr": cr}


def rgb_to_picture(rgb: np.ndarray, matrix: int, full_range: bool) -> Picture:
    """§7.2.2, normative: 8-bit RGB (H, W, 3) to a 4:2:0 Picture, in integer arithmetic."""
    c = int_coefficients(matrix, full_range)
    rgb = rgb.astype(np.int64)
    h, w, _ = rgb.shape
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    yoff = 0 if full_range else 16
    y = (c["y"][0] * r + c["y"][1] * g + c["y"][2] * b + 32768) >> 16
    y = np.clip(y + yoff, 0, 255).astype(np.uint8)
    # 2x2 sums with the last row / column repeated for odd sizes
    pad = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    s = pad[0::2, 0::2] + pad[1::2, 0::2] + pad[0::2, 1::2] + pad[1::2, 1::2]
    sr, sg, sb = s[..., 0], s[..., 1], s[..., 2]
    cb = (c["cb"][0] * sr + c["cb"][1] * sg + c["cb"][2] * sb + (1 << 17)) >> 18
    cr = (c["cr"][0] * sr + c["cr"][1] * sg + c["cr"][2] * sb + (1 << 17)) >> 18
    return Picture(y, np.clip(cb + 128, 0, 255).astype(np.uint8), np.clip(cr + 128, 0, 255).astype(np.uint8))


def upsample_chroma(p: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour 2x upsampling of a chroma plane to the luma size."""
    return np.repeat(np.repeat(p, 2, axis=0), 2, axis=1)[:height, :width]


def picture_to_rgb_float(pic: Picture, matrix: int, full_range: bool) -> np.ndarray:
    """Y'CbCr 4:2:0 to float RGB in [0, 1], shape (H, W, 3) (informative conversion)."""
    kr, kb = kr_kb(matrix)
    kg = 1 - kr - kb
    h, w = pic.height, pic.width
    y = pic.y.astype(np.float32)
    u = upsample_chroma(pic.u, h, w).astype(np.float32) - 128
    v = upsample_chroma(pic.v, h, w).astype(np.float32) - 128
    if full_range:
        yn, un, vn = y / 255, u / 255, v / 255
    else:
        yn, un, vn = (y - 16) / 219, u / 224, v / 224
    r = yn + 2 * (1 - kr) * vn
    b = yn + 2 * (1 - kb) * un
    g = (yn - kr * r - kb * b) / kg
    return np.clip(np.stack([r, g, b], -1), 0, 1)


def picture_to_rgb8(pic: Picture, matrix: int, full_range: bool) -> np.ndarray:
    return np.round(picture_to_rgb_float(pic, matrix, full_range) * 255).astype(np.uint8)
