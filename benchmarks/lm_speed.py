"""Decode speed of the integer LM prior (cmvc.text.lm) with SmolLM2-135M's shapes (30 layers, width 576,
9/3 heads, FFN 1536, vocabulary 49 152) and random weights: the same arithmetic and work as the real
model, so no weights are needed.  Single-caption and lockstep (batched) decoding, each with the numpy path
and with the compiled kernels (cmvc.text.lm_kernels), alternate in one process; every decode is checked.

    python benchmarks/lm_speed.py [--captions 32] [--tokens 12] [--rounds 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from cmvc.text import lm, lm_kernels


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
    paths = {"numpy": False, "kernels": True} if lm_kernels.AVAILABLE else {"numpy": False}
    rates: dict = {(p, k): [] for p in paths for k in ("single", "batch", "batch_cpu")}
    for _ in range(a.rounds):  # alternate A/B: the numpy path, then the compiled kernels (same integers)
        for name, flag in paths.items():
            lm.USE_NUMBA = flag
            t = time.perf_counter()
            for j in range(a.single):
                assert lm.decode_batch(m, [jobs[j]]) == [caps[j]]
            rates[name, "single"].append(a.single / (time.perf_counter() - t))
            t, c = time.perf_counter(), time.process_time()
            assert lm.decode_batch(m, jobs) == caps
            rates[name, "batch"].append(a.captions / (time.perf_counter() - t))
            rates[name, "batch_cpu"].append(a.captions / (time.process_time() - c))
    import hashlib

    print(f"SHA-256 of all text_data (the same in every process): {hashlib.sha256(b''.join(coded)).hexdigest()[:16]}")
    print(f"decode, {a.tokens} tokens per caption, medians of {a.rounds} (threads "
          f"{os.environ.get('OMP_NUM_THREADS', 'default')}/{os.environ.get('NUMBA_NUM_THREADS', 'default')} "
          f"torch/numba, load {os.getloadavg()[0]:.2f}, cpus {len(os.sched_getaffinity(0))}):")
    for name in paths:
        print(f"  {name:8s} one at a time {statistics.median(rates[name, 'single']):.2f} captions/s; "
              f"{a.captions} in lockstep {statistics.median(rates[name, 'batch']):.2f} captions/s "
              f"({statistics.median(rates[name, 'batch_cpu']):.2f} per CPU second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
