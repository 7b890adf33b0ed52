"""§4 Syntax: one module per syntax structure; :data:`PAYLOAD_SYNTAX` maps unit types to payloads."""
from ..registry import UnitType
from .aux_units import END_OF_STREAM_UNIT, METADATA_UNIT, PADDING_UNIT, EndOfStreamUnit, MetadataUnit, PaddingUnit
from .file_header import FILE_HEADER, FILE_HEADER_SIZE, MAGIC, FileHeader
from .frame_hash import FRAME_HASH_UNIT, FrameHashUnit
from .interp import INTERP_PARAMS_UNIT, InterpFlags, InterpParamsUnit
from .keyframe import (CODEC_PARAMS, KEYFRAME_GROUP_UNIT, KEYFRAME_UNIT, Av1Params, HyperpriorParams, ImageParams,
                       KeyframeGroupUnit, KeyframeUnit, NoParams, VvcParams)
from .sequence_header import NO_MODEL, SEQUENCE_HEADER, ColourFlags, ModelEntry, ModelFlags, SequenceHeader, model_entry
from .text_unit import TEXT_UNIT, TextUnit
from .unit import UNIT, Unit, UnitFlags

PAYLOAD_SYNTAX = {
    UnitType.SEQUENCE_HEADER: SEQUENCE_HEADER,
    UnitType.KEYFRAME: KEYFRAME_UNIT,
    UnitType.TEXT: TEXT_UNIT,
    UnitType.INTERP_PARAMS: INTERP_PARAMS_UNIT,
    UnitType.FRAME_HASH: FRAME_HASH_UNIT,
    UnitType.METADATA: METADATA_UNIT,
    UnitType.PADDING: PADDING_UNIT,
    UnitType.END_OF_STREAM: END_OF_STREAM_UNIT,
    UnitType.KEYFRAME_GROUP: KEYFRAME_GROUP_UNIT,
}

PAYLOAD_CLASS = {
    UnitType.SEQUENCE_HEADER: SequenceHeader,
    UnitType.KEYFRAME: KeyframeUnit,
    UnitType.TEXT: TextUnit,
    UnitType.INTERP_PARAMS: InterpParamsUnit,
    UnitType.FRAME_HASH: FrameHashUnit,
    UnitType.METADATA: MetadataUnit,
    UnitType.PADDING: PaddingUnit,
    UnitType.END_OF_STREAM: EndOfStreamUnit,
    UnitType.KEYFRAME_GROUP: KeyframeGroupUnit,
}
