"""§8 Text coding: captions in text units.

``encode(text) -> bytes`` / ``decode(data) -> str`` code one caption with the default method;
:func:`decode_text_unit` decodes the payload of a parsed text unit by its coding method.
"""
from __future__ import annotations

from ..errors import error
from ..registry import TextMethod

#: SHA-256 of the CMVC-T1 model file ``cmvc/data/t1-v1.bin`` (spec §8.3.2).
T1_SHA256 = "34a2856af0993a4df70e9984f9b94f8b63220b797823ff8015a8e0780aa88ddb"
DEFAULT_METHOD = TextMethod.CMVC_T1


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
    if method == TextMethod.CMVC_T1:
        from .t1 import decode_text

        return decode_text(data, num_tokens)
    raise error("E011", f"text coding method {method} is not implemented")  # pragma: no cover


def encode_text_unit(method: TextMethod, text: str) -> tuple[int, bytes]:
    """Inverse of :func:`decode_text_unit`: ``(num_tokens, text_data)``."""
    if method == TextMethod.UTF8:
        data = text.encode("utf-8")
        return len(data), data
    if method == TextMethod.CMVC_T1:
        from .t1 import encode_text

        return encode_text(text)
    raise error("E101", f"text coding method {method} is not implemented")  # pragma: no cover


def encode(text: str) -> bytes:
    """One caption as a self-delimiting byte string: leb128(method), leb128(num_tokens), text_data."""
    from ..syntax.descriptors import encode_leb128

    num, data = encode_text_unit(DEFAULT_METHOD, text)
    return encode_leb128(int(DEFAULT_METHOD)) + encode_leb128(num) + data


def decode(data: bytes) -> str:
    """Inverse of :func:`encode`."""
    import io

    from ..syntax.descriptors import Leb128

    bio = io.BytesIO(data)
    try:
        method = TextMethod(Leb128().parse_stream(bio))
        num = Leb128().parse_stream(bio)
    except ValueError:
        raise error("E011", "unknown text coding method", offset=0) from None
    except Exception as e:
        if hasattr(e, "code"):
            raise
        raise error("E002", "text header is truncated", offset=len(data)) from None
    return decode_text_unit(method, num, data[bio.tell():])
