"""§8 Text coding: captions in text units.

``encode(text) -> bytes`` / ``decode(data) -> str`` code one caption with the default method;
:func:`decode_text_unit` decodes the payload of a parsed text unit by its coding method.
"""
from __future__ import annotations

from ..errors import error
from ..registry import TextMethod


def decode_text_unit(method: TextMethod, num_tokens: int, data: bytes) -> str:
    """§8: the caption a text unit carries; errors carry offsets relative to text_data."""
    if method == TextMethod.UTF8:
        if len(data) != num_tokens:
            raise error("E020", f"UTF-8 text of {len(data)} bytes, num_tokens says {num_tokens}",
                        offset=min(len(data), num_tokens))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise error("E020", f"text is not valid UTF-8 ({e.reason})", offset=e.start) from None
    raise error("E011", f"text coding method {method} is not implemented")  # pragma: no cover


def encode_text_unit(method: TextMethod, text: str) -> tuple[int, bytes]:
    """Inverse of :func:`decode_text_unit`: ``(num_tokens, text_data)``."""
    if method == TextMethod.UTF8:
        data = text.encode("utf-8")
        return len(data), data
    raise error("E101", f"text coding method {method} is not implemented")  # pragma: no cover
