"""§4.4 keyframe_unit(): one coded keyframe."""
from __future__ import annotations

import dataclasses

import construct as cs
from construct_typed import DataclassMixin, csfield

from ..registry import CodecId
from .descriptors import U8, Leb128, Range, Registered, Rest, Syntax


@dataclasses.dataclass
class NoParams(DataclassMixin):
    """png_params(): no parameters."""


@dataclasses.dataclass
class ImageParams(DataclassMixin):
    """avif_params() and webp_params()."""

    quality: int = csfield(Range(U8, 0, 100), doc="Encoder quality setting, informative.")


@dataclasses.dataclass
class HyperpriorParams(DataclassMixin):
    """hyperprior_params()."""

    model_index: int = csfield(U8, doc="Index into models[] of the codec's weights (role KEYFRAME_CODEC).")
    quality: int = csfield(Range(U8, 1, 8), doc="Quality index of the model, informative.")
    latent_height: int = csfield(Range(Leb128(), 1), doc="Height of the hyper-latent z.")
    latent_width: int = csfield(Range(Leb128(), 1), doc="Width of the hyper-latent z.")
    y_string_size: int = csfield(Leb128(), doc="Bytes of keyframe_data that hold the y string; the z string follows.")


@dataclasses.dataclass
class Av1Params(DataclassMixin):
    """av1_params()."""

    temporal_unit_index: int = csfield(Leb128(), doc="Position of this temporal unit in the AV1 sequence (0 for the first keyframe).")
    quality: int = csfield(Range(U8, 0, 63), doc="Encoder quantiser setting (CRF), informative.")


@dataclasses.dataclass
class VvcParams(DataclassMixin):
    """vvc_params()."""

    access_unit_index: int = csfield(Leb128(), doc="Position of this access unit in the VVC bitstream, in decoding order (0 for the first keyframe unit).")
    quality: int = csfield(Range(U8, 0, 63), doc="Encoder quantiser setting (QP), informative.")


CODEC_PARAMS = {
    CodecId.PNG: Syntax(NoParams),
    CodecId.AVIF: Syntax(ImageParams),
    CodecId.WEBP: Syntax(ImageParams),
    CodecId.HYPERPRIOR: Syntax(HyperpriorParams),
    CodecId.AV1: Syntax(Av1Params),
    CodecId.VVC: Syntax(VvcParams),
}


@dataclasses.dataclass
class KeyframeUnit(DataclassMixin):
    """§4.4 keyframe_unit()."""

    frame_index: int = csfield(Leb128(), doc="Index of the frame this unit codes; a keyframe_index[] value.")
    codec_id: CodecId = csfield(Registered(U8, CodecId), doc="Table 10-5.")
    codec_params: object = csfield(cs.Switch(cs.this.codec_id, CODEC_PARAMS), doc="codec_params(codec_id).")
    keyframe_data: bytes = csfield(Rest(), doc="The coded picture (§7.2).")


KEYFRAME_UNIT = Syntax(KeyframeUnit)
