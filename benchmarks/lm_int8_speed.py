"""Feasibility of an integer-only LM-prior text method (issue 33, item 4): time of the matrix
products of one SmolLM2-135M token step (30 layers, hidden 576, MLP 1536, 9 query and 3 key/value
heads of 64, vocabulary 49152, tied embedding) with int8 weights and int8 activations, in numpy.
The weights are random of the real shapes (no download); attention, norms and softmax are left
out (they are O(hidden) or O(context) per token, small beside these products).

    python benchmarks/lm_int8_speed.py [--threads N]

Three exact integer kernels:
* ``int32``: ``np.matmul`` on int32 arrays (numpy's own loops, no BLAS);
* ``f64``: float64 BLAS on integer-valued arrays: exact (every partial sum < 2^53);
* ``f32-split``: float32 BLAS with the inner dimension cut into chunks of 1024, each chunk's
  dot product exact (|sum| <= 1024 * 127 * 127 < 2^24), the chunks summed in int64:
  bit-exact whatever order the BLAS sums in.
Prints ms per token step (decoder: one token, matrix-vector) and per caption of 12 tokens when the
encoder runs them as one batch, and captions/s for a decoder that must go token by token.
"""
from __future__ import annotations

import argparse
import os
import time

HIDDEN, MLP, LAYERS, VOCAB, KV = 576, 1536, 30, 49152, 192
TOKENS = 12  # SmolLM2 tokens in a typical caption of the house corpus (about 42 characters)


def shapes() -> list[tuple[int, int]]:
    per_layer = [(HIDDEN, HIDDEN), (HIDDEN, KV), (HIDDEN, KV), (HIDDEN, HIDDEN), (HIDDEN, MLP), (HIDDEN, MLP),
                 (MLP, HIDDEN)]
    return per_layer * LAYERS + [(HIDDEN, VOCAB)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = str(a.threads)
    import numpy as np

    rng = np.random.default_rng(0)
    ws = {}
    for s in set(shapes()):
        ws[s] = rng.integers(-127, 128, size=s, dtype=np.int8)
    w32 = {s: w.astype(np.int32) for s, w in ws.items()}
    w64 = {s: w.astype(np.float64) for s, w in ws.items()}
    wf32 = {s: w.astype(np.float32) for s, w in ws.items()}

    def run(kind: str, n: int) -> float:
        best = float("inf")
        for _ in range(a.reps):
            t = time.perf_counter()
            for s in shapes():
                x = rng.integers(-127, 128, size=(n, s[0]), dtype=np.int8)
                if kind == "int32":
                    y = x.astype(np.int32) @ w32[s]
                elif kind == "f64":
                    y = (x.astype(np.float64) @ w64[s]).astype(np.int64)
                else:
                    xf, w = x.astype(np.float32), wf32[s]
                    y = sum(((xf[:, i:i + 1024] @ w[i:i + 1024]).astype(np.int64) for i in range(0, s[0], 1024)))
            best = min(best, time.perf_counter() - t)
            del y
        return best

    x = rng.integers(-127, 128, size=(TOKENS, MLP), dtype=np.int8)  # exactness check of f32-split
    s = (MLP, HIDDEN)
    ref = x.astype(np.int64) @ ws[s].astype(np.int64)
    xf = x.astype(np.float32)
    got = sum(((xf[:, i:i + 1024] @ wf32[s][i:i + 1024]).astype(np.int64) for i in range(0, MLP, 1024)))
    assert (got == ref).all()
    params = sum(r * c for r, c in shapes())
    print(f"{params / 1e6:.1f} M weights per token step, {a.threads} threads")
    for kind in ("int32", "f64", "f32-split"):
        one = run(kind, 1)
        batch = run(kind, TOKENS)
        print(f"{kind:<10} decoder {1e3 * one:8.1f} ms/token -> {1 / (one * TOKENS):6.2f} captions/s; "
              f"encoder {1e3 * batch:8.1f} ms per {TOKENS}-token caption")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
