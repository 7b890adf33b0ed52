"""§4.4 keyframe_unit(): one coded keyframe; §4.9 keyframe_group_unit(): consecutive ones, one codec."""
from __future__ import annotations

import dataclasses

import construct as cs
from construct_typed import DataclassMixin, csfield

from ..registry import CodecId
from .descriptors import U8, Leb128, Range, Registered, Repeat, Rest, Syntax


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


#: codec_params() fields that number a keyframe within its codec's bitstream (§5.4); in a keyframe
#: group they count up by one from the group's value (§5.9).
ORDINAL_FIELDS = {CodecId.AV1: "temporal_unit_index", CodecId.VVC: "access_unit_index"}


@dataclasses.dataclass
class KeyframeGroupUnit(DataclassMixin):
    """§4.9 keyframe_group_unit()."""

    first_keyframe: int = csfield(Leb128(), doc="Ordinal n of the first keyframe the unit codes (frame keyframe_index[n]).")
    num_extra_keyframes: int = csfield(Range(Leb128(), 1),
                                       doc="The unit codes keyframes first_keyframe..first_keyframe+num_extra_keyframes.")
    codec_id: CodecId = csfield(Registered(U8, CodecId), doc="Table 10-5; the codec of every keyframe of the unit.")
    codec_params: object = csfield(cs.Switch(cs.this.codec_id, CODEC_PARAMS),
                                   doc="codec_params(codec_id) of the first keyframe; §5.9 gives the others'.")
    keyframe_size: list[int] = csfield(Repeat(cs.this.num_extra_keyframes, Range(Leb128(), 1), "num_extra_keyframes"),
                                       doc="Bytes of the coded picture of keyframe first_keyframe+i.")
    keyframe_data: bytes = csfield(Rest(), doc="The coded pictures (§7.2) one after another; the last one takes the "
                                               "bytes after the others'.")


KEYFRAME_GROUP_UNIT = Syntax(KeyframeGroupUnit)


def group_members(g: KeyframeGroupUnit) -> list[tuple[int, KeyframeUnit | None]]:
    """§5.9: the keyframe_unit() each keyframe of a group stands for, with the offset of its coded
    picture in ``keyframe_data``; ``frame_index`` is left 0 (the sequence header's keyframe_index
    gives it) and ``None`` stands for a picture with no bytes left (E019)."""
    out: list[tuple[int, KeyframeUnit | None]] = []
    pos = 0
    field = ORDINAL_FIELDS.get(g.codec_id)
    sizes = [*g.keyframe_size, len(g.keyframe_data) - sum(g.keyframe_size)]
    for i, n in enumerate(sizes):
        if n < 1:
            out.append((pos, None))
            continue
        params = g.codec_params
        if field is not None:
            params = dataclasses.replace(params, **{field: getattr(params, field) + i})
        out.append((pos, KeyframeUnit(frame_index=0, codec_id=g.codec_id, codec_params=params,
                                      keyframe_data=g.keyframe_data[pos: pos + n])))
        pos += n
    return out
