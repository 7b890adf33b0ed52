"""An independent CMVC-B1 decoder written from spec §8.4 and §8.7 alone.

It imports neither constriction nor any part of the cmvc package: it reads the model file as bytes
(§8.7.1), computes the allowed bytes (§8.7.2) and tables (§8.7.3), and runs the ANS decoder of §8.4
in plain integers.
"""
import zlib


class DecodeError(Exception):
    pass


def load_model(raw):
    if raw[:5] != b"CMB1\x01":
        raise DecodeError("not a CMB1 v1 file")
    d = zlib.decompress(raw[5:])
    pos = 0

    def leb():
        nonlocal pos
        value, shift = 0, 0
        while True:
            b = d[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    K = [leb() for _ in range(4)]
    L = [leb() for _ in range(4)]
    P = []
    for o in range(4):
        tables = {}
        for _ in range(leb()):
            ctx = tuple(leb() for _ in range(o))
            n = leb()
            entries, prev = {}, -1
            for _ in range(n):
                prev = prev + 1 + leb()
                entries[prev] = leb()
            tables[ctx] = entries
        P.append(tables)
    if pos != len(d):
        raise DecodeError("trailing bytes in the model")
    return K, L, P


def allowed_values(lead, index_in_char, r):
    if lead is None:
        vals = list(range(0x00, 0x80))
        if r >= 2:
            vals += range(0xC2, 0xE0)
        if r >= 3:
            vals += range(0xE0, 0xF0)
        if r >= 4:
            vals += range(0xF0, 0xF5)
        return vals
    if index_in_char == 1 and lead == 0xE0:
        return list(range(0xA0, 0xC0))
    if index_in_char == 1 and lead == 0xED:
        return list(range(0x80, 0xA0))
    if index_in_char == 1 and lead == 0xF0:
        return list(range(0x90, 0xC0))
    if index_in_char == 1 and lead == 0xF4:
        return list(range(0x80, 0x90))
    return list(range(0x80, 0xC0))


def decode(model, text_data, num_tokens):
    K, L, P = model
    # §8.4 words and initial state
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

    def dec(w):
        nonlocal state
        q = state & ((1 << 24) - 1)
        c, i = 0, 0
        while not (c <= q < c + w[i]):
            c += w[i]
            i += 1
        state = (state >> 24) * w[i] + (q - c)
        if state < (1 << 32) and stack:
            state = (state << 32) | stack.pop()
        return i

    h = (256, 256, 256)
    N = [{} for _ in range(4)]
    lead, idx, length = None, 0, 0
    out = bytearray()
    for t in range(num_tokens):
        vals = allowed_values(lead, idx, num_tokens - t)
        ctxs = [h[3 - o:] for o in range(4)]
        x = []
        for v in vals:
            s = 1
            for o in range(4):
                s += K[o] * P[o].get(ctxs[o], {}).get(v, 0) + L[o] * N[o].get(ctxs[o], {}).get(v, 0)
            x.append(s)
        m, X = len(x), sum(x)
        w = [1 + (xj * ((1 << 24) - m)) // X for xj in x]
        w[x.index(max(x))] += (1 << 24) - sum(w)
        b = vals[dec(w)]
        for o in range(4):
            cnt = N[o].setdefault(ctxs[o], {})
            cnt[b] = cnt.get(b, 0) + 1
        h = (h[1], h[2], b)
        out.append(b)
        # UTF-8 position (§8.7.2)
        if lead is None:
            if b >= 0xC2:
                lead, idx = b, 1
                length = 2 if b <= 0xDF else 3 if b <= 0xEF else 4
        else:
            idx += 1
            if idx == length:
                lead, idx = None, 0
    if stack or state != 1:
        raise DecodeError("the coder does not end in state 1 with no words left")
    return out.decode("utf-8")
