"""§4.2 unit(): the unit layer (in the style of AV1 OBUs)."""
from __future__ import annotations

import dataclasses

import construct as cs
from construct_typed import DataclassMixin, csfield

from .descriptors import U8, U32, Flags, Leb128, Payload, Present, Range, Syntax, Zero, optional_field


@dataclasses.dataclass
class UnitFlags(DataclassMixin):
    """The flags byte of unit()."""

    skippable_flag: bool = csfield(cs.Flag, doc="1: a decoder that does not know unit_type skips the unit.")
    no_crc_flag: bool = csfield(cs.Flag, doc="1: the unit has no unit_crc.")
    reserved_zero_6bits: int = csfield(Zero(6), doc="Reserved, 0.")


@dataclasses.dataclass
class Unit(DataclassMixin):
    """§4.2 unit()."""

    unit_type: int = csfield(U8, doc="Kind of payload (Table 10-1); unregistered values are handled by §6.3.")
    flags: UnitFlags = csfield(Flags(UnitFlags))
    payload_size: int = csfield(Range(Leb128(), 0, level="max_unit_size"), doc="Bytes in unit_payload.")
    payload: bytes = csfield(Payload(cs.this.payload_size, "payload_size"),
                             doc="unit_payload(): the syntax structure for unit_type (§4.3-§4.9).")
    unit_crc: int | None = optional_field(Present(lambda c: not c.flags.no_crc_flag, U32, "no_crc_flag = 0"),
                                          doc="CRC-32 (§2.4) of every byte of the unit before unit_crc.")


UNIT = Syntax(Unit)
UNIT_HEADER = cs.Struct("unit_type" / U8, "flags" / Flags(UnitFlags), "payload_size" / Range(Leb128(), 0, level="max_unit_size"))
