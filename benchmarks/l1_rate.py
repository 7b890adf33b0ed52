"""CMVC_L1 (spec §8.12) with a text model: bytes per caption of the method, and of the per-caption
choice of §8.8 with CMVC_L1 among the candidates, on the held-out sets of §8.9, against brotli-11;
lockstep encode and decode speed; every caption decoded back.

    python benchmarks/l1_rate.py [--model smollm2-135m-l1] [--limit N]

The model is a §10.9 name (fetched and derived once) or a CMLM file.  Two token splits of the encoder
(§8.12.7, informative) are compared: the fewest tokens (:func:`cmvc.text.l1.tokenize`) and, for
smollm2-135m-l1 with transformers installed, the GGUF file's own BPE tokenizer
(:func:`cmvc.text.l1.bpe_splitter`, what ``cmvc encode --text-lm`` uses when it can).
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
from cmvc.text import l1
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
    a = ap.parse_args()
    name, sha, _, m = l1.resolve(a.model)
    bpe = l1.bpe_splitter(name, sha)
    print(f"model {name} ({sha[:12]}...); BPE split {'available' if bpe else 'not available'}; "
          f"load {os.getloadavg()[0]:.2f}")
    print("bytes of text_data per caption (ratio to brotli-11), as spec §8.9; 'unit' adds coding_method and num_tokens")
    print(f"{'set':<9} {'n':>3} {'utf-8':>6} {'brotli':>6} {'L1 fewest':>14} {'L1 BPE':>14} {'best w/o L1':>14} "
          f"{'best with L1':>14} {'L1 wins':>7} {'tokens':>6}")
    text_data = lambda r: len(r[2])  # noqa: E731
    unit = lambda r: len(r[2]) + len(encode_leb128(r[1])) + 1  # noqa: E731
    for sname, caps in sets(a.limit).items():
        br = statistics.mean(len(brotli.compress(s.encode(), quality=11)) for s in caps)
        fewest = l1.encode_texts(m, caps)
        t = time.perf_counter()
        coded = l1.encode_texts(m, caps, bpe) if bpe else fewest
        t_enc = time.perf_counter() - t
        if None in coded or None in fewest:
            raise SystemExit(f"{sname}: a caption cannot be coded with {name} (more than {m.max_positions} tokens, "
                             "or a byte its vocabulary lacks)")
        t = time.perf_counter()
        back = l1.decode_texts(m, coded)
        t_dec = time.perf_counter() - t
        assert back == caps
        fb, lb = statistics.mean(len(d) for _, d in fewest), statistics.mean(len(d) for _, d in coded)
        plain = [T.encode_best(s) for s in caps]
        best = [T.encode_best(s, candidates=[(TextMethod.CMVC_L1, *c)]) for s, c in zip(caps, coded)]
        wins = sum(r[0] == TextMethod.CMVC_L1 for r in best)
        pb, bb = statistics.mean(map(text_data, plain)), statistics.mean(map(text_data, best))
        print(f"{sname:<9} {len(caps):>3} {statistics.mean(len(s.encode()) for s in caps):6.2f} {br:6.2f} "
              f"{fb:7.2f} ({fb / br:.3f}) {lb:7.2f} ({lb / br:.3f}) {pb:7.2f} ({pb / br:.3f}) {bb:7.2f} ({bb / br:.3f}) "
              f"{wins:>7} {statistics.mean(n for n, _ in coded):6.1f}")
        print(f"          unit: best w/o L1 {statistics.mean(map(unit, plain)):.2f}, with L1 "
              f"{statistics.mean(map(unit, best)):.2f}; lockstep: encode {len(caps) / t_enc:.1f} captions/s, "
              f"decode {len(caps) / t_dec:.1f} captions/s; load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
