"""§8.4-8.5 CMVC-T1 entropy coding with constriction's ANS coder (``stack.AnsCoder``: 64-bit state,
32-bit words, 24-bit probabilities).

Encoding pushes the decisions of :func:`cmvc.text.model.decisions` in reverse order, so that the
decoder pops them in forward order.  text_data holds the coder's compressed words, most recent
last, each as 4 big-endian bytes, except that the last word (never 0) drops its leading zero bytes.
The encoder starts in state 1; a decoder that has produced num_tokens symbols must have consumed
every word and hold state 1 (E020 otherwise).
"""
from __future__ import annotations

import numpy as np

from ..errors import error
from .model import BYTE_LIMIT, CAP, UPPER, WORD0, Model, decisions, letter_key, load_model, symbol_class
from .tokens import detokenize, tokenize

_MODELS: dict[int, object] = {}
SEAL = 1  # the encoder starts, and a decoder must end, in state 1: truncation and corruption are detected


def _cm(table: list[int]):
    """constriction Categorical whose quantised weights equal *table* exactly (weights w, sum 2^24:
    passing w - 1 makes the leaky quantiser give back 1 + (w - 1))."""
    key = id(table)
    m = _MODELS.get(key)
    if m is None:
        import constriction

        probs = np.asarray(table, dtype=np.float64) - 1.0
        m = constriction.stream.model.Categorical(probs, perfect=False)
        _MODELS[key] = (m, table)
    return _MODELS[key][0]


def words_to_bytes(words: np.ndarray) -> bytes:
    if len(words) == 0:
        return b""
    body = b"".join(int(w).to_bytes(4, "big") for w in words[:-1])
    last = int(words[-1]).to_bytes(4, "big").lstrip(b"\0")
    return body + last


def bytes_to_words(data: bytes) -> np.ndarray:
    if not data:
        return np.zeros(0, np.uint32)
    k = (len(data) + 3) // 4
    head, tail = data[: 4 * (k - 1)], data[4 * (k - 1):]
    if tail[0] == 0:
        raise error("E020", "the last word of text_data has a leading zero byte", offset=4 * (k - 1))
    words = [int.from_bytes(head[i:i + 4], "big") for i in range(0, len(head), 4)]
    words.append(int.from_bytes(tail, "big"))
    return np.asarray(words, dtype=np.uint32)


def encode_symbols(symbols: list[int], m: Model) -> bytes:
    import constriction

    coder = constriction.stream.stack.AnsCoder(np.array([SEAL], dtype=np.uint32))  # state 1 (§8.5)
    for table, idx in reversed(list(decisions(symbols, m))):
        coder.encode_reverse(idx, _cm(table))
    return words_to_bytes(coder.get_compressed())


def decode_symbols(data: bytes, n: int, m: Model) -> list[int]:
    import constriction

    coder = constriction.stream.stack.AnsCoder(bytes_to_words(data))
    out: list[int] = []
    cls, prev_byte, last_word = 0, -1, -1
    for _ in range(n):
        t = int(coder.decode(_cm(m.type_[cls])))
        if t == 0:
            tab = m.letter[letter_key(prev_byte)] if prev_byte >= 0 and symbol_class(prev_byte) == 3 else m.byte[cls]
            s = int(coder.decode(_cm(tab)))
        elif t == 1:
            k = None
            f = m.follow.get(last_word)
            if f is not None:
                ids, weights = f
                pos = int(coder.decode(_cm(weights)))
                if pos < len(ids):
                    k = ids[pos]
            if k is None:
                k = int(coder.decode(_cm(m.unigram)))
            s = WORD0 + k
        else:
            s = CAP if t == 2 else UPPER
        out.append(s)
        cls = symbol_class(s)
        prev_byte = s if s < BYTE_LIMIT else -1
        if s >= WORD0:
            last_word = s - WORD0
    rest = coder.get_compressed()
    if len(rest) != 1 or int(rest[0]) != SEAL:
        raise error("E020", f"text_data is not the encoding of {n} symbols (the coder does not end in state 1)",
                    offset=0)
    return out


def encode_text(text: str, m: Model | None = None) -> tuple[int, bytes]:
    m = m or load_model()
    symbols = tokenize(text, m.index)
    return len(symbols), encode_symbols(symbols, m)


def decode_text(data: bytes, n: int, m: Model | None = None) -> str:
    m = m or load_model()
    try:
        raw = detokenize(decode_symbols(data, n, m), m.words)
        return raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as e:
        raise error("E020", f"text_data does not decode to a caption: {e}", offset=0) from None
