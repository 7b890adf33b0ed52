"""An independent CMVC-T1 decoder written from spec chapter 8 alone.

It imports neither constriction nor any part of the cmvc package: it reads the model file as
bytes (§8.3.2), keeps the context of §8.3.3 and runs the ANS decoder of §8.4 in plain integers.
"""
import zlib


class DecodeError(Exception):
    pass


def _leb(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


class Table:
    def __init__(self, weights):
        self.w = weights
        self.c = [0]
        for x in weights:
            self.c.append(self.c[-1] + x)
        assert self.c[-1] == 1 << 24

    def find(self, q):
        lo, hi = 0, len(self.w) - 1
        while lo < hi:  # last entry whose start is <= q
            mid = (lo + hi + 1) // 2
            if self.c[mid] <= q:
                lo = mid
            else:
                hi = mid - 1
        return lo


def load_model(raw):
    if raw[:5] != b"CMT1\x01":
        raise DecodeError("not a CMT1 v1 file")
    d = zlib.decompress(raw[5:])
    pos = 0
    nw, pos = _leb(d, pos)
    words = []
    for _ in range(nw):
        n, pos = _leb(d, pos)
        words.append(d[pos:pos + n].decode("ascii"))
        pos += n

    def u32s(count):
        nonlocal pos
        out = [int.from_bytes(d[pos + 4 * i: pos + 4 * i + 4], "big") for i in range(count)]
        pos += 4 * count
        return out

    TYPE = [Table(u32s(4)) for _ in range(8)]
    BYTE = [Table(u32s(256)) for _ in range(8)]
    LETTER = [Table(u32s(256)) for _ in range(26)]
    UNIGRAM = Table(u32s(nw))
    nf, pos = _leb(d, pos)
    FOLLOW = {}
    for _ in range(nf):
        last, pos = _leb(d, pos)
        n, pos = _leb(d, pos)
        ids = []
        for _ in range(n):
            i, pos = _leb(d, pos)
            ids.append(i)
        FOLLOW[last] = (ids, Table(u32s(n + 1)))
    return words, TYPE, BYTE, LETTER, UNIGRAM, FOLLOW


def symbol_class(s):
    if s >= 258:
        return 1
    if s in (256, 257):
        return 7
    if s == 32:
        return 2
    if 65 <= s <= 90 or 97 <= s <= 122:
        return 3
    if 48 <= s <= 57:
        return 4
    return 5 if s < 128 else 6


def decode(model, text_data, num_tokens):
    words, TYPE, BYTE, LETTER, UNIGRAM, FOLLOW = model
    # §8.4 words
    stack = []
    if text_data:
        k = (len(text_data) + 3) // 4
        for i in range(k - 1):
            stack.append(int.from_bytes(text_data[4 * i: 4 * i + 4], "big"))
        tail = text_data[4 * (k - 1):]
        if tail[0] == 0:
            raise DecodeError("leading zero byte in the last word")
        stack.append(int.from_bytes(tail, "big"))
    state = 0
    if stack:
        state = stack.pop()
        while stack and state < (1 << 32):
            state = (state << 32) | stack.pop()

    def dec(table):
        nonlocal state
        q = state & ((1 << 24) - 1)
        i = table.find(q)
        state = (state >> 24) * table.w[i] + (q - table.c[i])
        if state < (1 << 32) and stack:
            state = (state << 32) | stack.pop()
        return i

    cls, prev_byte, last_word = 0, -1, -1
    symbols = []
    for _ in range(num_tokens):
        t = dec(TYPE[cls])
        if t == 0:
            if prev_byte >= 0 and symbol_class(prev_byte) == 3:
                s = dec(LETTER[(prev_byte | 0x20) - 97])
            else:
                s = dec(BYTE[cls])
        elif t == 1:
            k = -1
            if last_word in FOLLOW:
                ids, table = FOLLOW[last_word]
                p = dec(table)
                if p < len(ids):
                    k = ids[p]
            if k == -1:
                k = dec(UNIGRAM)
            s = 258 + k
        else:
            s = 256 if t == 2 else 257
        symbols.append(s)
        cls = symbol_class(s)
        prev_byte = s if s < 256 else -1
        if s >= 258:
            last_word = s - 258
    if stack or state != 1:
        raise DecodeError("the coder does not end in state 1 with no words left")
    out, case = bytearray(), None
    for s in symbols:
        if s < 256:
            if case is not None:
                raise DecodeError("case flag before a byte")
            out.append(s)
        elif s in (256, 257):
            if case is not None:
                raise DecodeError("two case flags")
            case = s
        else:
            w = words[s - 258]
            w = w[0].upper() + w[1:] if case == 256 else w.upper() if case == 257 else w
            case = None
            out += w.encode("ascii")
    if case is not None:
        raise DecodeError("case flag at the end")
    return out.decode("utf-8")
