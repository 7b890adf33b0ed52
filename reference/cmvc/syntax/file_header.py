"""§4.1 file_header(): the first 12 bytes of every CMVC file."""
from __future__ import annotations

import dataclasses

import construct as cs
from construct_typed import DataclassMixin, csfield

from ..levels import LEVELS
from ..registry import Profile
from .descriptors import U8, U32, Checked, Registered, Syntax

MAGIC = b"CMVC"
MAJOR_VERSION = 1
MINOR_VERSION = 5  # spec/README.md, Revisions
FILE_HEADER_SIZE = 12


@dataclasses.dataclass
class FileHeader(DataclassMixin):
    """§4.1 file_header()."""

    magic: bytes = csfield(Checked(cs.Bytes(4), lambda v, c: None if v == MAGIC else ("E001", f"magic is {v!r}, not b'CMVC'"),
                                   "= 0x434D5643 ('CMVC')"), doc="Identifies a CMVC file.")
    major_version: int = csfield(Checked(U8, lambda v, c: None if v == MAJOR_VERSION else
                                         ("E003", f"major_version {v} is not supported (this decoder reads 1)"), "= 1"),
                                 doc="Incompatible revisions of the format.")
    minor_version: int = csfield(U8, doc="Compatible revisions; a decoder accepts any value.")
    profile: Profile = csfield(Registered(U8, Profile, code="E004"), doc="Tools the stream may use (§9.1).")
    level: int = csfield(Checked(U8, lambda v, c: None if v in LEVELS else ("E005", f"level {v} is not registered"),
                                 "registered in Table 9-2"), doc="Bounds on sizes (§9.2).")
    header_crc: int = csfield(U32, doc="CRC-32 (§2.4) of the 8 preceding bytes.")


FILE_HEADER = Syntax(FileHeader)
