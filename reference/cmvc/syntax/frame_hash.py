"""§4.7 frame_hash_unit(): MD5 of decoded frames (like the VVC decoded picture hash SEI)."""
from __future__ import annotations

import dataclasses

import construct as cs
from construct_typed import DataclassMixin, csfield

from ..registry import HashType
from .descriptors import U8, Leb128, Range, Registered, Repeat, Syntax


def num_digests(ctx) -> int:
    """NumDigests: one per frame for MD5, one for the whole span for MD5_SPAN."""
    return ctx.num_frames if ctx.hash_type == HashType.MD5 else 1


@dataclasses.dataclass
class FrameHashUnit(DataclassMixin):
    """§4.7 frame_hash_unit()."""

    hash_type: HashType = csfield(Registered(U8, HashType), doc="Table 10-9.")
    first_frame: int = csfield(Leb128(), doc="Index of the first frame hashed.")
    num_frames: int = csfield(Range(Leb128(), 1, level="max_frames"), doc="Number of consecutive frames hashed.")
    digest: list[bytes] = csfield(Repeat(num_digests, cs.Bytes(16), "NumDigests"),
                                  doc="NumDigests = num_frames for MD5, 1 for MD5_SPAN; see §7.9.")


FRAME_HASH_UNIT = Syntax(FrameHashUnit)
