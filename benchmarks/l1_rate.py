"""CMVC_L1 (spec §8.12) with a text model: bytes per caption of the method, and of the per-caption
choice of §8.8 with CMVC_L1 among the candidates, on the held-out sets of §8.9, against brotli-11;
lockstep decode speed; every caption decoded back.

    python benchmarks/l1_rate.py [--model smollm2-135m-l1] [--limit N] [--hf-gguf PATH]

The model is a §10.9 name (fetched and derived once) or a CMLM file.  With --hf-gguf the captions are
also tokenised with the GGUF file's own BPE tokenizer (transformers) instead of the reference
encoder's fewest-tokens split (§8.12.7), to show what the choice of split costs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import brotli

import cmvc.text as T
from cmvc.registry import TextMethod
from cmvc.syntax.descriptors import encode_leb128
from cmvc.text import l1, lm
from cmvc.tools.build_t1 import split

ROOT = Path(__file__).resolve().parents[1]


def sets(limit):
    cap = ROOT / "tests" / "data" / "captions"
    _, held = split([l for l in (cap / "all.txt").read_text().split("\n") if l])
    out = {"en house": held, "en other": [l for l in (cap / "english_other" / "en.txt").read_text().split("\n") if l]}
    for lang in ("zh", "de", "fr", "es"):
        out[lang] = [l for l in (cap / "multilingual" / f"{lang}.txt").read_text().split("\n") if l]
    return {k: v[:limit] for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-l1")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--hf-gguf")
    a = ap.parse_args()
    name, sha, _, m = l1.resolve(a.model)
    tok = None
    if a.hf_gguf:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(a.hf_gguf)),
                                            gguf_file=os.path.basename(a.hf_gguf))
    print(f"model {name} ({sha[:12]}...), load {os.getloadavg()[0]:.2f}")
    print(f"{'set':<9} {'n':>3} {'utf-8':>6} {'brotli':>6} {'L1':>14} {'best w/o L1':>14} {'best with L1':>14} "
          f"{'L1 wins':>7} {'tokens':>6} {'L1 (BPE split)':>14}")
    for sname, caps in sets(a.limit).items():
        br = statistics.mean(len(brotli.compress(s.encode(), quality=11)) for s in caps)
        t = time.perf_counter()
        coded = l1.encode_texts(m, caps)
        t_enc = time.perf_counter() - t
        assert all(c is not None for c in coded)
        t = time.perf_counter()
        back = l1.decode_texts(m, coded)
        t_dec = time.perf_counter() - t
        assert back == caps
        cost = lambda r: len(r[2]) + len(encode_leb128(r[1])) + 1  # noqa: E731  coding_method, num_tokens, text_data
        l1b = statistics.mean(len(d) for _, d in coded)
        plain = [T.encode_best(s) for s in caps]
        best = [T.encode_best(s, candidates=[(TextMethod.CMVC_L1, *c)]) for s, c in zip(caps, coded)]
        wins = sum(r[0] == TextMethod.CMVC_L1 for r in best)
        pb, bb = statistics.mean(map(cost, plain)), statistics.mean(map(cost, best))
        bpe = ""
        if tok is not None:
            ids = [tok(s, add_special_tokens=False).input_ids for s in caps]
            bpe_b = statistics.mean(map(len, lm.encode_batch(m, ids, m.start)))
            bpe = f"{bpe_b:7.2f} ({bpe_b / br:.3f})"
        ntok = statistics.mean(n for n, _ in coded)
        print(f"{sname:<9} {len(caps):>3} {statistics.mean(len(s.encode()) for s in caps):6.2f} {br:6.2f} "
              f"{l1b:7.2f} ({l1b / br:.3f}) {pb:7.2f} ({pb / br:.3f}) {bb:7.2f} ({bb / br:.3f}) {wins:>7} {ntok:6.1f} {bpe}")
        print(f"          lockstep: encode {len(caps) / t_enc:.1f} captions/s, decode {len(caps) / t_dec:.1f} captions/s; "
              f"load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
