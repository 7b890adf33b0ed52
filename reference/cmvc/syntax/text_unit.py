"""§4.5 text_unit(): one caption."""
from __future__ import annotations

import dataclasses

from construct_typed import DataclassMixin, csfield

from ..registry import TextMethod, TextRole
from .descriptors import U8, Leb128, Range, Registered, Rest, Syntax


@dataclasses.dataclass
class TextUnit(DataclassMixin):
    """§4.5 text_unit()."""

    role: TextRole = csfield(Registered(U8, TextRole), doc="Table 10-6.")
    frame_start: int = csfield(Leb128(), doc="First frame the text describes.")
    frame_end: int = csfield(Leb128(), doc="Last frame the text describes (inclusive).")
    coding_method: TextMethod = csfield(Registered(U8, TextMethod), doc="Table 10-7.")
    num_tokens: int = csfield(Range(Leb128(), 0, level="max_text_tokens"), doc="Number of coded symbols (§8).")
    text_data: bytes = csfield(Rest(), doc="The coded text (§8).")


TEXT_UNIT = Syntax(TextUnit)
