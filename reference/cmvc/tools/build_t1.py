"""Build the CMVC-T1 model file (``cmvc/data/t1-v1.bin``) from its two sources.

    python -m cmvc.tools.build_t1 [--clip-bpe PATH] [--captions tests/data/captions/all.txt]

1. Vocabulary prior: word-final tokens of CLIP's BPE (``bpe_simple_vocab_16e6.txt.gz``, MIT, shipped
   with open_clip_torch), in merge order, letters a-z only, the first 20000; merge order stands in
   for frequency rank.
2. Training text: the *training* split of the caption corpus (a caption is held out when the first
   byte of its SHA-256 is divisible by 4); the held-out split is never read here.
The output is deterministic; its SHA-256 is pinned in ``cmvc.text.T1_SHA256`` and in the spec.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import re
from collections import Counter, defaultdict
from pathlib import Path

from ..text.model import N_CLASSES, Model, letter_key, normalize, serialize_model, symbol_class
from ..text.tokens import BYTE_LIMIT, CAP, UPPER, WORD0, tokenize

CLIP_WORDS = 20000
UNIGRAM_TRAIN_WEIGHT = 64
PRIOR_SCALE = 4096
PRIOR_OFFSET = 8


def split(lines: list[str]) -> tuple[list[str], list[str]]:
    held = [l for l in lines if hashlib.sha256(l.encode()).digest()[0] % 4 == 0]
    return [l for l in lines if hashlib.sha256(l.encode()).digest()[0] % 4 != 0], held


def clip_words(path: Path) -> list[str]:
    merges = gzip.open(path).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    out, seen = [], set()
    for m in merges:
        a, b = m.split()
        tok = a + b
        if tok.endswith("</w>"):
            w = tok[:-4]
            if re.fullmatch("[a-z]+", w) and w not in seen:
                seen.add(w)
                out.append(w)
    return out[:CLIP_WORDS]


def build(clip: list[str], train: list[str]) -> Model:
    train_words = Counter(w.lower() for line in train for w in re.findall(r"[A-Za-z]+", line))
    words = list(clip) + sorted(w for w in train_words if w not in set(clip))
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
    # spelling model for words outside the vocabulary: letter transitions of the CLIP words
    for w in clip:
        for a, b in zip(w, w[1:]):
            letter_c[letter_key(ord(a))][ord(b)] += 1
        letter_c[letter_key(ord(w[-1]))][32] += 1
        byte_c[2][ord(w[0])] += 1  # a spelled word after a space starts with a letter
        byte_c[0][ord(w[0].upper())] += 1
    for c in byte_c + letter_c:  # every byte stays codable
        for b in range(256):
            c[b] += 1
    for c in type_c:
        for t in range(4):
            c[t] += 1
    unigram = [UNIGRAM_TRAIN_WEIGHT * uni_c[i] + (PRIOR_SCALE // (i + PRIOR_OFFSET) if i < len(clip) else 0) + 1
               for i in range(len(words))]
    follow = {}
    for a, cnt in follow_c.items():
        ids = sorted(cnt)
        esc = 2 * len(ids) + 1  # Witten-Bell style: more distinct followers, more escapes
        follow[a] = (ids, normalize([cnt[i] for i in ids] + [esc]))
    return Model(words, [normalize(c) for c in type_c], [normalize(c) for c in byte_c], [normalize(c) for c in letter_c],
                 normalize(unigram), follow)


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[3]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip-bpe", type=Path)
    ap.add_argument("--captions", type=Path, default=root / "tests" / "data" / "captions" / "all.txt")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "t1-v1.bin")
    a = ap.parse_args(argv)
    bpe = a.clip_bpe
    if bpe is None:
        import open_clip

        bpe = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    lines = [l for l in a.captions.read_text().split("\n") if l]
    train, held = split(lines)
    raw = serialize_model(build(clip_words(bpe), train))
    a.out.write_bytes(raw)
    print(f"{a.out}: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}; {len(train)} training captions, "
          f"{len(held)} held out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
