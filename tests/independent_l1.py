"""An independent CMVC-L1 decoder written from spec §8.4 and §8.12 alone.

It imports no part of the cmvc package and no numerical library: it reads the CMLM model file as
bytes (§8.12.1) and runs the integer operations (§8.12.2-8.12.5) and the ANS decoder (§8.4) on
plain Python integers.  Meant for small models (the conformance suite's l1-tiny).
"""
import math
import struct


class DecodeError(Exception):
    pass


FIELDS = ("V", "d", "layers", "H", "G", "D", "M", "P", "start", "E", "R")


def load_model(raw):
    if raw[:5] != b"CMLM\x01":
        raise DecodeError("not a CMLM version 1 file")
    h = dict(zip(FIELDS, struct.unpack_from("<11I", raw, 5)))
    pos = 5 + 44
    vocab = []
    for _ in range(h["V"]):
        n = raw[pos]
        vocab.append(raw[pos + 1:pos + 1 + n])
        pos += 1 + n

    def i32(count):
        nonlocal pos
        vals = list(struct.unpack_from(f"<{count}i", raw, pos))
        pos += 4 * count
        return vals

    def i8(count):
        nonlocal pos
        vals = list(struct.unpack_from(f"<{count}b", raw, pos))
        pos += count
        return vals

    def rows(flat, n):
        return [flat[i * n:(i + 1) * n] for i in range(len(flat) // n)]

    def linear(n_out, n_in):
        W = rows(i8(n_out * n_in), n_in)
        return W, i32(n_out)

    V, d, H, G, D, M, P = h["V"], h["d"], h["H"], h["G"], h["D"], h["M"], h["P"]
    m = dict(h, vocab=vocab)
    m["EXP"] = i32(h["E"])
    m["SIG"] = i32(2 * h["R"] + 1)
    m["COS"] = rows(i32(P * D // 2), D // 2)
    m["SIN"] = rows(i32(P * D // 2), D // 2)
    m["EMB"] = rows(i32(V * d), d)
    m["L"] = []
    for _ in range(h["layers"]):
        layer = {"attn_norm": i32(d), "q": linear(H * D, d), "k": linear(G * D, d), "v": linear(G * D, d),
                 "o": linear(d, H * D), "ffn_norm": i32(d), "gate": linear(M, d), "up": linear(M, d),
                 "down": linear(d, M)}
        m["L"].append(layer)
    m["OUT_NORM"] = i32(d)
    m["head"] = linear(V, d)
    if pos != len(raw):
        raise DecodeError("trailing bytes")
    return m


def rshift(v, s):
    return (v + (1 << (s - 1))) >> s  # Python's >> floors for negative values too


def rdiv(a, b):
    return (2 * a + b) // (2 * b)


def isqrt(v):
    return math.isqrt(v)


def clamp(v):
    return max(-(1 << 26), min(1 << 26, v))


def expw(m, x):
    return m["EXP"][x] if x < len(m["EXP"]) else 0


def apply(lin, x, N=None):
    W, S = lin
    if N is None:
        z, r = [xi * 4096 for xi in x], 4096
    else:
        z = [xi * ni for xi, ni in zip(x, N)]
        r = isqrt(sum(xi * xi for xi in x) // len(x) + 168)
    A = max(abs(v) for v in z) or 1
    a = [rdiv(127 * v, A) for v in z]
    f = rdiv(A * 65536, 127 * r)
    out = []
    for row, s in zip(W, S):
        acc = sum(ai * wi for ai, wi in zip(a, row))
        out.append(clamp(rshift(rshift(acc * s, 14) * f, 26)))
    return out


def rotate(m, x, p):
    out = list(x)
    for i in range(len(x) // 2):
        c, s = m["COS"][p][i], m["SIN"][p][i]
        x0, x1 = x[2 * i], x[2 * i + 1]
        out[2 * i] = rshift(x0 * c - x1 * s, 14)
        out[2 * i + 1] = rshift(x0 * s + x1 * c, 14)
    return out


def step(m, tok, p, cache):
    H, G, D, R = m["H"], m["G"], m["D"], m["R"]
    h = list(m["EMB"][tok])
    for li, L in enumerate(m["L"]):
        q = apply(L["q"], h, L["attn_norm"])
        k = apply(L["k"], h, L["attn_norm"])
        v = apply(L["v"], h, L["attn_norm"])
        qh = [rotate(m, q[i * D:(i + 1) * D], p) for i in range(H)]
        kh = [rotate(m, k[g * D:(g + 1) * D], p) for g in range(G)]
        vh = [v[g * D:(g + 1) * D] for g in range(G)]
        if len(cache) <= li:
            cache.append(([], []))
        cache[li][0].append(kh)
        cache[li][1].append(vh)
        Ks, Vs = cache[li]
        o = []
        for i in range(H):
            g = i // (H // G)
            u = [rshift(sum(a * b for a, b in zip(qh[i], Ks[s][g])), 19) for s in range(p + 1)]
            mx = max(u)
            e = [expw(m, mx - us) for us in u]
            tot = sum(e)
            o += [rdiv(sum(e[s] * Vs[s][g][c] for s in range(p + 1)), tot) for c in range(D)]
        h = [clamp(a + b) for a, b in zip(h, apply(L["o"], o))]
        gt = apply(L["gate"], h, L["ffn_norm"])
        up = apply(L["up"], h, L["ffn_norm"])
        mm = []
        for gc, uc in zip(gt, up):
            j = min(max(rshift(gc, 4), -R), R) + R
            mm.append(clamp(rshift(rshift(gc * m["SIG"][j], 16) * uc, 12)))
        h = [clamp(a + b) for a, b in zip(h, apply(L["down"], mm))]
    return apply(m["head"], h, m["OUT_NORM"])


def weights(m, logits):
    V = len(logits)
    u = [rshift(x, 4) for x in logits]
    mx = max(u)
    e = [expw(m, mx - x) for x in u]
    X = sum(e)
    w = [1 + ei * ((1 << 24) - V) // X for ei in e]
    w[e.index(max(e))] += (1 << 24) - sum(w)
    return w


class Ans:
    """§8.4 in plain integers."""

    def __init__(self, data):
        self.words = []
        if data:
            k = (len(data) + 3) // 4
            last = data[4 * (k - 1):]
            if last[0] == 0:
                raise DecodeError("leading zero byte in the last word")
            self.words = [int.from_bytes(data[i:i + 4], "big") for i in range(0, 4 * (k - 1), 4)]
            self.words.append(int.from_bytes(last, "big"))
        self.state = 0
        if self.words:
            self.state = self.words.pop()
            while self.words and self.state < (1 << 32):
                self.state = (self.state << 32) | self.words.pop()

    def decode(self, w):
        q = self.state & ((1 << 24) - 1)
        c = 0
        for i, wi in enumerate(w):
            if q < c + wi:
                break
            c += wi
        self.state = (self.state >> 24) * wi + (q - c)
        if self.state < (1 << 32) and self.words:
            self.state = (self.state << 32) | self.words.pop()
        return i


def decode(m, data, num_tokens):
    """§8.12.6: the caption of one CMVC_L1 text unit."""
    if num_tokens > m["P"]:
        raise DecodeError("num_tokens exceeds max_positions")
    ans = Ans(data)
    cache, prev, toks = [], m["start"], []
    for p in range(num_tokens):
        t = ans.decode(weights(m, step(m, prev, p, cache)))
        toks.append(t)
        prev = t
    if ans.words or ans.state != 1:
        raise DecodeError("the coder does not end in state 1")
    try:
        return b"".join(m["vocab"][t] for t in toks).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("not valid UTF-8") from None
