"""Stream writer: the mirror of :mod:`cmvc.parse` (§4, §6 read backwards).

Pure logic: builds bytes; the caller decides where they go.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .errors import CmvcError, error
from .levels import LEVELS, Level
from .parse import crc32
from .registry import SKIPPABLE, Profile, UnitType
from .syntax import FILE_HEADER, PAYLOAD_CLASS, PAYLOAD_SYNTAX, EndOfStreamUnit, FileHeader, SequenceHeader
from .syntax.descriptors import encode_leb128
from .syntax.file_header import MAGIC, MAJOR_VERSION, MINOR_VERSION


def build_file_header(profile: Profile, level: int, minor_version: int = 1) -> bytes:
    """§4.1 file_header() with its CRC; *minor_version* at most MINOR_VERSION, the revision this
    implementation writes (see :class:`StreamWriter`)."""
    if not 0 <= minor_version <= MINOR_VERSION:
        raise error("E101", f"minor_version {minor_version} is not 0..{MINOR_VERSION}")
    if level not in LEVELS:
        raise error("E101", f"level {level} is not registered")
    head = FILE_HEADER.build(FileHeader(magic=MAGIC, major_version=MAJOR_VERSION, minor_version=minor_version,
                                        profile=Profile(profile), level=level, header_crc=0))[:8]
    return head + crc32(head).to_bytes(4, "big")


def build_payload(unit_type: UnitType, body: Any, level: Level | None = None) -> bytes:
    """§4.3-4.9: the payload bytes of a registered unit type."""
    unit_type = UnitType(unit_type)
    cls = PAYLOAD_CLASS[unit_type]
    if not isinstance(body, cls):
        raise error("E101", f"a {unit_type.name} unit needs a {cls.__name__}, got {type(body).__name__}")
    try:
        return PAYLOAD_SYNTAX[unit_type].build(body, level=level)
    except CmvcError as e:
        raise e.relocate(0, unit_type.name.lower())
    except Exception as e:  # construct's own build errors are the caller's fault
        raise error("E101", f"cannot build {unit_type.name}: {e}") from None


def build_unit(unit_type: int, payload: bytes, *, skippable: bool | None = None, reserved: int = 0,
               crc: bool = True) -> bytes:
    """§4.2 unit(): header, payload and (unless *crc* is False: no_crc_flag) its CRC.  *skippable*
    defaults to Table 10-1's value."""
    if skippable is None:
        skippable = SKIPPABLE.get(unit_type, True)
    if not 0 <= unit_type <= 255 or not 0 <= reserved <= 63:
        raise error("E101", "unit_type must be 0..255 and reserved 0..63")
    header = bytes((unit_type, (int(skippable) << 7) | (int(not crc) << 6) | reserved)) + encode_leb128(len(payload))
    return header + payload + (crc32(payload, crc32(header)).to_bytes(4, "big") if crc else b"")


def needs_minor_2(unit_type: UnitType, body: Any) -> bool:
    """Whether a unit uses syntax of revision 1.2: a KEYFRAME_GROUP unit (§4.9), or a sequence header
    declaring a model by registered name alone (registered_model_flag, §4.3)."""
    if unit_type == UnitType.KEYFRAME_GROUP:
        return True
    return unit_type == UnitType.SEQUENCE_HEADER and any(m.flags.registered_model_flag for m in body.models)


def needs_minor_5(unit_type: UnitType, body: Any) -> bool:
    """Whether a unit uses a value of revision 1.5: a text unit coded with CMVC_L1 (§8.12)."""
    from .registry import TextMethod

    return unit_type == UnitType.TEXT and body.coding_method == TextMethod.CMVC_L1


def needs_minor_4(unit_type: UnitType, body: Any) -> bool:
    """Whether a unit uses a value of revision 1.4: a text unit coded with UTF8_SIZED (§8.11)."""
    from .registry import TextMethod

    return unit_type == UnitType.TEXT and body.coding_method == TextMethod.UTF8_SIZED


def needs_minor_3(unit_type: UnitType, body: Any) -> bool:
    """Whether a unit uses a value of revision 1.3: a text unit coded with CMVC_B1 or CMVC_T2 (§8.7, §8.10)."""
    from .registry import TextMethod

    return unit_type == UnitType.TEXT and body.coding_method in (TextMethod.CMVC_B1, TextMethod.CMVC_T2)


@dataclasses.dataclass
class StreamWriter:
    """Collects units and returns the stream; :meth:`finish` appends the end-of-stream unit.

    ``minor_version`` None: the lowest revision whose syntax the stream uses, 5 with a 1.5 value
    (:func:`needs_minor_5`), 4 with a 1.4 value (:func:`needs_minor_4`), 3 with a 1.3 value (:func:`needs_minor_3`), 2 with 1.2 syntax (:func:`needs_minor_2`) and 1 otherwise, so that a
    stream without 1.2 syntax is byte for byte the stream a 1.1 encoder writes (§5.1: a decoder accepts any minor_version)."""

    profile: Profile
    level: int
    crc: bool = True  # each unit with its unit_crc (False: no_crc_flag = 1)
    parts: list[bytes] = dataclasses.field(default_factory=list)
    minor_version: int | None = None
    _needed: int = 1

    def __post_init__(self) -> None:
        self.parts.append(build_file_header(self.profile, self.level, self._minor(1)))

    def _minor(self, needed: int) -> int:
        return needed if self.minor_version is None else self.minor_version

    def add(self, unit_type: UnitType, body: Any) -> bytes:
        unit = build_unit(unit_type, build_payload(unit_type, body, LEVELS[self.level]), crc=self.crc)
        self.parts.append(unit)
        need = next((v for v, f in ((5, needs_minor_5), (4, needs_minor_4), (3, needs_minor_3), (2, needs_minor_2))
                     if f(unit_type, body)), 1)
        if need > self._needed:
            self._needed = need
            self.parts[0] = build_file_header(self.profile, self.level, self._minor(need))
        return unit

    def add_raw(self, unit: bytes) -> None:
        """Append an already built unit (e.g. an unknown skippable unit)."""
        self.parts.append(unit)

    def finish(self) -> bytes:
        self.add(UnitType.END_OF_STREAM, EndOfStreamUnit())
        return b"".join(self.parts)


def make_sequence_header(width: int, height: int, frame_count: int, keyframes: list[int], *,
                         fps: tuple[int, int] = (25, 1), mode=None, recon_profile=None, recon_model: int = 255,
                         recon_param: int = 0, coded_size: tuple[int, int] | None = None,
                         rng_seed: int = 0, models: list | None = None, matrix_coefficients: int = 1,
                         colour_primaries: int = 1, transfer_characteristics: int = 1,
                         full_range: bool = False) -> "SequenceHeader":
    """A :class:`SequenceHeader` with BT.709 limited-range colour unless told otherwise."""
    from .registry import ChromaFormat, Mode, ReconProfile
    from .syntax import ColourFlags, SequenceHeader

    models = list(models or [])
    return SequenceHeader(
        width=width, height=height, coded_width=(coded_size or (width, height))[0],
        coded_height=(coded_size or (width, height))[1], frame_count=frame_count, frame_rate_num=fps[0], frame_rate_den=fps[1],
        chroma_format=ChromaFormat.YUV420, bit_depth=8, colour_primaries=colour_primaries,
        transfer_characteristics=transfer_characteristics, matrix_coefficients=matrix_coefficients,
        colour_flags=ColourFlags(full_range_flag=full_range, reserved_zero_7bits=0),
        mode=Mode.IT2V if mode is None else Mode(mode),
        recon_profile=ReconProfile.BLEND if recon_profile is None else ReconProfile(recon_profile),
        recon_model=recon_model, recon_param=recon_param, rng_seed=rng_seed, num_keyframes=len(keyframes), keyframe_index=list(keyframes),
        num_models=len(models), models=models)
