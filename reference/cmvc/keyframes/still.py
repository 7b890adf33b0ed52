"""§7.2.2 AVIF and WebP keyframes through Pillow: the decoded RGB image is converted to Y'CbCr 4:2:0
by the normative integer conversion of :func:`cmvc.colour.rgb_to_picture`."""
from __future__ import annotations

import dataclasses
import io

import numpy as np

from ..colour import picture_to_rgb8, rgb_to_picture
from ..errors import describe, error
from ..registry import CodecId
from ..syntax import ImageParams


@dataclasses.dataclass(frozen=True)
class StillCodec:
    codec_id: CodecId
    pil_format: str

    def encode(self, pictures, quality: int = 30, colour=None):
        from PIL import Image

        m = colour.matrix_coefficients if colour else 1
        fr = colour.full_range if colour else False
        out = []
        for p in pictures:
            buf = io.BytesIO()
            Image.fromarray(picture_to_rgb8(p, m, fr)).save(buf, format=self.pil_format, quality=int(quality))
            out.append((ImageParams(quality=int(quality)), buf.getvalue()))
        return out

    def decoder(self, sh, models=None):
        return _Decoder(self, sh)


def webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size a WebP file declares in its first chunk (WebP container specification):
    ``VP8X`` canvas width/height minus one (24 bits each), ``VP8L`` image width/height minus one
    (14 bits each), or the ``VP8 `` key frame header's 14-bit width and height; None if absent."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    kind, body = data[12:16], data[20:]
    if kind == b"VP8X":
        return int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1
    if kind == b"VP8L" and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        return int.from_bytes(body[6:8], "little") & 0x3FFF, int.from_bytes(body[8:10], "little") & 0x3FFF
    return None


class _Decoder:
    def __init__(self, codec: StillCodec, sh):
        self.codec, self.sh = codec, sh

    def decode(self, unit):
        import warnings

        from PIL import Image

        fmt = self.codec.pil_format
        want = (self.sh.coded_width, self.sh.coded_height)
        if fmt == "WEBP":  # libwebp's demuxer allocates the declared canvas when Pillow opens the file
            size = webp_size(unit.keyframe_data)
            if size is not None and size != want:
                raise error("E024", f"keyframe {unit.frame_index}: the WebP header declares {size[0]}x{size[1]}, "
                                    f"expected {want[0]}x{want[1]}", offset=12)
        try:
            with warnings.catch_warnings():  # the size is checked below, before anything is decoded (§7.2)
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(unit.keyframe_data), formats=[fmt])  # reads the header only
        except Image.DecompressionBombError as e:
            raise error("E024", f"keyframe {unit.frame_index}: the {fmt} header declares a picture far larger "
                                f"than {want[0]}x{want[1]}: {describe(e)}") from None
        except Image.UnidentifiedImageError:
            raise error("E024", f"keyframe {unit.frame_index}: not a {fmt} image") from None
        except Exception as e:
            raise error("E024", f"keyframe {unit.frame_index}: cannot decode {fmt}: {describe(e)}") from None
        if img.size != want:
            raise error("E024", f"keyframe {unit.frame_index}: the {fmt} header declares {img.size[0]}x{img.size[1]}, "
                                f"expected {want[0]}x{want[1]}")
        try:
            img = img.convert("RGB")
        except Exception as e:
            raise error("E024", f"keyframe {unit.frame_index}: cannot decode {fmt}: {describe(e)}") from None
        return rgb_to_picture(np.asarray(img), self.sh.matrix_coefficients, self.sh.colour_flags.full_range_flag)


AVIF = StillCodec(CodecId.AVIF, "AVIF")
WEBP = StillCodec(CodecId.WEBP, "WEBP")
