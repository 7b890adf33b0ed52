"""Build the CMVC-T2 model file (``cmvc/data/t2-v1.bin``, spec §8.10): the CMVC-T1 format and
decoding rules with a vocabulary and word prior from broad English data.

    python -m cmvc.tools.build_t2 [-o PATH]

Sources (see ``cmvc/data/t2-v1.PROVENANCE.md``):
1. Vocabulary and unigram prior: the ``large`` English list of the PyPI package ``wordfreq`` 3.1.1
   (data CC BY-SA 4.0), words of letters a-z only, the first :data:`VOCAB` by frequency.
2. Context tables (TYPE, BYTE, LETTER) and FOLLOW (word bigrams): the *training* split of the
   project's caption corpus, exactly the text CMVC-T1 was built from (no new caption), plus the
   letter transitions of the vocabulary weighted by frequency.
The output is deterministic; its SHA-256 is pinned in ``cmvc.text.T2_SHA256`` and in the spec.
"""
from __future__ import annotations

import argparse
import hashlib
import re
from collections import Counter, defaultdict
from pathlib import Path

from ..text.model import N_CLASSES, Model, letter_key, normalize, serialize_model, symbol_class
from ..text.tokens import BYTE_LIMIT, CAP, UPPER, WORD0, tokenize
from .build_t1 import split

VOCAB = 80000
PRIOR_TOTAL = 1 << 18  # the wordfreq prior's weight, in caption-word counts times TRAIN_WEIGHT
TRAIN_WEIGHT = 64
ESCAPE = 2  # FOLLOW escape weight per distinct follower (Witten-Bell style)


def vocabulary() -> list[tuple[str, float]]:
    import wordfreq

    freqs = wordfreq.get_frequency_dict("en", wordlist="large")
    words = [(w, f) for w, f in freqs.items() if re.fullmatch("[a-z]+", w)]
    words.sort(key=lambda x: (-x[1], x[0]))
    return words[:VOCAB]


def build(vocab: list[tuple[str, float]], train: list[str]) -> Model:
    words = [w for w, _ in vocab]
    index = {w: i for i, w in enumerate(words)}
    train_words = Counter(w.lower() for line in train for w in re.findall(r"[A-Za-z]+", line))
    extra = sorted(w for w in train_words if w not in index)
    words += extra
    index = {w: i for i, w in enumerate(words)}
    type_c = [[0] * 4 for _ in range(N_CLASSES)]
    byte_c = [[0] * 256 for _ in range(N_CLASSES)]
    letter_c = [[0] * 256 for _ in range(26)]
    uni_c = [0] * len(words)
    follow_c: dict[int, Counter] = defaultdict(Counter)
    for line in train:
        cls, prev_byte, last_word = 0, -1, -1
        for s in tokenize(line, index):
            t = 0 if s < BYTE_LIMIT else 2 if s == CAP else 3 if s == UPPER else 1
            type_c[cls][t] += 1
            if t == 0:
                if prev_byte >= 0 and symbol_class(prev_byte) == 3:
                    letter_c[letter_key(prev_byte)][s] += 16
                else:
                    byte_c[cls][s] += 16
            elif t == 1:
                uni_c[s - WORD0] += 1
                if last_word >= 0:
                    follow_c[last_word][s - WORD0] += 1
            cls = symbol_class(s)
            prev_byte = s if s < BYTE_LIMIT else -1
            if s >= WORD0:
                last_word = s - WORD0
    total_f = sum(f for _, f in vocab)
    for w, f in vocab:  # spelling model for words outside the vocabulary
        n = max(1, int(f / total_f * 200000))
        for a, b in zip(w, w[1:]):
            letter_c[letter_key(ord(a))][ord(b)] += n
        letter_c[letter_key(ord(w[-1]))][32] += n
        byte_c[2][ord(w[0])] += n
        byte_c[0][ord(w[0].upper())] += n
    for c in byte_c + letter_c:  # every byte stays codable
        for b in range(256):
            c[b] += 1
    for c in type_c:
        for t in range(4):
            c[t] += 1
    prior = [int(f / total_f * PRIOR_TOTAL) for _, f in vocab] + [0] * len(extra)
    unigram = [TRAIN_WEIGHT * uni_c[i] + prior[i] + 1 for i in range(len(words))]
    follow = {}
    for a, cnt in follow_c.items():
        ids = sorted(cnt)
        follow[a] = (ids, normalize([cnt[i] for i in ids] + [ESCAPE * len(ids) + 1]))
    return Model(words, [normalize(c) for c in type_c], [normalize(c) for c in byte_c],
                 [normalize(c) for c in letter_c], normalize(unigram), follow)


def build_bytes(captions: Path) -> bytes:
    lines = [l for l in captions.read_text().split("\n") if l]
    train, _ = split(lines)
    return serialize_model(build(vocabulary(), train))


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[3]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captions", type=Path, default=root / "tests" / "data" / "captions" / "all.txt")
    ap.add_argument("-o", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "t2-v1.bin")
    a = ap.parse_args(argv)
    raw = build_bytes(a.captions)
    a.o.write_bytes(raw)
    print(f"{a.o}: {len(raw)} bytes, SHA-256 {hashlib.sha256(raw).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
