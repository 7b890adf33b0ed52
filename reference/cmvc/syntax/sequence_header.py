"""§4.3 sequence_header(): picture format, mode, keyframe positions and declared models."""
from __future__ import annotations

import dataclasses

import construct as cs
from construct_typed import DataclassMixin, csfield

from ..registry import ChromaFormat, Mode, ModelRole, ReconProfile
from .descriptors import (U8, U64, Checked, Flags, Leb128, Present, Range, Registered, Repeat, String, Syntax, Zero, limits_of,
                          optional_field)

NO_MODEL = 255
MAX_MODELS = 32


def _picture_size(height, context):
    lim = limits_of(context)
    if lim is not None and context.width * height > lim.max_picture_size:
        return "E008", (f"width*height = {context.width * height} exceeds max_picture_size = "
                        f"{lim.max_picture_size} of level {lim.name}")
    return None


@dataclasses.dataclass
class ColourFlags(DataclassMixin):
    full_range_flag: bool = csfield(cs.Flag, doc="1: full-range samples (0..255); 0: limited range (16..235, 16..240).")
    reserved_zero_7bits: int = csfield(Zero(7), doc="Reserved, 0.")


@dataclasses.dataclass
class ModelFlags(DataclassMixin):
    """The first byte of model_entry()."""

    registered_model_flag: bool = csfield(cs.Flag, doc="1: model_name is a model of §10.9, whose SHA-256 applies; "
                                                       "model_sha256 is absent (since 1.2).")
    model_role: ModelRole = csfield(Registered(cs.BitsInteger(7), ModelRole), doc="What the model is used for (Table 10-10).")


@dataclasses.dataclass
class ModelEntry(DataclassMixin):
    """model_entry(): one model the decoder needs."""

    flags: ModelFlags = csfield(Flags(ModelFlags))
    model_name: str = csfield(String(255), doc="Registry name of the model (§10.9), e.g. `rife-v4`.")
    model_sha256: bytes | None = optional_field(
        Present(lambda c: not c.flags.registered_model_flag, cs.Bytes(32), "registered_model_flag = 0"),
        doc="SHA-256 of the model's weights file (§10.9).")

    @property
    def role(self) -> ModelRole:
        return self.flags.model_role

    @property
    def sha256(self) -> bytes:
        """model_sha256, or for a registered model (registered_model_flag) the SHA-256 of §10.9 (§5.3)."""
        if not self.flags.registered_model_flag:
            return self.model_sha256
        from ..zoo import ZOO

        if self.model_name not in ZOO:
            from ..errors import error

            raise error("E011", f"model {self.model_name!r} is not registered in §10.9")
        return bytes.fromhex(ZOO[self.model_name].sha256)


def model_entry(role: ModelRole, name: str, sha256: bytes | None = None) -> ModelEntry:
    """A model_entry(): with *sha256*, by name and hash; without, a model registered in §10.9 by name
    alone (registered_model_flag, 32 bytes fewer)."""
    return ModelEntry(flags=ModelFlags(registered_model_flag=sha256 is None, model_role=ModelRole(role)),
                      model_name=name, model_sha256=sha256)


@dataclasses.dataclass
class SequenceHeader(DataclassMixin):
    """§4.3 sequence_header()."""

    width: int = csfield(Range(Leb128(), 1, level="max_width"), doc="Luma width in samples.")
    height: int = csfield(Checked(Range(Leb128(), 1, level="max_height"), _picture_size,
                                  "width*height <= max_picture_size of the level"), doc="Luma height in samples.")
    coded_width: int = csfield(Range(Leb128(), 1, cs.this.width, hi_text="width"),
                               doc="Luma width of keyframes and reconstruction; §7.8 upsamples to width.")
    coded_height: int = csfield(Range(Leb128(), 1, cs.this.height, hi_text="height"),
                                doc="Luma height of keyframes and reconstruction; §7.8 upsamples to height.")
    frame_count: int = csfield(Range(Leb128(), 2, level="max_frames"), doc="Number of output frames.")
    frame_rate_num: int = csfield(Range(Leb128(), 1), doc="Frame rate numerator (frames per second = num / den).")
    frame_rate_den: int = csfield(Range(Leb128(), 1), doc="Frame rate denominator.")
    chroma_format: ChromaFormat = csfield(Registered(U8, ChromaFormat), doc="Table 10-4.")
    bit_depth: int = csfield(Range(U8, 8, 8), doc="Bits per sample; 8 in v1.")
    colour_primaries: int = csfield(U8, doc="ITU-T H.273 ColourPrimaries (informative).")
    transfer_characteristics: int = csfield(U8, doc="ITU-T H.273 TransferCharacteristics (informative).")
    matrix_coefficients: int = csfield(U8, doc="ITU-T H.273 MatrixCoefficients; selects the conversion of §7.2.2.")
    colour_flags: ColourFlags = csfield(Flags(ColourFlags))
    mode: Mode = csfield(Registered(U8, Mode), doc="Table 10-2.")
    recon_profile: ReconProfile = csfield(Registered(U8, ReconProfile), doc="Table 10-3.")
    recon_model: int = csfield(U8, doc="Index into models[] of the reconstruction model, or 255 for none; ignored by BLEND (§5.3).")
    recon_param: int = csfield(Range(U8, 0, 2), doc="RIFE: log2 of the flow-estimation downscale (§7.5); SD_LORA, T2V_PIPELINE: steps preset 0..2 (§7.6); BLEND: 0.")
    rng_seed: int = csfield(U64, doc="Seed of every pseudo-random process of the decoder (§7.6).")
    num_keyframes: int = csfield(Range(Leb128(), 0, cs.this.frame_count, hi_text="frame_count"),
                                 doc="Number of keyframes; at least 2 in IT2V mode, 0 in TT2V mode.")
    keyframe_index: list[int] = csfield(Repeat(cs.this.num_keyframes,
                                               Range(Leb128(), 0, cs.this.frame_count - 1, hi_text="frame_count-1"),
                                               "num_keyframes"), doc="Frame index of each keyframe.")
    num_models: int = csfield(Range(Leb128(), 0, MAX_MODELS), doc="Number of model_entry() structures.")
    models: list[ModelEntry] = csfield(Repeat(cs.this.num_models, Syntax(ModelEntry), "num_models"))


SEQUENCE_HEADER = Syntax(SequenceHeader)
