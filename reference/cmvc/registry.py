"""Registries (spec §10): every enumerated value of the format, with its meaning.

Each registry is an :class:`enum.IntEnum` whose members carry a one-line description
(``Member.doc``).  The spec's registry tables are generated from these classes.
Values that are not members are *reserved*: a v1 stream must not use them (E011).
"""
from __future__ import annotations

import enum


class DocEnum(enum.IntEnum):
    """IntEnum whose members take ``(value, doc)``."""

    def __new__(cls, value: int, doc: str = ""):
        obj = int.__new__(cls, value)
        obj._value_ = value
        obj.doc = doc
        return obj


class UnitType(DocEnum):
    """Table 10-1: unit types.  ``SKIPPABLE`` gives the required skippable_flag."""

    SEQUENCE_HEADER = 1, "Sequence header (§4.3). Exactly one, the first unit."
    KEYFRAME = 2, "One coded keyframe (§4.4)."
    TEXT = 3, "One entropy-coded caption (§4.5)."
    INTERP_PARAMS = 4, "Quantised interpolation weights w_i, w_l of one or more consecutive segments (§4.6)."
    FRAME_HASH = 5, "MD5 of decoded frames (§4.7)."
    METADATA = 6, "One key/value pair of informative metadata (§4.8)."
    PADDING = 7, "Zero bytes (§4.8)."
    END_OF_STREAM = 8, "Last unit of the stream, empty payload (§4.8)."
    KEYFRAME_GROUP = 9, "Consecutive coded keyframes of one codec in one unit (§4.9); since 1.2."


#: skippable_flag that a v1 encoder must write for each registered unit type.
SKIPPABLE = {
    UnitType.SEQUENCE_HEADER: False,
    UnitType.KEYFRAME: False,
    UnitType.TEXT: False,
    UnitType.INTERP_PARAMS: False,
    UnitType.FRAME_HASH: True,
    UnitType.METADATA: True,
    UnitType.PADDING: True,
    UnitType.END_OF_STREAM: False,
    UnitType.KEYFRAME_GROUP: False,
}


class Profile(DocEnum):
    """Table 9-1: profiles (which tools a stream may use)."""

    BASELINE = 0, "Normative, bit-exact tools only: reconstruction `blend`; keyframe codecs PNG, AVIF, WebP, AV1, VVC."
    MAIN = 1, "Baseline plus tolerance-defined tools: reconstruction `rife`, keyframe codec `hyperprior` (informative, §7.2.3)."
    GENERATIVE = 2, "Main plus generative tools: reconstruction `sd_lora`, mode TT2V with `t2v_pipeline`."


class Mode(DocEnum):
    """Table 10-2: coding modes."""

    IT2V = 0, "Image+text to video: keyframes are coded as pictures, frames between them are reconstructed."
    TT2V = 1, "Text to video: only captions are coded; frames are generated from text."


class ReconProfile(DocEnum):
    """Table 10-3: reconstruction profiles (how frames between keyframes are made)."""

    BLEND = 0, "Eq. 5 in the pixel domain, integer arithmetic, bit-exact (§7.4)."
    RIFE = 1, "RIFE v4 frame interpolation with time step w_i (§7.5); tolerance-defined."
    SD_LORA = 2, "Stable Diffusion with per-keyframe LoRAs, Eq. 4-6 (§7.6); tolerance-defined."
    T2V_PIPELINE = 3, "Text-to-video diffusion pipeline from captions (§7.7); TT2V only."


class ChromaFormat(DocEnum):
    """Table 10-4: chroma formats."""

    YUV420 = 0, "4:2:0; chroma planes are ceil(width/2) x ceil(height/2)."


class CodecId(DocEnum):
    """Table 10-5: keyframe codecs.  Values 6..127 reserved, 128..255 reserved for private use."""

    PNG = 0, "Lossless PNG of the planar-packed picture (§7.2.1), bit-exact."
    AVIF = 1, "AVIF still image, RGB output converted by §7.2.2."
    WEBP = 2, "WebP still image, RGB output converted by §7.2.2."
    HYPERPRIOR = 3, "Learned image codec, Balle 2018 scale hyperprior (CompressAI), §7.2.3; informative, validate-only for third parties."
    AV1 = 4, "One AV1 temporal unit; all keyframes of the stream form one AV1 sequence (§7.2.4), bit-exact."
    VVC = 5, "One VVC access unit; all keyframes of the stream form one VVC bitstream (§7.2.5), bit-exact."


class TextRole(DocEnum):
    """Table 10-6: text roles."""

    GLOBAL = 0, "Describes the whole sequence (counts to R_m)."
    KEYFRAME_CAPTION = 1, "Describes the keyframe at frame_start (a keyframe represented as text; counts to R_k)."
    MOTION_CAPTION = 2, "Describes the motion from frame_start to frame_end (counts to R_m)."


class TextMethod(DocEnum):
    """Table 10-7: text coding methods (§8)."""

    UTF8 = 0, "Plain UTF-8 bytes; num_tokens is the byte count (§8.1)."
    CMVC_T1 = 1, "Word/byte symbols, static context model t1-v1, ANS coding (§8.2-8.5); num_tokens is the symbol count."
    CMVC_B1 = 2, "UTF-8 bytes, order-0..3 context mix of the static model b1-v1 and adaptive counts, ANS coding (§8.7); num_tokens is the byte count. Since version 1.3."
    CMVC_T2 = 3, "CMVC_T1's symbols, model, and ANS coding (§8.2-8.5) with the model file t2-v1 (broad English vocabulary, §8.10); num_tokens is the symbol count. Since version 1.3."
    UTF8_SIZED = 4, "Plain UTF-8 bytes; num_tokens is 0 and the byte count is the size of text_data (§8.11): at most 2 bytes more than the caption's UTF-8 bytes at any length. Since version 1.4."
    CMVC_L1 = 5, "Tokens of the integer language model that the sequence header declares with role TEXT_MODEL, exact integer PMFs, ANS coding (§8.12); num_tokens is the token count. Since version 1.5."


class ParamCoding(DocEnum):
    """Table 10-8: coding of interpolation parameters (§4.6)."""

    FIXED = 0, "Each value q as an unsigned integer of w_bits+1 bits, MSB first."
    EXP_GOLOMB = 1, "Each value as a signed order-0 Exp-Golomb residual from the linear prediction."


class HashType(DocEnum):
    """Table 10-9: decoded-frame hash types."""

    MD5 = 0, "One MD5 (RFC 1321) per frame: num_frames digests (§7.9)."
    MD5_SPAN = 1, "One MD5 over all num_frames frames in order: a single digest (§7.9)."


class ModelRole(DocEnum):
    """Table 10-10: roles of declared models."""

    KEYFRAME_CODEC = 0, "Weights of a learned keyframe codec."
    RECONSTRUCTION = 1, "Weights of a reconstruction profile (interpolator, diffusion model)."
    TEXT_MODEL = 2, "Weights of a text probability model."
    GENERATION = 3, "Weights of a text-to-video generator."


#: Registries printed in the spec, in order, with their table number.
REGISTRIES: list[tuple[str, type[DocEnum]]] = [
    ("10-1", UnitType), ("9-1", Profile), ("10-2", Mode), ("10-3", ReconProfile), ("10-4", ChromaFormat),
    ("10-5", CodecId), ("10-6", TextRole), ("10-7", TextMethod), ("10-8", ParamCoding), ("10-9", HashType),
    ("10-10", ModelRole),
]

#: Tools each profile allows (§9.1).
PROFILE_TOOLS: dict[Profile, dict[str, set]] = {
    Profile.BASELINE: {
        "recon": {ReconProfile.BLEND},
        "codec": {CodecId.PNG, CodecId.AVIF, CodecId.WEBP, CodecId.AV1, CodecId.VVC},
        "mode": {Mode.IT2V},
    },
    Profile.MAIN: {
        "recon": {ReconProfile.BLEND, ReconProfile.RIFE},
        "codec": {CodecId.PNG, CodecId.AVIF, CodecId.WEBP, CodecId.AV1, CodecId.VVC, CodecId.HYPERPRIOR},
        "mode": {Mode.IT2V},
    },
    Profile.GENERATIVE: {
        "recon": set(ReconProfile),
        "codec": set(CodecId),
        "mode": set(Mode),
    },
}

#: Reconstruction profiles that need a declared model of role RECONSTRUCTION / GENERATION.
RECON_NEEDS_MODEL = {ReconProfile.RIFE: ModelRole.RECONSTRUCTION, ReconProfile.SD_LORA: ModelRole.RECONSTRUCTION,
                     ReconProfile.T2V_PIPELINE: ModelRole.GENERATION}
