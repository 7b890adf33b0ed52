"""§8 Text coding: captions in text units.

``encode(text) -> bytes`` / ``decode(data) -> str`` code one caption with the method that gives the
shortest text_data (:func:`encode_best`, §8.8); :func:`decode_text_unit` decodes the payload of a
parsed text unit by its coding method.
"""
from __future__ import annotations

from ..errors import error
from ..registry import TextMethod

#: SHA-256 of the CMVC-T1 model file ``cmvc/data/t1-v1.bin`` (spec §8.3.2).
T1_SHA256 = "34a2856af0993a4df70e9984f9b94f8b63220b797823ff8015a8e0780aa88ddb"
#: SHA-256 of the CMVC-T2 model file ``cmvc/data/t2-v1.bin`` (spec §8.10).
T2_SHA256 = "94f0084dc65579eeaeb5aff02ec8bca7045a456ec4de899a5748b138d6b709c4"
#: SHA-256 of the CMVC-B1 model file ``cmvc/data/b1-v1.bin`` (spec §8.7.1).
B1_SHA256 = "756cba6376d90fdaf563295b0cbad0d50ed16d5fcc5932c8210dc806c493690a"
#: the methods :func:`encode_best` tries, in order of preference on ties (§8.8)
#: (UTF8_SIZED last: on a tie the stream keeps a lower minor version)
BEST_OF = (TextMethod.UTF8, TextMethod.CMVC_T1, TextMethod.CMVC_B1, TextMethod.CMVC_T2, TextMethod.UTF8_SIZED)


def decode_text_unit(method: TextMethod, num_tokens: int, data: bytes) -> str:
    """§8: the caption a text unit carries; errors carry offsets relative to text_data."""
    if method == TextMethod.UTF8:
        if len(data) != num_tokens:
            raise error("E020", f"UTF-8 text of {len(data)} bytes, num_tokens says {num_tokens}",
                        offset=min(len(data), num_tokens))
        return _utf8(data)
    if method == TextMethod.UTF8_SIZED:
        if num_tokens != 0:
            raise error("E020", f"UTF8_SIZED text with num_tokens {num_tokens}, not 0", offset=0)
        return _utf8(data)
    if method == TextMethod.CMVC_T1:
        from .t1 import decode_text

        return decode_text(data, num_tokens)
    if method == TextMethod.CMVC_B1:
        from .b1 import decode_text as decode_b1

        return decode_b1(data, num_tokens)
    if method == TextMethod.CMVC_T2:
        from .model import load_t2_model
        from .t1 import decode_text

        return decode_text(data, num_tokens, load_t2_model())
    raise error("E011", f"text coding method {method} is not implemented")  # pragma: no cover


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error("E020", f"text is not valid UTF-8 ({e.reason})", offset=e.start) from None


def encode_text_unit(method: TextMethod, text: str) -> tuple[int, bytes]:
    """Inverse of :func:`decode_text_unit`: ``(num_tokens, text_data)``."""
    if method == TextMethod.UTF8:
        data = text.encode("utf-8")
        return len(data), data
    if method == TextMethod.UTF8_SIZED:
        return 0, text.encode("utf-8")
    if method == TextMethod.CMVC_T1:
        from .t1 import encode_text

        return encode_text(text)
    if method == TextMethod.CMVC_B1:
        from .b1 import encode_text as encode_b1

        return encode_b1(text)
    if method == TextMethod.CMVC_T2:
        from .model import load_t2_model
        from .t1 import encode_text

        return encode_text(text, load_t2_model())
    raise error("E101", f"text coding method {method} is not implemented")  # pragma: no cover


def encode_best(text: str, methods=BEST_OF) -> tuple[TextMethod, int, bytes]:
    """§8.8: ``(method, num_tokens, text_data)`` with the fewest bytes in num_tokens and text_data
    together (then the earliest method of *methods*).  UTF8 is always tried, so text_data is never
    longer than the caption's UTF-8 bytes; with UTF8_SIZED among *methods* the caption never costs
    more than those bytes + 2 with its coding_method."""
    from ..syntax.descriptors import encode_leb128

    best = None
    for method in dict.fromkeys((TextMethod.UTF8, *methods)):
        num, data = encode_text_unit(method, text)
        key = len(data) + len(encode_leb128(num))
        if best is None or key < best[0]:
            best = key, (method, num, data)
    return best[1]


def encode(text: str) -> bytes:
    """One caption as a self-delimiting byte string: leb128(method), leb128(num_tokens), text_data,
    with the method of :func:`encode_best`."""
    from ..syntax.descriptors import encode_leb128

    method, num, data = encode_best(text)
    return encode_leb128(int(method)) + encode_leb128(num) + data


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
