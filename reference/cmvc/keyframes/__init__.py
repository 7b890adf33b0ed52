"""§7.2 Keyframe decoding, and the matching encoders.

Each codec provides ``encode(pictures, quality, colour) -> [(codec_params, keyframe_data)]`` for all
keyframes of a stream at once (AV1 codes them as one sequence) and ``decoder(sequence_header, models)``,
a stateful object whose ``decode(keyframe_unit) -> Picture`` is called once per keyframe unit in
stream order.
"""
from __future__ import annotations

import dataclasses

from ..errors import error
from ..registry import CodecId


@dataclasses.dataclass(frozen=True)
class Colour:
    matrix_coefficients: int = 1
    full_range: bool = False


def get_codec(codec_id: CodecId):
    codec_id = CodecId(codec_id)
    if codec_id == CodecId.PNG:
        from . import png
        return png
    if codec_id in (CodecId.AVIF, CodecId.WEBP):
        from . import still
        return still.AVIF if codec_id == CodecId.AVIF else still.WEBP
    if codec_id == CodecId.AV1:
        from . import av1
        return av1
    if codec_id == CodecId.HYPERPRIOR:
        from . import hyperprior
        return hyperprior
    raise error("E101", f"no codec for {codec_id}")  # pragma: no cover


CODEC_NAMES = {"png": CodecId.PNG, "avif": CodecId.AVIF, "webp": CodecId.WEBP, "av1": CodecId.AV1,
               "hyperprior": CodecId.HYPERPRIOR}
