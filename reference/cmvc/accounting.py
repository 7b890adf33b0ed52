"""Bit accounting (spec §3.3, paper Eq. 2): where every bit of a stream goes.

R_k: keyframe units, keyframe groups and keyframe-caption text units.  R_m: motion and global captions and
interpolation parameters.  Overhead: file header, unit headers (type, flags, size), CRCs, the
sequence header, frame hashes, metadata, padding, end of stream and unknown units.
``R_k + R_m + overhead = 8 x file size``.  Eq. 2 attributes every bit to R_k or R_m:
a unit's framing goes with its content, stream-level overhead goes to R_m.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any

from .parse import ParsedStream, UnitRecord
from .registry import TextRole, UnitType
from .syntax import FILE_HEADER_SIZE

OVERHEAD_KINDS = ("file_header", "unit_headers", "crc", "sequence_header", "frame_hash", "metadata", "padding",
                  "end_of_stream", "unknown")


def payload_category(rec: UnitRecord) -> str:
    """``R_k``, ``R_m`` or an overhead kind, for the payload bits of one unit."""
    if not rec.known:
        return "unknown"
    t = UnitType(rec.unit_type)
    if t in (UnitType.KEYFRAME, UnitType.KEYFRAME_GROUP):
        return "R_k"
    if t == UnitType.TEXT:
        body = rec.body
        return "R_k" if body is not None and body.role == TextRole.KEYFRAME_CAPTION else "R_m"
    if t == UnitType.INTERP_PARAMS:
        return "R_m"
    return t.name.lower()


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, enums and bytes as JSON values (bytes: hex up to 32 bytes, else a length)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, (bytes, bytearray)):
        return obj.hex() if len(obj) <= 32 else {"bytes": len(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items() if not str(k).startswith("_")}
    return obj


def account(ps: ParsedStream) -> dict[str, Any]:
    """Per-unit records and totals (the data of ``cmvc inspect --json``)."""
    totals = {"R_k": 0, "R_m": 0, **{k: 0 for k in OVERHEAD_KINDS}}
    eq2 = {"R_k": 0, "R_m": 0}
    totals["file_header"] = 8 * min(FILE_HEADER_SIZE, ps.size)
    eq2["R_m"] += totals["file_header"]
    units = []
    for rec in ps.units:
        cat = payload_category(rec)
        totals["unit_headers"] += 8 * rec.header_size
        totals["crc"] += 0 if rec.crc is None else 32
        totals[cat] += 8 * rec.payload_size
        eq2["R_k" if cat == "R_k" else "R_m"] += 8 * rec.size
        units.append({
            "index": rec.index, "type": rec.type_name, "unit_type": rec.unit_type, "offset": rec.offset,
            "size": rec.size, "bits": 8 * rec.size, "header_bits": 8 * rec.header_size,
            "payload_bits": 8 * rec.payload_size, "crc_bits": 0 if rec.crc is None else 32, "category": cat, "skippable": rec.skippable,
            "crc_ok": rec.crc_ok, "fields": to_jsonable(rec.body) if rec.body is not None else None,
        })
    accounted = sum(totals.values())
    tail = 8 * ps.size - accounted  # bytes the parser did not reach (invalid streams only)
    out: dict[str, Any] = {"size": ps.size, "bits": 8 * ps.size, "units": units}
    overhead = {k: totals[k] for k in OVERHEAD_KINDS}
    if tail:
        overhead["unparsed"] = tail
        eq2["R_m"] += tail
    out["totals"] = {"R_k": totals["R_k"], "R_m": totals["R_m"], "overhead": sum(overhead.values()),
                     "overhead_detail": overhead, "eq2": eq2, "sum": totals["R_k"] + totals["R_m"] + sum(overhead.values())}
    if ps.header is not None:
        out["file_header"] = to_jsonable(ps.header)
    sh = ps.sequence_header
    if sh is not None:
        pixels = sh.width * sh.height * sh.frame_count
        seconds = sh.frame_count * sh.frame_rate_den / sh.frame_rate_num
        out["sequence_header"] = to_jsonable(sh)
        out["rate"] = {
            "bpp": 8 * ps.size / pixels, "bpp_R_k": totals["R_k"] / pixels, "bpp_R_m": totals["R_m"] / pixels,
            "kbps": 8 * ps.size / seconds / 1000, "seconds": seconds, "pixels": pixels,
        }
    return out
