"""§8.7-8.8 CMVC-B1 and the per-caption choice of method: never longer than UTF-8, lossless,
bit-exact against an independent decoder written from the spec, corrupt payloads rejected."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cmvc.text as T
from cmvc.errors import CmvcError
from cmvc.registry import TextMethod
from cmvc.syntax.descriptors import encode_leb128
from cmvc.text import b1, rans
from independent_b1 import decode as independent_decode, load_model as independent_load

DATA = Path(__file__).parent / "data"
MODEL_FILE = Path(T.__file__).resolve().parent.parent / "data" / "b1-v1.bin"
VECTORS = json.loads((DATA / "b1_vectors.json").read_text())
LANGS = ("zh", "de", "fr", "es")


def held_out(lang: str) -> list[str]:
    return [l for l in (DATA / "captions" / "multilingual" / f"{lang}.txt").read_text().split("\n") if l]


_INDEP = []


def indep_model():
    if not _INDEP:
        _INDEP.append(independent_load(MODEL_FILE.read_bytes()))
    return _INDEP[0]


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_never_longer_than_utf8(s):
    """The guarantee of §8.8: text_data <= UTF-8 bytes; with method and num_tokens <= n + 1 + |leb128(n)|."""
    n = len(s.encode("utf-8"))
    coded = T.encode(s)
    assert len(coded) <= n + 1 + len(encode_leb128(n))
    assert T.decode(coded) == s
    method, num, data = T.encode_best(s)
    assert len(data) <= n
    assert T.decode_text_unit(method, num, data) == s


def test_never_longer_than_utf8_on_cjk_and_german():
    for s in held_out("zh") + held_out("de"):
        n = len(s.encode())
        assert len(T.encode(s)) <= n + 2, s


@given(st.text(max_size=120))
@settings(max_examples=200, deadline=None)
def test_b1_roundtrip_and_independent_decoder(s):
    n, data = b1.encode_text(s)
    assert n == len(s.encode("utf-8"))
    assert b1.decode_text(data, n) == s
    assert independent_decode(indep_model(), data, n) == s


def test_vectors_unchanged_and_independent_decoder_agrees():
    for v in VECTORS:
        n, data = b1.encode_text(v["text"])
        assert (n, data.hex()) == (v["num_tokens"], v["data"]), v["text"]  # the coder is frozen
        assert independent_decode(indep_model(), bytes.fromhex(v["data"]), v["num_tokens"]) == v["text"]


@given(st.lists(st.tuples(st.lists(st.integers(1, 1000), min_size=2, max_size=40), st.integers(0, 10 ** 6)),
                max_size=60))
@settings(max_examples=150, deadline=None)
def test_integer_ans_is_constrictions_coder(spec):
    """§8.5 in plain integers gives the words constriction gives (the coder CMVC-T1 calls)."""
    import constriction
    import numpy as np

    decisions = []
    for counts, pick in spec:
        table = b1.normalize(counts)
        decisions.append((table, pick % len(table)))
    coder = constriction.stream.stack.AnsCoder(np.array([rans.SEAL], dtype=np.uint32))
    for table, i in reversed(decisions):
        coder.encode_reverse(i, constriction.stream.model.Categorical(np.asarray(table, np.float64) - 1, perfect=False))
    from cmvc.text.t1 import words_to_bytes

    assert rans.encode(decisions) == words_to_bytes(coder.get_compressed())
    d = rans.Decoder(rans.encode(decisions))
    assert [d.decode(t) for t, _ in decisions] == [i for _, i in decisions] and d.finished()


@given(st.binary(max_size=24), st.integers(0, 40))
@settings(max_examples=300, deadline=None)
def test_corrupt_payloads_are_errors_not_garbage(data, n):
    try:
        got = b1.decode_text(data, n)
    except CmvcError as e:
        assert e.code == "E020"
        return
    assert b1.encode_text(got) == (n, data)  # accepted: exactly what the encoder makes
    assert independent_decode(indep_model(), data, n) == got


def test_truncation_and_bit_flips_detected():
    s = "Ein Mann in einer roten Jacke fährt die verschneite Bergstraße hinunter."
    n, data = b1.encode_text(s)
    for cut in range(len(data)):
        with pytest.raises(CmvcError):
            b1.decode_text(data[:cut], n)
    for bit in range(8 * len(data)):
        b = bytearray(data)
        b[bit // 8] ^= 0x80 >> (bit % 8)
        try:
            assert b1.decode_text(bytes(b), n) != s
        except CmvcError as e:
            assert e.code == "E020"


def test_model_hash_is_checked(monkeypatch):
    monkeypatch.setattr(b1, "_MODEL", None)
    monkeypatch.setattr(T, "B1_SHA256", "0" * 64)
    with pytest.raises(CmvcError) as e:
        b1.load_model()
    assert e.value.code == "E202"


def test_model_file_is_rebuilt_exactly():
    pytest.importorskip("wordfreq")
    import hashlib

    from cmvc.tools.build_b1 import build

    assert hashlib.sha256(build()).hexdigest() == T.B1_SHA256 == hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()


def test_multilingual_rate_against_brotli():
    """B1 on the held-out sets of other languages (tests/data/captions/multilingual): <= 0.6x brotli-11."""
    import brotli

    for lang in LANGS:
        caps = held_out(lang)
        coded = sum(len(T.encode_best(s)[2]) for s in caps)
        br = sum(len(brotli.compress(s.encode(), quality=11)) for s in caps)
        assert coded <= 0.6 * br, (lang, coded, br)


def test_same_payloads_in_another_process_with_other_thread_counts():
    """Encoder here, decoder there (and the reverse) agree bit-exactly, in a process with other thread
    settings, on the vectors and on 150 random strings from all Unicode planes."""
    import random

    rng = random.Random(33)
    pools = [(0x20, 0x7E), (0xA0, 0x24F), (0x4E00, 0x9FFF), (0x3040, 0x30FF), (0x1F300, 0x1FAFF), (0x0, 0x10FFFF)]

    def char():
        while True:
            c = rng.randint(*rng.choice(pools))
            if not 0xD800 <= c <= 0xDFFF:
                return chr(c)

    texts = [v["text"] for v in VECTORS] + ["".join(char() for _ in range(rng.randint(0, 60))) for _ in range(150)]
    here = [[int(m), n, d.hex()] for m, n, d in map(T.encode_best, texts)]
    code = ("import json,sys; import cmvc.text as T; from cmvc.registry import TextMethod as M; "
            "texts, coded = json.load(sys.stdin); "
            "print(json.dumps([[[int(m), n, d.hex()] for m, n, d in map(T.encode_best, texts)], "
            "[T.decode_text_unit(M(m), n, bytes.fromhex(d)) for m, n, d in coded]]))")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", RAYON_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps([texts, here]), capture_output=True, text=True,
                         env=env, check=True).stdout
    there, decoded = json.loads(out)
    assert there == here
    assert decoded == texts


def test_unit_api():
    n, d = T.encode_text_unit(TextMethod.CMVC_B1, "一只猫坐在窗台上。")
    assert T.decode_text_unit(TextMethod.CMVC_B1, n, d) == "一只猫坐在窗台上。"
    assert T.encode_best("一只猫坐在窗台上。")[0] == TextMethod.CMVC_B1
    for wrong in (n - 1, n + 1, n + 5):  # the same payload with another num_tokens is not this caption
        try:
            assert T.decode_text_unit(TextMethod.CMVC_B1, wrong, d) != "一只猫坐在窗台上。"
        except CmvcError as e:
            assert e.code == "E020"


def test_independent_decoder_on_the_conformance_suite():
    """Every CMVC_B1 text unit of the valid conformance streams decodes identically in both decoders."""
    from cmvc.parse import parse
    from cmvc.registry import UnitType

    root = Path(__file__).resolve().parents[1] / "conformance"
    manifest = json.loads((root / "manifest.json").read_text())
    seen = 0
    for entry in manifest["streams"]:
        if not entry["valid"]:
            continue
        for u in parse((root / entry["file"]).read_bytes()).units:
            if u.unit_type == UnitType.TEXT and u.body.coding_method == TextMethod.CMVC_B1:
                b = u.body
                assert independent_decode(indep_model(), b.text_data, b.num_tokens) == \
                    b1.decode_text(b.text_data, b.num_tokens)
                seen += 1
    assert seen >= 4
