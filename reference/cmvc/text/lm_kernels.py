"""Compiled (numba) versions of the elementwise integer steps of :mod:`cmvc.text.lm`.

Each kernel computes exactly the integers of the numpy expression it replaces (int64 arithmetic,
arithmetic right shifts, floor divisions of non-negative or sign-corrected values), fused into one
pass per row.  Single-threaded on purpose: a second thread pool beside torch's (which runs the
matrix products) made decoding 5-10x slower on a loaded 2-core machine (docs/text.md).  numba is optional: without it ``AVAILABLE`` is
False and :mod:`cmvc.text.lm` uses numpy (slower, same results; tests compare the two).
"""
from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is in the "lm" extra
    numba = None

AVAILABLE = numba is not None


def _jit(fn):
    if numba is None:  # pragma: no cover
        return fn
    return numba.njit(cache=True, nogil=True)(fn)


prange = range


@_jit
def quantise(x, gain, has_gain, amax_q):  # pragma: no cover - compiled
    """RMSNorm + requantisation per row (lm.quantise): returns (a int8 (N, K), fv int64 (N,))."""
    n, k = x.shape
    a = np.empty((n, k), np.int8)
    fv = np.empty(n, np.int64)
    for i in prange(n):
        r = np.int64(4096)
        if has_gain:
            ms = np.int64(0)
            for j in range(k):
                ms += x[i, j] * x[i, j]
            ms = ms // k + 168
            r = np.int64(np.sqrt(np.float64(ms)))
            while r * r > ms:
                r -= 1
            while (r + 1) * (r + 1) <= ms:
                r += 1
        amax = np.int64(0)
        for j in range(k):
            z = x[i, j] * gain[j] if has_gain else x[i, j] * 4096
            if z < 0:
                z = -z
            if z > amax:
                amax = z
        if amax == 0:
            amax = 1
        den = 2 * amax
        for j in range(k):
            z = x[i, j] * gain[j] if has_gain else x[i, j] * 4096
            a[i, j] = (z * (2 * amax_q) + amax) // den
        d2 = 2 * amax_q * r
        fv[i] = (2 * (amax << 16) + amax_q * r) // d2
    return a, fv


@_jit
def apply(acc, scale, fv, clamp):  # pragma: no cover - compiled
    """lm.Linear.apply's rounding: clip(rshift(rshift(acc * scale, 14) * fv, 26))."""
    n, m = acc.shape
    out = np.empty((n, m), np.int64)
    for i in prange(n):
        f = fv[i]
        for j in range(m):
            t = (np.int64(acc[i, j]) * scale[j] + 8192) >> 14
            t = (t * f + 33554432) >> 26
            out[i, j] = min(max(t, -clamp), clamp)
    return out


@_jit
def silu_mul(g, u, sig, sig_range, clamp):  # pragma: no cover - compiled
    """lm.silu_mul."""
    n, m = g.shape
    out = np.empty((n, m), np.int64)
    for i in prange(n):
        for j in range(m):
            gv = g[i, j]
            idx = min(max((gv + 8) >> 4, -sig_range), sig_range) + sig_range
            s = (gv * sig[idx] + 32768) >> 16
            t = (s * u[i, j] + 2048) >> 12
            out[i, j] = min(max(t, -clamp), clamp)
    return out


@_jit
def pmf_tables(logits, exp_padded, precision):  # pragma: no cover - compiled
    """lm.pmf and its cumulative table: (w, c) int64 (N, V), c[j] = w[0] + ... + w[j - 1]."""
    n, v = logits.shape
    w = np.empty((n, v), np.int64)
    c = np.empty((n, v), np.int64)
    last = len(exp_padded) - 1
    total = np.int64(1) << precision
    for i in prange(n):
        top = (logits[i, 0] + 8) >> 4
        for j in range(v):
            uq = (logits[i, j] + 8) >> 4
            if uq > top:
                top = uq
        s = np.int64(0)
        best, arg = np.int64(-1), 0
        for j in range(v):
            e = exp_padded[min(top - ((logits[i, j] + 8) >> 4), last)]
            w[i, j] = e
            s += e
            if e > best:
                best, arg = e, j
        tw = np.int64(0)
        for j in range(v):
            w[i, j] = 1 + w[i, j] * (total - v) // s
            tw += w[i, j]
        w[i, arg] += total - tw
        acc = np.int64(0)
        for j in range(v):
            c[i, j] = acc
            acc += w[i, j]
    return w, c



@_jit
def matvec_int8(a, q):  # pragma: no cover - compiled
    """Exact a @ q^T for int8 a (N, K) and int8 weights q (M, K) (rows of the model file) into int32:
    for one or two captions this reads the weights once at memory speed, about twice as fast as
    torch._int_mm then (docs/text.md)."""
    n, k = a.shape
    m = q.shape[0]
    out = np.empty((n, m), np.int32)
    for j in range(m):
        for r in range(n):
            s = np.int32(0)
            for i in range(k):
                s += np.int32(a[r, i]) * np.int32(q[j, i])
            out[r, j] = s
    return out
