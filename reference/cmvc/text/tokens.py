"""§8.2 CMVC-T1 symbols: lossless tokenisation of a caption.

Symbols: 0..255 a byte; 256 CAP (the next word starts with an upper-case letter); 257 UPPER (the next
word is all upper-case, at least 2 letters); 258 + k word k of the vocabulary.  A maximal run of
ASCII letters whose lower-case form is a vocabulary word and whose case is lower, capitalised or
upper becomes [CAP|UPPER] WORD; any other byte, and every letter of any other run, is a byte symbol.
Decoding concatenates: a byte symbol gives its byte, a word its letters (case applied).
"""
from __future__ import annotations

BYTE_LIMIT, CAP, UPPER, WORD0 = 256, 256, 257, 258


def is_letter(b: int) -> bool:
    return 65 <= b <= 90 or 97 <= b <= 122


def tokenize(text: str, index: dict[str, int]) -> list[int]:
    data = text.encode("utf-8")
    out: list[int] = []
    i, n = 0, len(data)
    while i < n:
        if is_letter(data[i]):
            j = i
            while j < n and is_letter(data[j]):
                j += 1
            run = data[i:j].decode("ascii")
            low = run.lower()
            k = index.get(low)
            if k is not None and run == low:
                out.append(WORD0 + k)
            elif k is not None and run == low[0].upper() + low[1:]:
                out += [CAP, WORD0 + k]
            elif k is not None and len(run) >= 2 and run == low.upper():
                out += [UPPER, WORD0 + k]
            else:
                out += list(data[i:j])
            i = j
        else:
            out.append(data[i])
            i += 1
    return out


def detokenize(symbols: list[int], words: list[str]) -> bytes:
    """Bytes of a symbol sequence; raises ValueError on CAP/UPPER not followed by a word."""
    out = bytearray()
    case = None
    for s in symbols:
        if s < BYTE_LIMIT:
            if case is not None:
                raise ValueError("CAP/UPPER not followed by a word")
            out.append(s)
        elif s in (CAP, UPPER):
            if case is not None:
                raise ValueError("two case flags in a row")
            case = s
        else:
            w = words[s - WORD0]
            if case == CAP:
                w = w[0].upper() + w[1:]
            elif case == UPPER:
                w = w.upper()
            case = None
            out += w.encode("ascii")
    if case is not None:
        raise ValueError("case flag at the end")
    return bytes(out)
