"""§7.2.1 PNG keyframes: the planar-packed picture as a lossless 8-bit greyscale PNG (bit-exact).

Packing of a W x H picture with Cw = Ceil2(W), Ch = Ceil2(H): a greyscale image of 2*Cw x (H + Ch)
samples; rows 0..H-1 hold Y in columns 0..W-1 (column W, present when W is odd, is 0); rows
H..H+Ch-1 hold Cb in columns 0..Cw-1 and Cr in columns Cw..2*Cw-1.
"""
from __future__ import annotations

import io

import numpy as np

from ..errors import describe, error
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


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def ihdr_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG's IHDR chunk (the first chunk, bytes 16..23), None if absent."""
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


class _Decoder:
    def __init__(self, sh, models=None):
        self.w, self.h = sh.coded_width, sh.coded_height

    def decode(self, unit) -> Picture:
        from PIL import Image

        cw, ch = (self.w + 1) // 2, (self.h + 1) // 2
        want = (2 * cw, self.h + ch)
        size = ihdr_size(unit.keyframe_data)  # §7.2: the declared size is checked before decoding
        if size is None:
            raise error("E024", f"keyframe {unit.frame_index}: not a PNG (no signature and IHDR chunk)", offset=0)
        if size != want:
            raise error("E024", f"keyframe {unit.frame_index}: the PNG's IHDR declares {size[0]}x{size[1]}, "
                                f"expected {want[0]}x{want[1]}", offset=16)
        try:
            img = Image.open(io.BytesIO(unit.keyframe_data), formats=["PNG"])
            img.load()
        except Exception as e:  # Pillow raises many types for corrupt data
            raise error("E024", f"keyframe {unit.frame_index}: cannot decode PNG: {describe(e)}") from None
        if img.mode != "L" or img.size != want:
            raise error("E024", f"keyframe {unit.frame_index}: PNG is {img.mode} {img.size}, expected L {want}")
        return unpack(np.asarray(img), self.w, self.h)


def decoder(sh, models=None):
    return _Decoder(sh, models)
