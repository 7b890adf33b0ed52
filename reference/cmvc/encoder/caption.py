"""A caption for the encoder to code as a text unit (spec §5.5, §8): role, frame span, text."""
from __future__ import annotations

import dataclasses

from ..registry import TextRole


@dataclasses.dataclass
class Caption:
    role: TextRole
    start: int  # frame_start
    end: int  # frame_end
    text: str
