"""§8.3 CMVC-T1 probability model: static integer tables (the data file ``t1-v1.bin``) and the
rule that selects one table for each coded decision.

Every table is a list of integer weights, each >= 1, summing to 2^24 (``PRECISION``).

Context, updated after each symbol: ``cls`` (class of the previous symbol: 0 start, 1 word,
2 space, 3 letter byte, 4 digit, 5 other ASCII byte, 6 non-ASCII byte, 7 CAP/UPPER), ``prev_byte``
(the previous symbol if it was a byte, else -1) and ``last_word`` (the last word symbol, else -1).

Coding one symbol s:
1. its type (0 byte, 1 word, 2 CAP, 3 UPPER) with TYPE[cls];
2. a byte with LETTER[prev_byte] when prev_byte is an ASCII letter (case folded), else BYTE[cls];
3. a word: if FOLLOW has a table for last_word, the index of s in that table's word list, or the
   escape (the last entry); after an escape, or without a table, the word with UNIGRAM.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import zlib
from importlib import resources

from .tokens import BYTE_LIMIT, CAP, UPPER, WORD0

PRECISION = 24
TOTAL = 1 << PRECISION
DATA_FILE = "t1-v1.bin"
DATA_SHA256 = None  # filled by the build script's output below; checked at load
N_CLASSES = 8


def symbol_class(s: int) -> int:
    if s < 0:
        return 0
    if s >= WORD0:
        return 1
    if s in (CAP, UPPER):
        return 7
    if s == 32:
        return 2
    if 65 <= s <= 90 or 97 <= s <= 122:
        return 3
    if 48 <= s <= 57:
        return 4
    if s < 128:
        return 5
    return 6


def letter_key(b: int) -> int:
    """LETTER table index of a letter byte: 0..25 (case folded)."""
    return (b | 0x20) - 97


def normalize(counts: list[int]) -> list[int]:
    """§8.3.1: integer weights >= 1 summing to 2^24, proportional to *counts*.

    w_i = 1 + (c_i * (2^24 - n)) // C with C = sum(c) (all c_i = 1 when C = 0); the remainder
    2^24 - sum(w) goes to the first entry with the largest count.
    """
    n = len(counts)
    c = counts if sum(counts) else [1] * n
    total = sum(c)
    w = [1 + (ci * (TOTAL - n)) // total for ci in c]
    w[c.index(max(c))] += TOTAL - sum(w)
    return w


@dataclasses.dataclass
class Model:
    words: list[str]
    type_: list[list[int]]  # [N_CLASSES][4]
    byte: list[list[int]]  # [N_CLASSES][256]
    letter: list[list[int]]  # [26][256]
    unigram: list[int]  # [len(words)]
    follow: dict[int, tuple[list[int], list[int]]]  # last word -> (word ids, weights incl. escape last)

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}
        self.follow_pos = {a: {k: p for p, k in enumerate(ids)} for a, (ids, _) in self.follow.items()}


def _u32(b: io.BytesIO) -> int:
    return int.from_bytes(b.read(4), "big")


def _leb(b: io.BytesIO) -> int:
    v, s = 0, 0
    while True:
        x = b.read(1)[0]
        v |= (x & 0x7F) << s
        s += 7
        if not x & 0x80:
            return v


def parse_model(raw: bytes) -> Model:
    """§8.3.2 the data file: 'CMT1', version 1, then a zlib stream of the tables."""
    if raw[:5] != b"CMT1\x01":
        raise ValueError("not a CMVC-T1 model file")
    b = io.BytesIO(zlib.decompress(raw[5:]))
    nw = _leb(b)
    words = [b.read(_leb(b)).decode("ascii") for _ in range(nw)]
    type_ = [[_u32(b) for _ in range(4)] for _ in range(N_CLASSES)]
    byte = [[_u32(b) for _ in range(256)] for _ in range(N_CLASSES)]
    letter = [[_u32(b) for _ in range(256)] for _ in range(26)]
    unigram = [_u32(b) for _ in range(nw)]
    follow = {}
    for _ in range(_leb(b)):
        wid = _leb(b)
        n = _leb(b)
        ids = [_leb(b) for _ in range(n)]
        weights = [_u32(b) for _ in range(n + 1)]
        follow[wid] = (ids, weights)
    return Model(words, type_, byte, letter, unigram, follow)


def serialize_model(m: Model) -> bytes:
    from ..syntax.descriptors import encode_leb128 as leb

    out = io.BytesIO()
    out.write(leb(len(m.words)))
    for w in m.words:
        out.write(leb(len(w)) + w.encode("ascii"))
    for table in (*m.type_, *m.byte, *m.letter, m.unigram):
        out.write(b"".join(x.to_bytes(4, "big") for x in table))
    out.write(leb(len(m.follow)))
    for wid in sorted(m.follow):
        ids, weights = m.follow[wid]
        out.write(leb(wid) + leb(len(ids)) + b"".join(leb(i) for i in ids))
        out.write(b"".join(x.to_bytes(4, "big") for x in weights))
    return b"CMT1\x01" + zlib.compress(out.getvalue(), 9)


_MODEL: Model | None = None
_T2: Model | None = None
T2_FILE = "t2-v1.bin"


def load_t2_model() -> Model:
    """§8.10: the CMVC-T2 model, a file of the §8.3.2 format."""
    global _T2
    if _T2 is None:
        raw = resources.files("cmvc.data").joinpath(T2_FILE).read_bytes()
        from . import T2_SHA256

        got = hashlib.sha256(raw).hexdigest()
        if got != T2_SHA256:
            from ..errors import error

            raise error("E202", f"{T2_FILE} has SHA-256 {got}, expected {T2_SHA256}")
        _T2 = parse_model(raw)
    return _T2


def load_model() -> Model:
    global _MODEL
    if _MODEL is None:
        raw = resources.files("cmvc.data").joinpath(DATA_FILE).read_bytes()
        from . import T1_SHA256

        got = hashlib.sha256(raw).hexdigest()
        if got != T1_SHA256:
            from ..errors import error

            raise error("E202", f"{DATA_FILE} has SHA-256 {got}, expected {T1_SHA256}")
        _MODEL = parse_model(raw)
    return _MODEL


def decisions(symbols: list[int], m: Model):
    """Yield (table, index) for every coded decision of a symbol sequence (the encoder's view)."""
    cls, prev_byte, last_word = 0, -1, -1
    for s in symbols:
        t = 0 if s < BYTE_LIMIT else 2 if s == CAP else 3 if s == UPPER else 1
        yield m.type_[cls], t
        if t == 0:
            tab = m.letter[letter_key(prev_byte)] if prev_byte >= 0 and symbol_class(prev_byte) == 3 else m.byte[cls]
            yield tab, s
        elif t == 1:
            k = s - WORD0
            f = m.follow.get(last_word)
            if f is not None:
                ids, weights = f
                pos = m.follow_pos[last_word].get(k, len(ids))
                yield weights, pos
                if pos < len(ids):
                    k = None
            if k is not None:
                yield m.unigram, k
        cls = symbol_class(s)
        prev_byte = s if s < BYTE_LIMIT else -1
        if s >= WORD0:
            last_word = s - WORD0
