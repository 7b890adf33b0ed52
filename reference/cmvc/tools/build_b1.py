"""Build the CMVC-B1 model file (``cmvc/data/b1-v1.bin``, spec §8.7.1) from word frequency lists.

    python -m cmvc.tools.build_b1 [-o PATH]

Source: the ``small`` word lists of the PyPI package ``wordfreq`` 3.1.1 (code Apache-2.0; data
CC BY-SA 4.0, see ``cmvc/data/b1-v1.PROVENANCE.md``).  For each language of :data:`LANGS` the builder
samples sentences of words drawn by frequency (numpy PCG64, fixed seed), spells them as a caption
would be (first letter upper-case, commas, a full stop; no spaces in Chinese and Japanese; German
nouns capitalised, approximated by :data:`CAPITALISED`), and
counts bytes in contexts of order 0 to 3.  No caption of the project's corpora is read.
The output is deterministic; its SHA-256 is pinned in ``cmvc.text.B1_SHA256`` and in the spec.
"""
from __future__ import annotations

import argparse
import hashlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from ..text.b1 import ORDERS, START, Model, serialize_model

#: (language, sentences sampled); wordfreq 'small' lists
LANGS = [("en", 6000), ("de", 6000), ("fr", 6000), ("es", 6000), ("it", 3000), ("pt", 3000), ("nl", 3000),
         ("ru", 3000), ("zh", 12000), ("ja", 8000), ("ko", 4000)]
TOP_WORDS = 20000
SEED = 20261204
K = [1, 1, 4, 1024]  # K[0..3] (§8.7.3)
L = [0, 1 << 12, 1 << 15, 1 << 17]  # L[0..3]
P0_SUM = 1 << 12
CAPS = [0, 1 << 13, 1 << 12, 1 << 11]  # scale of a context table of order o: min(count, CAP) * 4
MINS = [0, 1, 8, 16]  # contexts seen fewer times are dropped
NO_SPACE = {"zh", "ja"}
#: share of words written with a capital letter (the lists are lower-case; German capitalises nouns),
#: among the words outside the CAP_FROM_RANK most frequent (those are mostly function words)
CAPITALISED = {"de": 0.5}
CAP_FROM_RANK = 100


def sentences(lang: str, n: int, rng: np.random.Generator, cap_rng: np.random.Generator) -> list[str]:
    import wordfreq

    freqs = wordfreq.get_frequency_dict(lang, wordlist="small")
    words = sorted(freqs, key=lambda w: (-freqs[w], w))[:TOP_WORDS]
    p = np.array([freqs[w] for w in words], dtype=np.float64)
    p /= p.sum()
    ks = rng.integers(5, 15, size=n)
    picks = rng.choice(len(words), size=int(ks.sum()), p=p)
    commas = np.where(rng.random(n) < 0.3, rng.integers(2, ks), -1)
    cap_p = CAPITALISED.get(lang, 0.0)
    caps = cap_rng.random(len(picks)) < cap_p if cap_p else np.zeros(len(picks), bool)
    out, at = [], 0
    for k, comma in zip(ks.tolist(), commas.tolist()):
        ws = [words[i][:1].upper() + words[i][1:] if caps[at + j] and i >= CAP_FROM_RANK else words[i]
              for j, i in enumerate(picks[at:at + k].tolist())]
        at += k
        if lang in NO_SPACE:
            s = "".join(w + ("，" if i == comma else "") for i, w in enumerate(ws)) + "。"
        else:
            s = " ".join(w + ("," if i == comma else "") for i, w in enumerate(ws)) + "."
            s = s[0].upper() + s[1:]
        out.append(s)
    return out


def scale(c: Counter, cap: int) -> dict[int, int]:
    total = sum(c.values())
    target = min(total, cap) * 4
    out = {b: (n * target) // total for b, n in c.items()}
    return {b: v for b, v in out.items() if v > 0}


def build() -> bytes:
    rng = np.random.Generator(np.random.PCG64(SEED))
    cap_rng = np.random.Generator(np.random.PCG64(SEED + 1))
    c: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(ORDERS)]
    for lang, n in LANGS:
        for s in sentences(lang, n, rng, cap_rng):
            hist = (START,) * (ORDERS - 1)
            for b in s.encode("utf-8"):
                for o in range(ORDERS):
                    c[o][hist[len(hist) - o:] if o else ()][b] += 1
                hist = hist[1:] + (b,)
    c0 = c[0][()]
    total0 = sum(c0.values())
    p = [{(): {b: (c0[b] * P0_SUM) // total0 for b in range(256) if (c0[b] * P0_SUM) // total0}}]
    for o in range(1, ORDERS):
        tabs = {k: scale(v, CAPS[o]) for k, v in c[o].items() if sum(v.values()) >= MINS[o]}
        p.append({k: v for k, v in tabs.items() if v})
    return serialize_model(Model(K, L, p))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", default=str(Path(__file__).resolve().parents[1] / "data" / "b1-v1.bin"))
    a = ap.parse_args(argv)
    raw = build()
    Path(a.o).write_bytes(raw)
    print(f"{a.o}: {len(raw)} bytes, SHA-256 {hashlib.sha256(raw).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
