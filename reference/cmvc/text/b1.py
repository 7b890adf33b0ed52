"""§8.6-8.7 CMVC-B1: UTF-8 bytes coded one by one with an order-0..3 context mix of static prior
counts (the data file ``b1-v1.bin``) and counts that adapt within the caption; range ANS (§8.4).

num_tokens is the byte count.  At each byte only the values that keep the caption valid UTF-8 and
completable within num_tokens bytes are coded (:func:`allowed`), so every accepted payload decodes to
valid UTF-8.  The weight of an allowed byte b is
``1 + sum over orders o = 0..3 of K[o]*P_o[ctx_o][b] + L[o]*N_o[ctx_o][b]``, where ctx_o is
the previous o bytes (256 before the start), P the prior tables of the data file and N the counts of
the bytes coded so far; the weights are scaled to a table summing to 2^24 by :func:`normalize`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import zlib
from importlib import resources

from . import rans
from ..errors import error

DATA_FILE = "b1-v1.bin"
MAGIC = b"CMB1\x01"
START = 256  # context value before the first byte


def normalize(v: list[int]) -> list[int]:
    """§8.7.3: weights >= 1 summing to 2^24, proportional to v (all v_i >= 1)."""
    n, total = len(v), sum(v)
    w = [1 + (x * (rans.TOTAL - n)) // total for x in v]
    w[v.index(max(v))] += rans.TOTAL - sum(w)
    return w


def allowed(lead: int, pos_in_char: int, remaining: int) -> range | tuple[range, ...]:
    """§8.7.2: the byte values that may come next.

    *lead* is the first byte of the character being decoded (-1 at a character start),
    *pos_in_char* the index of the next byte within it, *remaining* the bytes left including this one.
    """
    if lead < 0:
        out = [range(0x00, 0x80)]
        if remaining >= 2:
            out.append(range(0xC2, 0xE0))
        if remaining >= 3:
            out.append(range(0xE0, 0xF0))
        if remaining >= 4:
            out.append(range(0xF0, 0xF5))
        return tuple(out)
    if pos_in_char == 1:
        lo, hi = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}.get(lead, (0x80, 0xBF))
        return (range(lo, hi + 1),)
    return (range(0x80, 0xC0),)


def char_len(lead: int) -> int:
    return 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


ORDERS = 4  # contexts of 0..3 previous bytes


@dataclasses.dataclass
class Model:
    k: list[int]  # K[0..3]: weight of the prior tables of each order
    l: list[int]  # L[0..3]: weight of the adaptive counts of each order
    p: list[dict[tuple[int, ...], dict[int, int]]]  # p[o][(c_o, ..., c_1)] = {byte: value}
    cache: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)  # context -> static weights


def _leb(b: io.BytesIO) -> int:
    v, s = 0, 0
    while True:
        x = b.read(1)[0]
        v |= (x & 0x7F) << s
        s += 7
        if not x & 0x80:
            return v


def parse_model(raw: bytes) -> Model:
    """§8.7.1 the data file."""
    if raw[:5] != MAGIC:
        raise ValueError("not a CMVC-B1 model file")
    b = io.BytesIO(zlib.decompress(raw[5:]))
    k = [_leb(b) for _ in range(ORDERS)]
    l_ = [_leb(b) for _ in range(ORDERS)]
    p: list[dict] = []
    for o in range(ORDERS):
        tables = {}
        for _ in range(_leb(b)):
            ctx = tuple(_leb(b) for _ in range(o))
            entries, prev = {}, -1
            for _ in range(_leb(b)):
                prev += 1 + _leb(b)  # byte values strictly increasing, coded as gaps
                entries[prev] = _leb(b)
            tables[ctx] = entries
        p.append(tables)
    if b.read(1):
        raise ValueError("trailing data in the model file")
    return Model(k, l_, p)


def serialize_model(m: Model) -> bytes:
    from ..syntax.descriptors import encode_leb128 as leb

    out = io.BytesIO()
    out.write(b"".join(leb(x) for x in (*m.k, *m.l)))
    for o in range(ORDERS):
        out.write(leb(len(m.p[o])))
        for ctx in sorted(m.p[o]):
            d = m.p[o][ctx]
            out.write(b"".join(leb(c) for c in ctx) + leb(len(d)))
            prev = -1
            for byte in sorted(d):
                out.write(leb(byte - prev - 1) + leb(d[byte]))
                prev = byte
    return MAGIC + zlib.compress(out.getvalue(), 9)


_MODEL: Model | None = None


def load_model() -> Model:
    global _MODEL
    if _MODEL is None:
        from . import B1_SHA256

        raw = resources.files("cmvc.data").joinpath(DATA_FILE).read_bytes()
        got = hashlib.sha256(raw).hexdigest()
        if got != B1_SHA256:
            raise error("E202", f"{DATA_FILE} has SHA-256 {got}, expected {B1_SHA256}")
        _MODEL = parse_model(raw)
    return _MODEL


_EMPTY: dict[int, int] = {}
def _static(m: Model, hist: tuple[int, ...]) -> list[int]:
    """1 + sum_o K[o] * P_o[ctx_o][b] for all 256 b (cached per model and context)."""
    v = m.cache.get(hist)
    if v is None:
        v = [1] * 256
        for o in range(ORDERS):
            if m.k[o]:
                for b, x in m.p[o].get(hist[len(hist) - o:] if o else (), _EMPTY).items():
                    v[b] += m.k[o] * x
        if len(m.cache) > 1 << 14:
            m.cache.clear()
        m.cache[hist] = v
    return v


_ALLOWED: dict[tuple[int, int, int], list[int]] = {}


def _allowed_list(lead: int, pos: int, remaining: int) -> list[int]:
    key = (lead, pos, min(remaining, 4))
    vals = _ALLOWED.get(key)
    if vals is None:
        vals = _ALLOWED[key] = [b for r in allowed(lead, pos, remaining) for b in r]
    return vals


class _Context:
    """§8.7.3 the state a coder keeps: previous bytes, UTF-8 position, adaptive counts."""

    def __init__(self, m: Model, n: int):
        self.m, self.n, self.i = m, n, 0
        self.hist = (START,) * (ORDERS - 1)  # (c_3, c_2, c_1)
        self.lead, self.pos = -1, 0
        self.counts: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(ORDERS)]

    def _ctx(self, o: int) -> tuple[int, ...]:
        return self.hist[len(self.hist) - o:] if o else ()

    def table(self) -> tuple[list[int], list[int]]:
        """(allowed byte values, their table)."""
        v = list(_static(self.m, self.hist))
        for o in range(ORDERS):
            if self.m.l[o]:
                for b, n in self.counts[o].get(self._ctx(o), _EMPTY).items():
                    v[b] += self.m.l[o] * n
        vals = _allowed_list(self.lead, self.pos, self.n - self.i)
        return vals, normalize([v[b] for b in vals])

    def update(self, b: int) -> None:
        for o in range(ORDERS):
            d = self.counts[o].setdefault(self._ctx(o), {})
            d[b] = d.get(b, 0) + 1
        self.hist = self.hist[1:] + (b,)
        self.i += 1
        if self.lead < 0:
            if b >= 0x80:
                self.lead, self.pos = b, 1
        else:
            self.pos += 1
        if self.lead >= 0 and self.pos == char_len(self.lead):
            self.lead, self.pos = -1, 0


def encode_text(text: str, m: Model | None = None) -> tuple[int, bytes]:
    m = m or load_model()
    data = text.encode("utf-8")
    ctx = _Context(m, len(data))
    decisions = []
    for b in data:
        vals, table = ctx.table()
        decisions.append((table, vals.index(b)))
        ctx.update(b)
    return len(data), rans.encode(decisions)


def decode_text(data: bytes, n: int, m: Model | None = None) -> str:
    m = m or load_model()
    dec = rans.Decoder(data)
    ctx = _Context(m, n)
    out = bytearray()
    for _ in range(n):
        vals, table = ctx.table()
        b = vals[dec.decode(table)]
        out.append(b)
        ctx.update(b)
    if not dec.finished():
        raise error("E020", f"text_data is not the CMVC-B1 coding of {n} bytes (the coder does not end in state 1)",
                    offset=0)
    return out.decode("utf-8")  # valid by construction (§8.7.2)
