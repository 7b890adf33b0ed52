"""Errors (spec §10.8, "Error codes").

One exception root, :class:`CmvcError`.  Every error carries a stable code
(``E`` + three digits), the absolute byte offset it refers to (or ``None``),
the field path (``units[3].keyframe.codec_id``) and a message.  The subclass says
who is at fault, as h11 does:

* :class:`BitstreamError`: the stream violates the specification;
* :class:`UsageError`: the caller asked for something impossible;
* :class:`ResourceError`: the environment lacks something (a model, a file).

The table :data:`ERROR_CODES` is the single source of the registry printed in the spec.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    code: str
    name: str
    fault: str  # "stream" | "caller" | "environment"
    description: str


_CODES = [
    # --- bitstream errors (the stream is at fault) ---
    ("E001", "BAD_MAGIC", "stream", "The file does not start with the magic bytes `CMVC`."),
    ("E002", "TRUNCATED", "stream", "The data ends before a syntax element is complete. The offset is the end of the data."),
    ("E003", "UNSUPPORTED_VERSION", "stream", "`major_version` is not 1."),
    ("E004", "UNKNOWN_PROFILE", "stream", "`profile` is not a registered profile."),
    ("E005", "UNKNOWN_LEVEL", "stream", "`level` is not a registered level."),
    ("E006", "CRC_MISMATCH", "stream", "A `header_crc` or `unit_crc` differs from the CRC-32 of the bytes it covers."),
    ("E007", "BAD_LEB128", "stream", "A leb128() is longer than 5 bytes, not minimal, or its value exceeds 2^32-1."),
    ("E008", "LEVEL_EXCEEDED", "stream", "A value exceeds a bound of the stream's level (Table 9-2)."),
    ("E009", "UNKNOWN_MANDATORY_UNIT", "stream", "A unit with an unregistered `unit_type` has `skippable_flag` equal to 0."),
    ("E010", "RESERVED_BITS", "stream", "A reserved bit is not zero, or `skippable_flag` differs from the value Table 10-1 requires."),
    ("E011", "UNREGISTERED_VALUE", "stream", "A field holds a value that its registry does not define."),
    ("E012", "PAYLOAD_SIZE_MISMATCH", "stream", "A unit payload is shorter or longer than its syntax structure."),
    ("E013", "BAD_UNIT_ORDER", "stream", "The first unit is not a sequence header, or a second sequence header occurs."),
    ("E014", "MISSING_END_OF_STREAM", "stream", "Reserved; E002 is raised when the data ends before the end-of-stream unit."),
    ("E015", "DATA_AFTER_END_OF_STREAM", "stream", "Bytes follow the end-of-stream unit."),
    ("E016", "BAD_KEYFRAME_INDICES", "stream", "Keyframe indices are not strictly increasing, or do not start at 0 and end at frame_count-1."),
    ("E017", "KEYFRAME_UNIT_MISMATCH", "stream", "A keyframe has no keyframe unit, has several, or a keyframe unit names a frame that is not a keyframe or comes out of order; or a keyframe group's first_keyframe is not the number of keyframes before it, or it codes keyframes past the last."),
    ("E018", "UNDECLARED_MODEL", "stream", "A field references a model that the sequence header does not declare, or one of the wrong role."),
    ("E019", "VALUE_OUT_OF_RANGE", "stream", "A field is outside the range its semantics allow (e.g. a quantised weight above 2^w_bits)."),
    ("E020", "TEXT_PAYLOAD_CORRUPT", "stream", "A text payload does not decode to the declared number of tokens or to valid UTF-8."),
    ("E021", "BAD_UTF8", "stream", "A string() is not valid UTF-8."),
    ("E022", "BAD_FRAME_SPAN", "stream", "A frame index or span lies outside 0..frame_count-1, or start > end."),
    ("E023", "FRAME_HASH_MISMATCH", "stream", "A decoded frame's MD5 differs from the frame hash unit, on frames of normative processes only (§7.9)."),
    ("E024", "KEYFRAME_PAYLOAD_CORRUPT", "stream", "A keyframe payload does not decode to a picture of the sequence's size and format, or decodes to one more than 64 samples wider or higher than the coded size (§9.3)."),
    ("E025", "DUPLICATE_UNIT", "stream", "Two interpolation-parameter units name the same segment, or two frame hashes cover one frame."),
    ("E026", "NONZERO_PADDING", "stream", "A padding unit contains a byte other than 0x00."),
    ("E027", "PARAMETER_COUNT_MISMATCH", "stream", "An interpolation-parameter unit does not carry one value per frame of its segment."),
    ("E028", "PROFILE_VIOLATION", "stream", "The stream uses a tool that its profile does not allow, or mixes AV1 or VVC with other keyframe codecs."),
    ("E029", "TEXT_MODEL_MISSING", "stream", "A text unit coded with CMVC_L1 is in a stream whose sequence header declares no model of role TEXT_MODEL (§8.12)."),
    ("E030", "TEXT_TOO_LONG_FOR_MODEL", "stream", "A CMVC_L1 text unit's num_tokens exceeds max_positions of the declared text model (§8.12)."),
    # --- caller errors ---
    ("E101", "BAD_ARGUMENT", "caller", "An argument is invalid (a value out of range for building, an unknown option)."),
    ("E102", "INPUT_UNREADABLE", "caller", "An input file does not exist or cannot be read as the expected kind of file."),
    ("E103", "UNSUPPORTED_INPUT", "caller", "The input video cannot be coded (too few frames, unsupported format)."),
    ("E113", "UNKNOWN_DEVICE", "caller", "A device other than cpu, cuda or auto is asked for."),
    ("E114", "BAD_OUTPUT", "caller", "The output path cannot be written as asked: an extension no writer has, a directory where a file is meant, a file where a directory is meant, or a place that cannot be created."),
    ("E116", "CHUNKING_UNSUPPORTED", "caller", "Chunked encoding options are invalid (workers, threads or chunk length below 1), or name a mode, profile, keyframe codec or captioner that cannot be coded in independent chunks."),
    ("E117", "CHUNKS_INCOMPATIBLE", "caller", "Independently coded chunks cannot be joined into one stream: they differ in size, profile, keyframe codec or models."),
    ("E104", "OUTPUT_UNWRITABLE", "caller", "An output path cannot be written (a directory, or a folder where no file can be created)."),
    # --- environment errors ---
    ("E201", "MODEL_UNAVAILABLE", "environment", "A model the stream needs is not installed and cannot be fetched."),
    ("E202", "MODEL_HASH_MISMATCH", "environment", "A model's weights do not have the SHA-256 that the registry or stream declares."),
    ("E203", "TOOL_UNAVAILABLE", "environment", "An external tool or library feature (an encoder, ffmpeg) is missing."),
    ("E210", "DEVICE_UNAVAILABLE", "environment", "The device asked for (cuda) is not available to torch."),
    ("E211", "OUTPUT_WRITE_FAILED", "environment", "Writing the output failed part way (a full disk, an I/O error, a writer library that fails)."),
    ("E212", "WORKER_FAILED", "environment", "A worker process of a parallel encode died before returning its chunk (e.g. killed for lack of memory)."),
    ("E220", "TEXT_MODEL_INVALID", "environment", "A declared text model file is not a valid CMLM version 1 file: its layout, dimensions, or E, R, EXP or SIG values are not those §8.12.1 requires."),
    ("E204", "MODEL_UNLOADABLE", "environment", "A model's weights file has the expected hash but cannot be loaded safely (an unsafe pickle, or not a weights file)."),
]

ERROR_CODES: dict[str, ErrorCode] = {c: ErrorCode(c, n, f, d) for c, n, f, d in _CODES}
BY_NAME: dict[str, str] = {e.name: e.code for e in ERROR_CODES.values()}


_ADDRESS = re.compile(r"<([\w.]+)(?: object)? at 0x[0-9a-fA-F]+>")


def describe(exc: BaseException) -> str:
    """A library's exception as one stable line: its first line, object addresses removed."""
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else type(exc).__name__
    return _ADDRESS.sub(r"<\1>", first)


class CmvcError(Exception):
    """Root of all errors raised by the package."""

    fault = "unknown"

    def __init__(self, code: str, message: str, *, offset: int | None = None, path: str = "") -> None:
        if code in BY_NAME:
            code = BY_NAME[code]
        if code not in ERROR_CODES:  # pragma: no cover - programming error
            raise ValueError(f"unregistered error code {code}")
        self.code = code
        self.offset = offset
        self.path = path
        self.message = _ADDRESS.sub(r"<\1>", message)  # the same input gives the same message in every run
        super().__init__(self.__str__())

    @property
    def name(self) -> str:
        return ERROR_CODES[self.code].name

    def relocate(self, base: int, prefix: str) -> "CmvcError":
        """Make a payload-relative error absolute: add *base* to the offset, *prefix* to the path."""
        if self.offset is not None:
            self.offset += base
        if prefix:
            self.path = f"{prefix}.{self.path}" if self.path else prefix
        self.args = (self.__str__(),)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "offset": self.offset, "path": self.path,
                "message": self.message, "fault": self.fault}

    def __str__(self) -> str:
        where = []
        if self.offset is not None:
            where.append(f"byte {self.offset}")
        if self.path:
            where.append(self.path)
        loc = f" at {', '.join(where)}" if where else ""
        return f"{self.code} {self.name}{loc}: {self.message}"


class BitstreamError(CmvcError):
    """The stream violates the specification."""

    fault = "stream"


class UsageError(CmvcError):
    """The caller asked for something invalid."""

    fault = "caller"


class ResourceError(CmvcError):
    """The environment lacks a model, tool or file the operation needs."""

    fault = "environment"


_FAULT_CLASS = {"stream": BitstreamError, "caller": UsageError, "environment": ResourceError}


def error(code: str, message: str, *, offset: int | None = None, path: str = "") -> CmvcError:
    """Make the error of the right class for *code* (by code ``E0xx`` or by name)."""
    code = BY_NAME.get(code, code)
    return _FAULT_CLASS[ERROR_CODES[code].fault](code, message, offset=offset, path=path)
