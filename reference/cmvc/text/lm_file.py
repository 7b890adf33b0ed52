"""§8.12.1 The integer language-model file ("CMLM" version 1) of CMVC_L1: write and read.

Everything a decoder needs, as integers: dimensions, each token's bytes, the EXP and SIG tables, the
RoPE tables, the embedding, and per layer the norm gains and the int8 weights with their row scales.
Read with ``numpy.frombuffer`` (no pickle, no floating point).
"""
from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np

from ..errors import error
from . import lm

MAGIC = b"CMLM"
VERSION = 1
HEADER_FIELDS = ("vocab_size", "dim", "num_layers", "num_heads", "num_kv_heads", "head_dim", "ffn_dim",
                 "max_positions", "start_token", "exp_size", "sig_range")
I32 = np.dtype("<i4")


def _i32(a) -> bytes:
    a = np.asarray(a, dtype=np.int64)
    if a.size and (a.min() < -(1 << 31) or a.max() >= 1 << 31):
        raise error("E101", "a model value does not fit in 32 bits")
    return a.astype(I32).tobytes()


def _i8(a) -> bytes:
    return np.ascontiguousarray(a, dtype=np.int8).tobytes()


def dumps(m: lm.IntLM) -> bytes:
    """The model file of *m* (§8.12.1)."""
    vocab = m.vocab_bytes if m.vocab_bytes is not None else [bytes([t]) for t in range(m.vocab)]
    if len(vocab) != m.vocab or any(len(t) > 255 for t in vocab):
        raise error("E101", "each of the vocab_size tokens needs 0..255 bytes")
    L0 = m.layers[0]
    head = [m.vocab, m.embed.shape[1], len(m.layers), m.n_head, m.n_kv, m.head_dim, L0.gate.q.shape[0],
            m.cos.shape[0], m.start, len(lm.EXP_TABLE), lm.SIG_RANGE]
    out = [MAGIC, bytes([VERSION]), np.array(head, dtype="<u4").tobytes()]
    out += [bytes([len(t)]) + t for t in vocab]
    out += [_i32(lm.EXP_TABLE), _i32(lm.SIG_TABLE), _i32(m.cos), _i32(m.sin), _i32(m.embed)]
    for L in m.layers:
        out.append(_i32(L.attn_norm))
        for lin in (L.q, L.k, L.v, L.o):
            out += [_i8(lin.q), _i32(lin.scale)]
        out.append(_i32(L.ffn_norm))
        for lin in (L.gate, L.up, L.down):
            out += [_i8(lin.q), _i32(lin.scale)]
    out += [_i32(m.out_norm), _i8(m.head.q), _i32(m.head.scale)]
    return b"".join(out)


def write(m: lm.IntLM, path: str | os.PathLike) -> str:
    """Write the model file atomically; return its SHA-256 (the model's identity, §10.9)."""
    data = dumps(m)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


def _bad(msg: str):
    return error("E220", f"not a CMLM version 1 text model file: {msg}")


def loads(data: bytes) -> lm.IntLM:
    """The model of a file's bytes (§8.12.1); E220 when they are not a valid CMLM version 1 file."""
    if data[:4] != MAGIC or data[4:5] != bytes([VERSION]):
        raise _bad("the first 5 bytes are not 'CMLM' 0x01")
    if len(data) < 5 + 4 * len(HEADER_FIELDS):
        raise _bad("the header is truncated")
    h = dict(zip(HEADER_FIELDS, (int(x) for x in np.frombuffer(data, "<u4", len(HEADER_FIELDS), 5))))
    V, d, nl, nh, nkv, hd, ffn, P = (h[k] for k in HEADER_FIELDS[:8])
    if not (1 <= V <= 1 << 23 and d >= 1 and nl >= 1 and nh >= 1 and nkv >= 1 and nh % nkv == 0 and hd >= 2 and hd % 2 == 0
            and ffn >= 1 and P >= 1 and h["start_token"] < V and h["exp_size"] >= 1):
        raise _bad(f"inconsistent dimensions {h}")
    pos = 5 + 4 * len(HEADER_FIELDS)
    vocab = []
    for _ in range(V):
        if pos >= len(data):
            raise _bad("the vocabulary is truncated")
        n = data[pos]
        vocab.append(bytes(data[pos + 1: pos + 1 + n]))
        pos += 1 + n

    def take(dtype, *shape):
        nonlocal pos
        count = math.prod(shape)  # Python integers: no overflow for absurd dimensions
        size = count * np.dtype(dtype).itemsize
        if pos + size > len(data):
            raise _bad("the file ends inside its arrays")
        a = np.frombuffer(data, dtype, count, pos).reshape(shape).astype(np.int64 if dtype == I32 else np.int8)
        pos += size
        return a

    def linear(o, i):
        q = take(np.int8, o, i)
        return lm.Linear.from_int8(q, take(I32, o))

    exp = take(I32, h["exp_size"])
    sig = take(I32, 2 * h["sig_range"] + 1)
    if not (np.array_equal(exp, lm.EXP_TABLE) and np.array_equal(sig, lm.SIG_TABLE)):
        raise error("E220", "the model file's EXP or SIG table differs from the tables this implementation computes "
                            "with (§8.12.1)")
    cos, sin = take(I32, P, hd // 2), take(I32, P, hd // 2)
    embed = take(I32, V, d)
    layers = []
    for _ in range(nl):
        an = take(I32, d)
        q, k, v, o = linear(nh * hd, d), linear(nkv * hd, d), linear(nkv * hd, d), linear(d, nh * hd)
        fn = take(I32, d)
        layers.append(lm.Layer(an, q, k, v, o, fn, linear(ffn, d), linear(ffn, d), linear(d, ffn)))
    out_norm = take(I32, d)
    head = linear(V, d)
    if pos != len(data):
        raise _bad(f"{len(data) - pos} bytes follow the last array")
    return lm.IntLM(embed, layers, out_norm, head, nh, nkv, hd, cos, sin, vocab_bytes=vocab, start=h["start_token"])


_LOADED: dict[str, lm.IntLM] = {}


def load(path: str | os.PathLike, sha256: str | None = None) -> lm.IntLM:
    """The model in *path*, checked against *sha256* if given (E202); cached per process by hash."""
    data = Path(path).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if sha256 is not None and got != sha256:
        raise error("E202", f"{path} has SHA-256 {got}, not {sha256}")
    if got not in _LOADED:
        _LOADED.clear()  # one text model at a time (the real one is large)
        _LOADED[got] = loads(data)
    return _LOADED[got]
