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


def decode_text_unit(method: TextMethod, num_tokens: int, data: bytes, model=None) -> str:
    """§8: the caption a text unit carries; errors carry offsets relative to text_data.  CMVC_L1 needs
    the stream's text *model* (:func:`decode_text_units` decodes a stream's captions in one batch)."""
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
    if method == TextMethod.CMVC_L1:
        if model is None:
            raise error("E029", "a CMVC_L1 text unit needs the text model of the sequence header", offset=0)
        from .l1 import decode_texts

        out = decode_texts(model, [(num_tokens, data)])[0]
        if isinstance(out, Exception):
            raise out
        return out
    raise error("E011", f"text coding method {method} is not implemented")  # pragma: no cover


def decode_text_units(units: list, models: list, load=None) -> list:
    """§8: the caption of each text unit (body) of one stream, or the error it raises (offsets relative to
    its text_data; E029 and E030 without offset, for the caller to place; the environment's errors of
    loading the model as ``load`` raised them, for every CMVC_L1 unit).  CMVC_L1 units are decoded in
    one lockstep batch with the first declared model of role TEXT_MODEL (§8.12), loaded by
    ``load(index, entry)`` (default: :func:`cmvc.text.l1.load_model`)."""
    from ..errors import CmvcError
    from . import l1

    out: list = [None] * len(units)
    lm_units = [j for j, u in enumerate(units) if u.coding_method == TextMethod.CMVC_L1]
    for j, u in enumerate(units):
        if u.coding_method != TextMethod.CMVC_L1:
            try:
                out[j] = decode_text_unit(u.coding_method, u.num_tokens, u.text_data)
            except CmvcError as e:
                out[j] = e
    if lm_units:
        index = l1.text_model_index(models)
        if index is None:
            for j in lm_units:
                out[j] = error("E029", "a CMVC_L1 text unit in a stream whose sequence header declares no model of "
                                       "role TEXT_MODEL")
            return out
        entry = models[index]
        try:
            model = (load or (lambda i, m: l1.load_model(m.model_name, m.sha256.hex())))(index, entry)
        except CmvcError as e:  # the model is missing, altered or malformed (E201, E202, E220)
            for j in lm_units:
                out[j] = e
            return out
        for j, r in zip(lm_units, l1.decode_texts(model, [(units[j].num_tokens, units[j].text_data) for j in lm_units])):
            out[j] = r
    return out


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
    if method == TextMethod.CMVC_L1:
        raise error("E101", "CMVC_L1 codes the captions of a stream together: cmvc.text.l1.encode_texts")
    raise error("E101", f"text coding method {method} is not implemented")  # pragma: no cover


def encode_best(text: str, methods=BEST_OF, candidates=()) -> tuple[TextMethod, int, bytes]:
    """§8.8: ``(method, num_tokens, text_data)`` with the fewest bytes in num_tokens and text_data
    together (then the earliest method of *methods*, then of the precomputed *candidates*, e.g. the
    CMVC_L1 coding of :func:`cmvc.text.l1.encode_texts`).  UTF8 is always tried, so text_data is never
    longer than the caption's UTF-8 bytes; with UTF8_SIZED among *methods* the caption never costs
    more than those bytes + 2 with its coding_method."""
    from ..syntax.descriptors import encode_leb128

    best = None
    tried = [(m, *encode_text_unit(m, text)) for m in dict.fromkeys((TextMethod.UTF8, *methods))]
    for method, num, data in tried + list(candidates):
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
