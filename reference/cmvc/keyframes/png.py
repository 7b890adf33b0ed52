"""§7.2.1 PNG keyframes: the planar-packed picture as a lossless 8-bit greyscale PNG (bit-exact).

Packing of a W x H picture with Cw = Ceil2(W), Ch = Ceil2(H): a greyscale image of 2*Cw x (H + Ch)
samples; rows 0..H-1 hold Y in columns 0..W-1 (column W, present when W is odd, is 0); rows
H..H+Ch-1 hold Cb in columns 0..Cw-1 and Cr in columns Cw..2*Cw-1.
"""
from __future__ import annotations

import io

import numpy as np

from ..errors import error
from ..picture import Picture
from ..registry import CodecId
from ..syntax import NoParams

CODEC_ID = CodecId.PNG


def pack(pic: Picture) -> np.ndarray:
    h, w = pic.y.shape
    ch, cw = pic.u.shape
    out = np.zeros((h + ch, 2 * cw), np.uint8)
    out[:h, :w] = pic.y
    out[h:, :cw] = pic.u
    out[h:, cw:] = pic.v
    return out


def unpack(img: np.ndarray, width: int, height: int) -> Picture:
    cw, ch = (width + 1) // 2, (height + 1) // 2
    return Picture(img[:height, :width].copy(), img[height:height + ch, :cw].copy(), img[height:height + ch, cw:2 * cw].copy())


def encode(pictures, quality: int = 0, colour=None):
    from PIL import Image

    out = []
    for p in pictures:
        buf = io.BytesIO()
        Image.fromarray(pack(p), mode="L").save(buf, format="PNG", optimize=True)
        out.append((NoParams(), buf.getvalue()))
    return out


class _Decoder:
    def __init__(self, sh, models=None):
        self.w, self.h = sh.coded_width, sh.coded_height

    def decode(self, unit) -> Picture:
        from PIL import Image

        cw, ch = (self.w + 1) // 2, (self.h + 1) // 2
        try:
            img = Image.open(io.BytesIO(unit.keyframe_data))
            if img.format != "PNG":
                raise ValueError(f"not a PNG but {img.format}")
            img.load()
        except Exception as e:  # Pillow raises many types for corrupt data
            raise error("E024", f"keyframe {unit.frame_index}: cannot decode PNG: {e}") from None
        if img.mode != "L" or img.size != (2 * cw, self.h + ch):
            raise error("E024", f"keyframe {unit.frame_index}: PNG is {img.mode} {img.size}, expected L "
                                f"{(2 * cw, self.h + ch)}")
        return unpack(np.asarray(img), self.w, self.h)


def decoder(sh, models=None):
    return _Decoder(sh, models)
