"""§6 Parsing process: file header, unit layer and unit payloads (in the role of dav1d's obu.c).

Pure logic over a binary stream: no file names, no printing.  Every failure is a
:class:`cmvc.errors.CmvcError` with an absolute byte offset and a field path.
"""
from __future__ import annotations

import dataclasses
import io
import os
import zlib
from typing import Any, BinaryIO

import construct as cs

from .errors import CmvcError, error
from .levels import LEVELS, Level
from .registry import SKIPPABLE, UnitType
from .syntax import FILE_HEADER, FILE_HEADER_SIZE, PAYLOAD_SYNTAX, UNIT, FileHeader, SequenceHeader
from .syntax.descriptors import encode_leb128


@dataclasses.dataclass
class UnitRecord:
    """One unit as found in the stream (§6.3)."""

    index: int
    offset: int  # of unit_type
    header_size: int  # unit_type, flags, payload_size
    payload_size: int
    unit_type: int
    skippable: bool
    crc: int | None  # None: the unit has no unit_crc (no_crc_flag)
    crc_ok: bool
    payload: bytes | None = None
    body: Any = None  # the parsed payload (a syntax dataclass), None if unknown or not parsed
    field_offsets: dict[str, int] = dataclasses.field(default_factory=dict)  # relative to payload start

    @property
    def size(self) -> int:
        return self.header_size + self.payload_size + (0 if self.crc is None else 4)

    @property
    def payload_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def known(self) -> bool:
        return self.unit_type in UnitType._value2member_map_

    @property
    def type_name(self) -> str:
        return UnitType(self.unit_type).name if self.known else f"UNKNOWN_{self.unit_type}"

    @property
    def path(self) -> str:
        return f"units[{self.index}]"

    def field_offset(self, field: str) -> int:
        """Absolute offset of a payload field (the payload start if the field is unknown)."""
        return self.payload_offset + self.field_offsets.get(field, 0)


@dataclasses.dataclass
class ParsedStream:
    """Result of :func:`parse`: the header, every unit, and the errors found (with ``collect=True``)."""

    size: int
    header: FileHeader | None = None
    units: list[UnitRecord] = dataclasses.field(default_factory=list)
    errors: list[CmvcError] = dataclasses.field(default_factory=list)
    complete: bool = False  # the end-of-stream unit was reached

    @property
    def level(self) -> Level | None:
        return LEVELS.get(self.header.level) if self.header else None

    @property
    def sequence_header(self) -> SequenceHeader | None:
        for u in self.units:
            if u.unit_type == UnitType.SEQUENCE_HEADER and isinstance(u.body, SequenceHeader):
                return u.body
        return None

    def of_type(self, unit_type: UnitType) -> list[UnitRecord]:
        return [u for u in self.units if u.unit_type == unit_type and u.body is not None]


def crc32(data: bytes, value: int = 0) -> int:
    """§2.4 CRC-32 (ISO-HDLC; zlib, PNG)."""
    return zlib.crc32(data, value) & 0xFFFFFFFF


def _construct_error(exc: Exception, stream_size: int, path: str) -> CmvcError:
    """Map a construct exception to ours: a short read is E002 at the end of the data."""
    if isinstance(exc, cs.StreamError):
        return error("E002", f"the data ends inside {path or 'the stream'}", offset=stream_size, path=path)
    return error("E012", f"cannot parse {path}: {exc}", path=path)  # pragma: no cover - defensive


def parse_payload(unit_type: UnitType, payload: bytes, *, level: Level | None, base: int = 0,
                  path: str = "", offsets: dict | None = None) -> Any:
    """§6.4: parse one unit payload; the payload must be consumed exactly (E012)."""
    syntax = PAYLOAD_SYNTAX[unit_type]
    bio = io.BytesIO(payload)
    try:
        body = syntax.parse_stream(bio, level=level, stream_size=len(payload), offsets=offsets)
    except CmvcError as e:
        if e.code == "E002":  # the payload, not the file, is too short
            e = error("E012", f"{UnitType(unit_type).name} payload of {len(payload)} bytes ends inside "
                              f"{e.path or 'its syntax'}", offset=len(payload), path=e.path)
        raise e.relocate(base, path)
    except cs.ConstructError as e:
        p = _construct_path(e)
        raise error("E012", f"{UnitType(unit_type).name} payload of {len(payload)} bytes ends inside {p}",
                    offset=base + len(payload), path=f"{path}.{p}" if p else path) from None
    if bio.tell() != len(payload):
        raise error("E012", f"{len(payload) - bio.tell()} bytes follow the {UnitType(unit_type).name} syntax",
                    offset=base + bio.tell(), path=path)
    return body


def _construct_path(e: Exception) -> str:
    from .syntax.descriptors import field_path

    return field_path(getattr(e, "path", "") or "")


def _stream_size(f: BinaryIO) -> int:
    pos = f.tell()
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(pos)
    return size


def parse(source: bytes | bytearray | memoryview | BinaryIO, *, collect: bool = False,
          keep_payloads: bool = True, parse_bodies: bool = True) -> ParsedStream:
    """§6: parse a whole stream.

    With ``collect=False`` the first error is raised.  With ``collect=True`` errors are gathered in
    ``ParsedStream.errors``: errors that leave the unit framing intact (a CRC mismatch, a bad payload,
    an unknown mandatory unit) let parsing go on; the others end it.
    """
    f = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source
    if isinstance(f, io.TextIOBase) or not all(callable(getattr(f, m, None)) for m in ("read", "seek", "tell")):
        raise error("E101", f"a stream is bytes or a binary file open for reading, not {type(source).__name__}"
                            + (": open(path, 'rb')" if isinstance(source, (str, os.PathLike)) else ""))
    size = _stream_size(f)
    ps = ParsedStream(size=size)

    def report(e: CmvcError, fatal: bool) -> None:
        if not collect:
            raise e
        ps.errors.append(e)
        if fatal:
            raise _Stop

    try:
        _parse_into(f, ps, report, keep_payloads, parse_bodies)
    except _Stop:
        pass
    return ps


class _Stop(Exception):
    pass


def _parse_into(f: BinaryIO, ps: ParsedStream, report, keep_payloads: bool, parse_bodies: bool) -> None:
    size = ps.size
    # §6.1 file header
    try:
        hdr_bytes = f.read(FILE_HEADER_SIZE)
        ps.header = FILE_HEADER.parse(hdr_bytes, stream_size=len(hdr_bytes))
    except CmvcError as e:
        if e.code == "E002":
            e.offset = size
        report(e, fatal=True)
    except cs.ConstructError as e:
        report(_construct_error(e, size, "file_header." + _construct_path(e)), fatal=True)
    level = LEVELS[ps.header.level]
    if ps.header.header_crc != crc32(hdr_bytes[:8]):
        report(error("E006", f"header_crc {ps.header.header_crc:#010x} != CRC-32 {crc32(hdr_bytes[:8]):#010x}",
                     offset=8, path="file_header.header_crc"), fatal=True)
    if size > level.max_stream_size:
        report(error("E008", f"stream of {size} bytes exceeds max_stream_size = {level.max_stream_size} of level "
                             f"{level.name}", offset=level.max_stream_size, path="file_header.level"), fatal=True)

    # §6.2 unit layer
    pos = FILE_HEADER_SIZE
    index = 0
    while True:
        path = f"units[{index}]"
        if pos >= size:
            report(error("E002", "the data ends before the end-of-stream unit", offset=size, path=path), fatal=True)
        f.seek(pos)
        try:
            u = UNIT.parse_stream(f, level=level, stream_size=size)
        except CmvcError as e:
            report(e.relocate(0, path), fatal=True)
        except cs.ConstructError as e:
            report(_construct_error(e, size, f"{path}.{_construct_path(e)}"), fatal=True)
        flags_byte = (u.flags.skippable_flag << 7) | (u.flags.no_crc_flag << 6) | u.flags.reserved_zero_6bits
        header = bytes((u.unit_type, flags_byte)) + encode_leb128(u.payload_size)
        expect = crc32(u.payload, crc32(header))
        rec = UnitRecord(index=index, offset=pos, header_size=len(header), payload_size=u.payload_size,
                         unit_type=u.unit_type, skippable=u.flags.skippable_flag, crc=u.unit_crc,
                         crc_ok=u.unit_crc is None or expect == u.unit_crc, payload=u.payload if keep_payloads else None)
        ps.units.append(rec)
        pos += rec.size
        index += 1
        if not rec.crc_ok:
            report(error("E006", f"unit_crc {u.unit_crc:#010x} != CRC-32 {expect:#010x} of the unit",
                         offset=pos - 4, path=f"{path}.unit_crc"), fatal=False)
            continue
        _check_unit(rec, u.payload, ps, report, level, parse_bodies)
        if rec.unit_type == UnitType.END_OF_STREAM:
            ps.complete = True
            if pos != size:
                report(error("E015", f"{size - pos} bytes follow the end-of-stream unit", offset=pos,
                             path=f"units[{index}]"), fatal=True)
            return


def _check_unit(rec: UnitRecord, payload: bytes, ps: ParsedStream, report, level: Level, parse_bodies: bool) -> None:
    """§6.3: unit type, skippable_flag, order; then the payload (§6.4)."""
    path = rec.path
    if not rec.known:
        if not rec.skippable:
            report(error("E009", f"unit_type {rec.unit_type} is not registered and skippable_flag is 0",
                         offset=rec.offset, path=f"{path}.unit_type"), fatal=False)
        return
    utype = UnitType(rec.unit_type)
    if rec.skippable != SKIPPABLE[utype]:
        report(error("E010", f"skippable_flag of a {utype.name} unit must be {int(SKIPPABLE[utype])}",
                     offset=rec.offset + 1, path=f"{path}.flags"), fatal=False)
    if rec.index == 0 and utype != UnitType.SEQUENCE_HEADER:
        report(error("E013", f"the first unit is {utype.name}, not SEQUENCE_HEADER", offset=rec.offset,
                     path=f"{path}.unit_type"), fatal=True)
    if rec.index > 0 and utype == UnitType.SEQUENCE_HEADER:
        report(error("E013", "a second SEQUENCE_HEADER unit", offset=rec.offset, path=f"{path}.unit_type"), fatal=False)
        return
    if not parse_bodies and utype not in (UnitType.SEQUENCE_HEADER, UnitType.END_OF_STREAM):
        return
    try:
        rec.body = parse_payload(utype, payload, level=level, base=rec.payload_offset,
                                 path=f"{path}.{utype.name.lower()}", offsets=rec.field_offsets)
    except CmvcError as e:
        report(e, fatal=utype == UnitType.SEQUENCE_HEADER)
