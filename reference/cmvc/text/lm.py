"""SmolLM2-135M in integer-only arithmetic: exact integer PMFs for an LM-prior text coder.

The arithmetic of the text coding method CMVC_L1 (spec §8.12.2-8.12.6; the method: :mod:`cmvc.text.l1`,
the model file: :mod:`cmvc.text.lm_file`).  Every value after the one-time weight conversion
(:func:`convert`) is an integer, and every operation on it is exact (int64 numpy, and float32 BLAS on int8 operands with partial sums below
2^24, which is exact in any summation order), so the PMFs are identical on every platform and for
any batch size or thread count.

Fixed point: hidden values in units of 2^-12 (``F``); norm gains in 2^-12; weight row scales in
2^-24; attention scores and logits in 2^-8 (Q8) before the exp table.
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

F = 12  # hidden values: integer units of 2^-F
ONE = 1 << F
WF = 24  # weight row scales: units of 2^-WF
ABITS = 8  # activations are requantised to signed ABITS-bit integers before each matmul
AMAX = (1 << (ABITS - 1)) - 1
CLAMP = 1 << 26  # |hidden| <= 2^26 (16384.0): keeps every product inside int64
MATVEC_ROWS = 2  # up to this many rows, the kernels' matvec_int8 (faster than _int_mm there, same integers)
USE_INT_MM = True  # exact int8 GEMM (torch._int_mm) where available; False: the float32 path (same integers)
PRECISION = 24  # PMF total 2^24 (the ANS coder of spec §8.4)
EXP_BITS = 16
EXP_TABLE = np.array([round((1 << EXP_BITS) * math.exp(-d / 256)) for d in range(3100)], dtype=np.int64)
EXP_TABLE = EXP_TABLE[:int(np.nonzero(EXP_TABLE)[0][-1]) + 1]  # 0 beyond the table
SIG_RANGE = 16 * 256  # sigmoid table over [-16, 16] in Q8
SIG_TABLE = np.array([round((1 << 16) / (1 + math.exp(-x / 256))) for x in range(-SIG_RANGE, SIG_RANGE + 1)],
                     dtype=np.int64)


def rshift(v, s: int):
    """Round half up of v / 2^s (arithmetic shift: floor for negative values too)."""
    return (v + (1 << (s - 1))) >> s


def rdiv(a, b):
    """Round half up of a / b for b > 0 (floor division)."""
    return (2 * a + b) // (2 * b)


@dataclasses.dataclass
class Linear:
    """int8 weights (out x in) with one scale per output row (units 2^-WF); the matrix stored transposed
    as float32 chunks of at most 1024 input rows for exact BLAS products."""

    chunks: list  # float32 (k_i, out)
    scale: np.ndarray  # int64 (out,)
    q: np.ndarray | None = None  # int8 (out, in): the weights as the model file (§8.12.1) stores them

    @classmethod
    def from_float(cls, w: np.ndarray) -> "Linear":
        w = w.astype(np.float64)
        s = np.abs(w).max(1) / 127
        s[s == 0] = 1
        q = np.round(w / s[:, None])  # binary64, round half to even
        return cls.from_int8(q.astype(np.int8), np.round(s * (1 << WF)).astype(np.int64))

    @classmethod
    def from_int8(cls, q: np.ndarray, scale: np.ndarray) -> "Linear":
        """The layer from its int8 weights (out x in) and row scales (units 2^-WF)."""
        wt = np.ascontiguousarray(q.T.astype(np.float32))
        step = 1024 if ABITS == 8 else 1
        chunks = [wt[i:i + step] for i in range(0, wt.shape[0], step)] if ABITS == 8 else [wt.astype(np.float64)]
        return cls(chunks, np.asarray(scale, dtype=np.int64), np.asarray(q, dtype=np.int8))

    def acc(self, a: np.ndarray) -> np.ndarray:
        """Exact integer a @ W^T for integer activations |a| <= AMAX (N, in) -> int32 or int64 (N, out): an int8 x int8
        -> int32 product (torch._int_mm; |sum| <= 127^2 in < 2^31), else float32 products of integers whose
        partial sums stay below 2^24 (exact in any order, so any BLAS)."""
        if len(a) <= MATVEC_ROWS and _kernels() and AMAX * AMAX * a.shape[1] < 2 ** 31:
            from . import lm_kernels as K

            return K.matvec_int8(np.array(a, dtype=np.int8, order="C"), _int8_rows(self))
        w8 = _int8_weights(self) if USE_INT_MM else None
        if w8 is not None:
            import torch

            # plain C strides: _int_mm misreads numpy's strides of size-1 dimensions (garbage for k = 1)
            return torch._int_mm(torch.from_numpy(np.array(a, dtype=np.int8, order="C")), w8).numpy()
        if ABITS != 8:
            return (a.astype(np.float64) @ self.chunks[0]).astype(np.int64)
        out, i = None, 0
        af = a.astype(np.float32)
        for c in self.chunks:
            part = _mm(np.ascontiguousarray(af[:, i:i + c.shape[0]]), c).astype(np.int64)
            out = part if out is None else out + part
            i += c.shape[0]
        return out

    def __call__(self, x: np.ndarray, gain: np.ndarray | None = None) -> np.ndarray:
        """The layer applied to hidden values x (N, in), after RMSNorm with *gain* (units 2^-F) if given;
        the result in units 2^-F."""
        return self.apply(*quantise(x, gain))

    def apply(self, a: np.ndarray, fv: np.ndarray) -> np.ndarray:
        """The layer on activations already requantised by :func:`quantise`."""
        t = self.acc(a)
        if _kernels():
            from . import lm_kernels as K

            return K.apply(t, self.scale, fv[:, 0], CLAMP)
        t = t.astype(np.int64)
        t *= self.scale
        t += 1 << 13
        t >>= 14
        t *= fv
        t += 1 << 25
        t >>= 26
        return np.clip(t, -CLAMP, CLAMP, out=t)


def quantise(x: np.ndarray, gain: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """RMSNorm with *gain* (or none) and requantisation of hidden values x (N, in) to |a| <= AMAX:
    ``(a, fv)``, fv the per-row multiplier of :meth:`Linear.apply` (shared by layers on the same input)."""
    if _kernels():
        from . import lm_kernels as K

        a, fv = K.quantise(np.ascontiguousarray(x), gain if gain is not None else _NO_GAIN, gain is not None, AMAX)
        return a, fv[:, None]
    if gain is None:
        z, r = x * ONE, ONE
    else:
        z = x * gain  # units 2^-2F
        ms = np.einsum("ij,ij->i", x, x)[:, None] // x.shape[1] + 168  # + eps = 1e-5 in units 2^-2F
        r = isqrt(ms)  # rms in units 2^-F
    amax = np.abs(z).max(1, keepdims=True)
    amax[amax == 0] = 1
    # a = rdiv(AMAX z, amax) = floor(num / den): a binary64 estimate (|a| <= AMAX), then made exact
    num, den = z * (2 * AMAX) + amax, 2 * amax
    a = np.floor(z * ((2 * AMAX) / den) + 0.5).astype(np.int64)
    rem = num - a * den
    a += rem >= den
    a -= rem < 0
    fv = rdiv(amax << 16, AMAX * r)
    return a, fv


def _int8_rows(lin: "Linear") -> np.ndarray:
    """The int8 weights (out x in, C order), built once per layer where the layer has no ``q``."""
    q = lin.q if lin.q is not None else lin.__dict__.get("_rows")
    if q is None:
        q = lin.__dict__["_rows"] = np.ascontiguousarray(np.concatenate(lin.chunks).T.astype(np.int8))
    return q if q.flags.c_contiguous else np.ascontiguousarray(q)


def _int8_weights(lin: "Linear"):
    """The weights as a torch int8 (in, out) tensor for torch._int_mm, built once per layer; None without
    torch (or past int32's range), then :meth:`Linear.acc` uses the float32 path (same integers)."""
    w8 = lin.__dict__.get("_w8", False)
    if w8 is False:
        w8 = None
        try:
            import torch

            k = sum(c.shape[0] for c in lin.chunks)
            if ABITS == 8 and hasattr(torch, "_int_mm") and AMAX * AMAX * k < 2 ** 31:
                q = lin.q.T if lin.q is not None else np.concatenate(lin.chunks).astype(np.int8)
                w8 = torch.from_numpy(np.array(q, dtype=np.int8, order="C"))  # a copy with plain strides
        except ImportError:  # pragma: no cover
            pass
        lin.__dict__["_w8"] = w8
    return w8


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 a @ b, with torch's BLAS when torch is installed (faster than numpy's here; same exact result)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return a @ b
    return torch.from_numpy(a).matmul(torch.from_numpy(b)).numpy()


def isqrt(v: np.ndarray) -> np.ndarray:
    """Floor square root of non-negative int64 values, exact (float estimate, then corrected)."""
    r = np.sqrt(v.astype(np.float64)).astype(np.int64)
    r -= (r * r > v)
    r += ((r + 1) * (r + 1) <= v)
    r -= (r * r > v)
    return r


def silu_mul(g: np.ndarray, u: np.ndarray) -> np.ndarray:
    """silu(g) * u in units 2^-F: sigmoid from a table on g in Q8, clamped to [-16, 16]."""
    if _kernels():
        from . import lm_kernels as K

        return K.silu_mul(g, u, SIG_TABLE, SIG_RANGE, CLAMP)
    idx = rshift(g, F - 8)
    np.clip(idx, -SIG_RANGE, SIG_RANGE, out=idx)
    idx += SIG_RANGE
    s = rshift(g * SIG_TABLE[idx], 16)
    s *= u
    s = rshift(s, F)
    return np.clip(s, -CLAMP, CLAMP, out=s)


_EXP_PADDED = np.append(EXP_TABLE, 0)
_NO_GAIN = np.zeros(1, dtype=np.int64)
USE_NUMBA = True  # compiled kernels (cmvc.text.lm_kernels) where numba is installed; False: numpy (same integers)


def _kernels() -> bool:
    if not USE_NUMBA:
        return False
    from . import lm_kernels

    return lm_kernels.AVAILABLE


def exp_weights(d: np.ndarray) -> np.ndarray:
    """EXP_TABLE[d] for d >= 0, 0 beyond the table."""
    return _EXP_PADDED[np.minimum(d, len(EXP_TABLE))]


def _fuse(parts: list["Linear"]) -> "Linear":
    """Layers on the same input as one layer (outputs side by side: each output row is computed alone,
    so the result is the same integers)."""
    if any(len(p.chunks) != len(parts[0].chunks) for p in parts):
        return None
    q = np.concatenate([p.q for p in parts]) if all(p.q is not None for p in parts) else None
    return Linear([np.concatenate(c, 1) for c in zip(*(p.chunks for p in parts))],
                  np.concatenate([p.scale for p in parts]), q)


@dataclasses.dataclass
class Layer:
    attn_norm: np.ndarray
    q: Linear
    k: Linear
    v: Linear
    o: Linear
    ffn_norm: np.ndarray
    gate: Linear
    up: Linear
    down: Linear


@dataclasses.dataclass
class IntLM:
    """The integer model: embedding (units 2^-F), layers, output norm, tied output head."""

    embed: np.ndarray  # int64 (V, d)
    layers: list
    out_norm: np.ndarray
    head: Linear
    n_head: int
    n_kv: int
    head_dim: int
    cos: np.ndarray  # int64 (positions, head_dim/2), units 2^-14
    sin: np.ndarray
    vocab_bytes: list | None = None  # each token's bytes (§8.12.1); None: token t is byte t (tiny models)
    start: int = 0  # the token that starts every context (§8.12.6)

    @property
    def max_positions(self) -> int:
        return self.cos.shape[0]

    @property
    def vocab(self) -> int:
        return self.embed.shape[0]

    def rope(self, x: np.ndarray, pos: int) -> np.ndarray:
        """Rotate pairs (2i, 2i+1) by pos * theta_i (GGUF's layout of q and k)."""
        c, s = self.cos[pos], self.sin[pos]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = rshift(x0 * c - x1 * s, 14)
        out[..., 1::2] = rshift(x0 * s + x1 * c, 14)
        return out

    def _fused(self, li: int, L: "Layer") -> tuple:
        """(q|k|v, gate|up) of layer *li* fused, built once (None where the parts differ in chunking)."""
        fused = self.__dict__.setdefault("_fused_layers", {})
        if li not in fused:
            fused[li] = (_fuse([L.q, L.k, L.v]), _fuse([L.gate, L.up]))
        return fused[li]

    def step(self, tokens: np.ndarray, cache: list, pos: int) -> np.ndarray:
        """One token per row (N,) at position *pos*; *cache* (one (K, V) list per layer, grown here);
        returns integer logits (N, V) in units 2^-F."""
        n, hd = len(tokens), self.head_dim
        h = self.embed[tokens]
        group = self.n_head // self.n_kv
        nq, nk = self.n_head * hd, self.n_kv * hd
        for li, L in enumerate(self.layers):
            qkv, gu = self._fused(li, L)
            x = quantise(h, L.attn_norm)
            if qkv is not None:
                y = qkv.apply(*x)
                q, k, v = y[:, :nq], y[:, nq:nq + nk], y[:, nq + nk:]
            else:
                q, k, v = L.q.apply(*x), L.k.apply(*x), L.v.apply(*x)
            q = self.rope(q.reshape(n, self.n_head, hd), pos)
            k = self.rope(k.reshape(n, self.n_kv, hd), pos)
            v = v.reshape(n, self.n_kv, hd)
            if len(cache) <= li:
                cache.append([k[:, :, None], v[:, :, None]])
            else:
                cache[li][0] = np.concatenate([cache[li][0], k[:, :, None]], 2)
                cache[li][1] = np.concatenate([cache[li][1], v[:, :, None]], 2)
            K, V = cache[li]  # (n, kv, t, hd)
            qg = q.reshape(n, self.n_kv, group, hd)
            s = np.einsum("nkgd,nktd->nkgt", qg, K)  # units 2^-2F
            u = rshift(s, 2 * F - 8 + 3)  # / sqrt(64) = / 8, to Q8
            e = exp_weights(u.max(-1, keepdims=True) - u)
            o = rdiv(np.einsum("nkgt,nktd->nkgd", e, V), e.sum(-1, keepdims=True))
            h = h + L.o(o.reshape(n, nq))
            np.clip(h, -CLAMP, CLAMP, out=h)
            x = quantise(h, L.ffn_norm)
            if gu is not None:
                y = gu.apply(*x)
                g, up = y[:, :y.shape[1] // 2], y[:, y.shape[1] // 2:]
            else:
                g, up = L.gate.apply(*x), L.up.apply(*x)
            h = h + L.down(silu_mul(g, up))
            np.clip(h, -CLAMP, CLAMP, out=h)
        return self.head(h, self.out_norm)


def pmf(logits: np.ndarray) -> np.ndarray:
    """Integer frequencies (N, V), each >= 1, summing to 2^PRECISION: exp table on the Q8 logits,
    1 + floor(e * (2^24 - V) / sum e), the remainder to the first largest."""
    u = rshift(logits, F - 8)
    np.subtract(u.max(1, keepdims=True), u, out=u)
    e = exp_weights(u)
    total, v = 1 << PRECISION, logits.shape[1]
    w = e * (total - v)
    w //= e.sum(1, keepdims=True)
    w += 1
    w[np.arange(len(w)), e.argmax(1)] += total - w.sum(1)
    return w


def convert(gguf_path: str, max_pos: int = 512) -> IntLM:
    """The integer model from the GGUF file (Q4_1 / Q8_0 dequantised exactly in binary64, then int8 per
    output row; norm gains and the embedding rounded to units 2^-F)."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    r = GGUFReader(gguf_path)
    fields = {k: f.contents() for k, f in r.fields.items() if not k.startswith("tokenizer.")}
    t = {x.name: x for x in r.tensors}

    def w(name):
        x = t[name]
        return dequantize(x.data, x.tensor_type).astype(np.float64).reshape([int(d) for d in reversed(x.shape)])

    def fixed(a):
        return np.round(a * ONE).astype(np.int64)

    n_layer = int(fields["llama.block_count"])
    layers = [Layer(fixed(w(f"blk.{i}.attn_norm.weight")), *(Linear.from_float(w(f"blk.{i}.attn_{k}.weight"))
                                                            for k in ("q", "k", "v", "output")),
                    fixed(w(f"blk.{i}.ffn_norm.weight")),
                    *(Linear.from_float(w(f"blk.{i}.ffn_{k}.weight")) for k in ("gate", "up", "down")))
              for i in range(n_layer)]
    emb = w("token_embd.weight")
    n_head, n_kv = int(fields["llama.attention.head_count"]), int(fields["llama.attention.head_count_kv"])
    hd = emb.shape[1] // n_head
    base = float(fields["llama.rope.freq_base"])
    theta = np.array([base ** (-2 * i / hd) for i in range(hd // 2)])
    ang = np.arange(max_pos)[:, None] * theta[None]
    return IntLM(fixed(emb), layers, fixed(w("output_norm.weight")), Linear.from_float(emb), n_head, n_kv, hd,
                 np.round(np.cos(ang) * (1 << 14)).astype(np.int64), np.round(np.sin(ang) * (1 << 14)).astype(np.int64),
                 vocab_bytes=_token_bytes(r), start=0)


def _token_bytes(reader) -> list[bytes]:
    """Each token's bytes from a GGUF file's GPT-2 byte-level vocabulary: every character of a token
    stands for one byte (GPT-2's bytes_to_unicode table); control tokens are their text."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + len(cs) - 188)
    dec = {chr(c): b for b, c in zip(bs, cs)}
    toks = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    return [t.encode() if ty == 3 else bytes(dec[ch] for ch in t) for t, ty in zip(toks, types)]


# --- coding (measurement): tokens <-> text_data with the ANS coder of spec §8.4 ---------------------

def pmf_tables(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pmf` and the cumulative frequencies c (c[j] = w[0] + ... + w[j-1]) of each row."""
    if _kernels():
        from . import lm_kernels as K

        return K.pmf_tables(logits, _EXP_PADDED, PRECISION)
    return _tables(pmf(logits))


def _tables(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = np.zeros_like(w)
    np.cumsum(w[:, :-1], 1, out=c[:, 1:])
    return w, c


def _grouped(fn, model: IntLM, items: list, workers: int | None, **kw) -> list:
    """*fn* on contiguous groups of *items* in threads, one group per core (or *workers*), each group in
    lockstep with torch single-threaded: the captions are independent, so the results are the same,
    and one thread per group avoids the thread-pool barriers of every small product, which a busy
    second core turns into waits (docs/text.md)."""
    import concurrent.futures

    import torch

    k = max(1, min(workers or len(os.sched_getaffinity(0)), len(items)))
    bounds = [len(items) * g // k for g in range(k + 1)]
    def group(g: int) -> list:
        torch.set_num_threads(1)  # in this thread too: OpenMP's thread count is a per-thread setting
        return fn(model, items[bounds[g]:bounds[g + 1]], workers=0, _base=bounds[g], **kw)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with concurrent.futures.ThreadPoolExecutor(k) as ex:
            parts = list(ex.map(group, range(k)))
    finally:
        torch.set_num_threads(before)
    return [x for p in parts for x in p]


def _encode_pairs(model: IntLM, captions: list[list[int]], start: int, workers: int, _base: int) -> list:
    bits: list = []
    return list(zip(encode_batch(model, captions, start, bits, workers=workers, _base=_base), bits))


def encode_batch(model: IntLM, captions: list[list[int]], start: int = 0, bits: list | None = None,
                 workers: int | None = None, _base: int = 0) -> list[bytes]:
    """Each token list as text_data: the captions run in lockstep (one batched step per position), the
    PMF of token i conditioned on ``start`` and tokens 0..i-1, pushed in reverse as in spec §8.5.
    *bits*, if given, receives each caption's ideal code length -sum log2(w / 2^24).  *workers*: groups
    of captions run in parallel (default: one per core; 0: this thread, all in one lockstep)."""
    from .rans import PRECISION as P, SEAL

    if workers != 0:
        pairs = _grouped(_encode_pairs, model, captions, workers, start=start)
        if bits is not None:
            bits[:] = [b for _, b in pairs]
        return [d for d, _ in pairs]

    n = max((len(c) for c in captions), default=0)
    decisions: list[list[tuple[int, int]]] = [[] for _ in captions]
    cache: list = []
    prev = np.full(len(captions), start, dtype=np.int64)
    for pos in range(n):
        w, c = pmf_tables(model.step(prev, cache, pos))
        for j, toks in enumerate(captions):
            if pos < len(toks):
                decisions[j].append((int(w[j, toks[pos]]), int(c[j, toks[pos]])))
        prev = np.array([toks[pos] if pos < len(toks) else start for toks in captions], dtype=np.int64)
    out = []
    m32 = (1 << 32) - 1
    if bits is not None:
        bits[:] = [sum(PRECISION - math.log2(wi) for wi, _ in dec) for dec in decisions]
    for dec in decisions:
        state, words = SEAL, []
        for wi, ci in reversed(dec):
            if (state >> 40) >= wi:
                words.append(state & m32)
                state >>= 32
            state = ((state // wi) << P) | (ci + state % wi)
        words.append(state & m32)
        if state >> 32:
            words.append(state >> 32)
        out.append(b"".join(x.to_bytes(4, "big") for x in words[:-1]) + words[-1].to_bytes(4, "big").lstrip(b"\0"))
    return out


def decode_batch(model: IntLM, coded: list[tuple[bytes, int]], start: int = 0, workers: int | None = None,
                 _base: int = 0) -> list[list[int]]:
    """Inverse of :func:`encode_batch`: (text_data, num_tokens) per caption, each with its own ANS
    decoder, all in lockstep (*workers* as there)."""
    from .rans import PRECISION as P, Decoder

    if workers != 0:
        return _grouped(decode_batch, model, coded, workers, start=start)

    decs = [Decoder(d) for d, _ in coded]
    n = max((k for _, k in coded), default=0)
    toks: list[list[int]] = [[] for _ in coded]
    cache: list = []
    prev = np.full(len(coded), start, dtype=np.int64)
    mask = (1 << P) - 1
    for pos in range(n):
        w, c = pmf_tables(model.step(prev, cache, pos))
        for j, (dec, (_, k)) in enumerate(zip(decs, coded)):
            if pos >= k:
                continue
            q = dec.state & mask
            i = int(np.searchsorted(c[j], q, side="right")) - 1
            dec.state = (dec.state >> P) * int(w[j, i]) + (q - int(c[j, i]))
            if dec.state < (1 << 32) and dec.words:
                dec.state = (dec.state << 32) | dec.words.pop()
            toks[j].append(i)
            prev[j] = i
    for j, dec in enumerate(decs):
        if not dec.finished():
            from ..errors import error

            raise error("E020", f"caption {_base + j}: the coder does not end in state 1")
    return toks


def tiny(seed: int = 0, vocab: int = 256, dim: int = 32, n_layer: int = 2, n_head: int = 4, n_kv: int = 2,
         ffn: int = 64, max_pos: int = 128, vocab_bytes: list | None = None) -> IntLM:
    """A small random model with SmolLM2's structure and the same arithmetic (tests; tokens = bytes,
    or *vocab_bytes*)."""
    if vocab_bytes is not None:
        vocab = len(vocab_bytes)
    rng = np.random.default_rng(seed)

    def lin(o, i):
        return Linear.from_float(rng.standard_normal((o, i)) / math.sqrt(i))

    def gain():
        return np.round((0.5 + rng.random(dim)) * ONE).astype(np.int64)

    hd = dim // n_head
    layers = [Layer(gain(), lin(dim, dim), lin(n_kv * hd, dim), lin(n_kv * hd, dim), lin(dim, dim), gain(),
                    lin(ffn, dim), lin(ffn, dim), lin(dim, ffn)) for _ in range(n_layer)]
    emb = rng.standard_normal((vocab, dim))
    theta = np.array([10000.0 ** (-2 * i / hd) for i in range(hd // 2)])
    ang = np.arange(max_pos)[:, None] * theta[None]
    return IntLM(np.round(emb * ONE).astype(np.int64), layers, gain(), Linear.from_float(emb), n_head, n_kv, hd,
                 np.round(np.cos(ang) * (1 << 14)).astype(np.int64), np.round(np.sin(ang) * (1 << 14)).astype(np.int64),
                 vocab_bytes=vocab_bytes)
