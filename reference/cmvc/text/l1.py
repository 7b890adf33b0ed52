"""§8.12 CMVC_L1: a caption as the tokens of an integer-only language model (:mod:`cmvc.text.lm`), each
token one ANS decision (§8.4) with the model's exact integer PMF.

The model is the stream's first declared model of role TEXT_MODEL (§8.12), a CMLM file
(:mod:`cmvc.text.lm_file`).  All CMVC_L1 captions of a stream are coded in lockstep batches.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import CmvcError, error
from . import lm, lm_file

DATA = Path(__file__).resolve().parent.parent / "data"
#: SHA-256 of the tiny test model ``cmvc/data/l1-tiny.cmlm`` shipped with the reference implementation
#: (the text model of the conformance stream texts_l1; random weights, not for real captions).
L1_TINY_SHA256 = "03cb75930e5989dfca5f669ef4827da3d956531e04be777fceb1e1d7ac34f8d1"
SHIPPED = {"l1-tiny": "l1-tiny.cmlm"}

#: multi-byte tokens of the tiny model after its 256 single bytes (:func:`tiny_model`)
TINY_EXTRA = [b" the", b" a", b"the", b"ing", b" of", b" and", b"ed", b"er", b" in", b" to", b"re", b"on",
              b"at", b"en", b" s", b" c", b"\xc3\xbc", b"\xc3\xa9", b"\xe6\xbc", b"\xe2\x80\x94", b"\xf0\x9f",
              b"", b"  ", b". ", b"<|end|>"]


def tiny_model() -> lm.IntLM:
    """The model of ``l1-tiny.cmlm``: :func:`lm.tiny` (seed 33) with a vocabulary of the 256 single bytes,
    then :data:`TINY_EXTRA` (one token of no bytes, incomplete UTF-8 sequences among them); 40 positions."""
    return lm.tiny(seed=33, dim=16, n_layer=2, n_head=4, n_kv=2, ffn=32, max_pos=40,
                   vocab_bytes=[bytes([b]) for b in range(256)] + TINY_EXTRA)


# ----------------------------------------------------------------- the stream's model
def model_path(name: str, sha256: str) -> Path:
    """The CMLM file a model_entry declares: a file shipped with the implementation, a model of §10.9
    (fetched or derived once), or one added to the store (``cmvc models add``)."""
    from ..zoo import ZOO, find_model, weights_path

    for fname in SHIPPED.values():
        p = DATA / fname
        if p.exists() and _file_sha(p) == sha256:
            return p
    spec = ZOO.get(name)
    if spec is not None and spec.sha256 == sha256:
        return weights_path(name)
    return find_model(name, sha256)


_SHA: dict[tuple, str] = {}


def _file_sha(p: Path) -> str:
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA:
        _SHA[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return _SHA[key]


def derive_smollm2(target: Path) -> None:
    """The CMLM file ``smollm2-135m-l1`` (§8.12.8) from the GGUF file (fetched first if needed);
    deterministic, checked against §10.9's SHA-256 before it is moved into place."""
    import os
    import sys

    from ..zoo import SMOLLM2_135M, SMOLLM2_L1, weights_path

    try:
        import gguf  # noqa: F401  (lm.convert reads the GGUF file with it)
    except ImportError:
        raise error("E203", "deriving smollm2-135m-l1 needs the gguf package (pip install gguf==0.19.0)") from None
    gguf = weights_path(SMOLLM2_135M.name)
    print(f"cmvc: deriving {SMOLLM2_L1.name} from {gguf} ...", file=sys.stderr)
    part = target.with_name(target.name + ".tmp")
    got = lm_file.write(lm.convert(str(gguf)), part)
    if got != SMOLLM2_L1.sha256:
        part.unlink()
        raise error("E202", f"the derived {SMOLLM2_L1.name} has SHA-256 {got}, expected {SMOLLM2_L1.sha256}")
    os.replace(part, target)


def resolve(name_or_path: str) -> tuple[str, str, bool, lm.IntLM]:
    """The encoder's text model (``cmvc encode --text-lm``): a model of §10.9 by name (fetched or derived
    once), or a CMLM file by path.  Returns (model_name, SHA-256, registered in §10.9, model)."""
    from ..zoo import ZOO, weights_path

    if name_or_path in ZOO:
        spec = ZOO[name_or_path]
        return spec.name, spec.sha256, True, lm_file.load(weights_path(spec.name), spec.sha256)
    p = Path(name_or_path)
    if not p.is_file():
        raise error("E102", f"text model {name_or_path!r} is neither a model of §10.9 ({', '.join(ZOO)}) nor a file")
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    return p.stem, sha, False, lm_file.load(p, sha)


def load_model(name: str, sha256: str) -> lm.IntLM:
    return lm_file.load(model_path(name, sha256), sha256)


def text_model_index(models) -> int | None:
    """§8.12: the index of the first declared model of role TEXT_MODEL, or None."""
    from ..registry import ModelRole

    return next((i for i, m in enumerate(models) if m.role == ModelRole.TEXT_MODEL), None)


# ----------------------------------------------------------------- tokens
_VOCAB: dict[int, tuple[dict, int]] = {}


def tokenize(model: lm.IntLM, text: str) -> list[int] | None:
    """Informative (§8.12.7): the caption's UTF-8 bytes as the fewest tokens whose bytes concatenate to
    them (on a tie the longest first token; of tokens with equal bytes the lowest id); None when the
    vocabulary cannot spell them."""
    key = id(model)
    if key not in _VOCAB:
        table: dict[bytes, int] = {}
        for t, b in enumerate(_vocab(model)):
            if b:
                table.setdefault(b, t)
        _VOCAB.clear()
        _VOCAB[key] = table, max(map(len, table), default=1)
    table, longest = _VOCAB[key]
    data = text.encode("utf-8")
    n = len(data)
    best: list[tuple[int, int] | None] = [None] * (n + 1)  # (tokens to the end, first token length)
    best[n] = (0, 0)
    for i in range(n - 1, -1, -1):
        for ln in range(min(longest, n - i), 0, -1):
            if best[i + ln] is not None and data[i:i + ln] in table:
                c = best[i + ln][0] + 1
                if best[i] is None or c < best[i][0]:
                    best[i] = (c, ln)
    if best[0] is None:
        return None
    out, i = [], 0
    while i < n:
        ln = best[i][1]
        out.append(table[data[i:i + ln]])
        i += ln
    return out


def _vocab(model: lm.IntLM) -> list[bytes]:
    return model.vocab_bytes if model.vocab_bytes is not None else [bytes([t]) for t in range(model.vocab)]


def detokenize(model: lm.IntLM, tokens: list[int]) -> str:
    """§8.12.6: the concatenated bytes of the tokens, which must be valid UTF-8 (E020)."""
    voc = _vocab(model)
    data = b"".join(voc[t] for t in tokens)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error("E020", f"the tokens' bytes are not valid UTF-8 ({e.reason} at byte {e.start} of the caption)",
                    offset=0) from None


# ----------------------------------------------------------------- coding
def bpe_splitter(name: str, sha256: str):
    """Informative (§8.12.7): for smollm2-135m-l1, the GGUF file's own byte-level BPE tokenizer
    (transformers), the split the model was trained on (0.56 bytes per caption fewer than the
    fewest-tokens split on the house held-out set, docs/text.md); None when transformers, gguf or the
    GGUF file is missing.  A split whose bytes are not the caption's falls back to :func:`tokenize`."""
    from ..zoo import SMOLLM2_135M, SMOLLM2_L1, installed_path

    gguf = installed_path(SMOLLM2_135M.name)
    if sha256 != SMOLLM2_L1.sha256 or not gguf.exists():
        return None
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception:  # an optional speed-up of the rate, never needed: fall back to the fewest tokens
        return None

    def split(model: lm.IntLM, text: str) -> list[int] | None:
        ids = list(tok(text, add_special_tokens=False).input_ids)
        voc = _vocab(model)
        if all(0 <= t < len(voc) for t in ids) and b"".join(voc[t] for t in ids) == text.encode("utf-8"):
            return ids
        return tokenize(model, text)

    return split


def encode_texts(model: lm.IntLM, texts: list[str], split=None) -> list[tuple[int, bytes] | None]:
    """``(num_tokens, text_data)`` of each caption, coded in one lockstep batch; None for a caption the
    vocabulary cannot spell or that needs more than max_positions tokens.  *split*: the tokenizer
    ``split(model, text)`` (default :func:`tokenize`)."""
    toks = [(split or tokenize)(model, s) for s in texts]
    ok = [j for j, t in enumerate(toks) if t is not None and len(t) <= model.max_positions]
    coded = lm.encode_batch(model, [toks[j] for j in ok], model.start) if ok else []
    out: list[tuple[int, bytes] | None] = [None] * len(texts)
    for j, d in zip(ok, coded):
        out[j] = (len(toks[j]), d)
    return out


def decode_texts(model: lm.IntLM, coded: list[tuple[int, bytes]]) -> list[str | CmvcError]:
    """The caption of each ``(num_tokens, text_data)``, in one lockstep batch, or the error that
    caption raises (E030 beyond max_positions, E020 with an offset in text_data)."""
    out: list[str | CmvcError] = [None] * len(coded)  # type: ignore[list-item]
    ok = []
    for j, (n, _) in enumerate(coded):
        if n > model.max_positions:
            out[j] = error("E030", f"num_tokens {n} exceeds max_positions {model.max_positions} of the text model")
        else:
            ok.append(j)
    try:
        toks = lm.decode_batch(model, [(coded[j][1], coded[j][0]) for j in ok], model.start)
        groups = [(ok, toks)]
    except CmvcError:  # find the captions at fault: each alone
        groups = []
        for j in ok:
            try:
                groups.append(([j], lm.decode_batch(model, [(coded[j][1], coded[j][0])], model.start)))
            except CmvcError as e:
                if "does not end in state 1" in e.message:
                    e = error("E020", "the coder does not end in state 1 after num_tokens tokens", offset=0)
                out[j] = e
    for idx, tl in groups:
        for j, t in zip(idx, tl):
            try:
                out[j] = detokenize(model, t)
            except CmvcError as e:
                out[j] = e
    return out
