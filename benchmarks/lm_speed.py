"""Decode speed of the integer LM prior (cmvc.text.lm) with SmolLM2-135M's shapes (30 layers, width 576,
9/3 heads, FFN 1536, vocabulary 49 152) and random weights: the same arithmetic and work as the real
model, so no weights are needed.  Single-caption decoding and lockstep (batched) decoding alternate in
one process; also checks that both give the same tokens.

    python benchmarks/lm_speed.py [--captions 32] [--tokens 12] [--rounds 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from cmvc.text import lm


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--captions", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=12, help="tokens per caption (the house held-out set: 11.9)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--single", type=int, default=2, help="captions decoded one at a time per round")
    a = ap.parse_args()
    t = time.perf_counter()
    m = lm.tiny(1, vocab=49152, dim=576, n_layer=30, n_head=9, n_kv=3, ffn=1536)
    print(f"random model of SmolLM2-135M's shape built in {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(0)
    caps = [list(rng.integers(0, 49152, a.tokens)) for _ in range(a.captions)]
    coded = lm.encode_batch(m, caps)
    jobs = list(zip(coded, map(len, caps)))
    single, batch = [], []
    for _ in range(a.rounds):  # alternate A/B
        t = time.perf_counter()
        for j in range(a.single):
            assert lm.decode_batch(m, [jobs[j]]) == [caps[j]]
        single.append(a.single / (time.perf_counter() - t))
        t = time.perf_counter()
        assert lm.decode_batch(m, jobs) == caps
        batch.append(a.captions / (time.perf_counter() - t))
    import hashlib

    print(f"SHA-256 of all text_data (the same in every process): {hashlib.sha256(b''.join(coded)).hexdigest()[:16]}")
    print(f"decode, {a.tokens} tokens per caption: one at a time {statistics.median(single):.2f} captions/s, "
          f"{a.captions} in lockstep {statistics.median(batch):.2f} captions/s (medians of {a.rounds}); "
          f"threads {os.environ.get('OMP_NUM_THREADS', 'default')}, load {os.getloadavg()[0]:.2f}, "
          f"cpus {len(os.sched_getaffinity(0))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
