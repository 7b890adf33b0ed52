"""§8 text coding: lossless round trips, an independent decoder from the spec, rate, bad input."""
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cmvc.text as T
from cmvc.errors import CmvcError
from cmvc.registry import TextMethod
from cmvc.text.t1 import decode_text, encode_text
from cmvc.tools.build_t1 import split
from independent_t1 import decode as independent_decode, load_model as independent_load

DATA = Path(__file__).parent / "data"
MODEL_FILE = Path(T.__file__).resolve().parent.parent / "data" / "t1-v1.bin"
CAPTIONS = [l for l in (DATA / "captions" / "all.txt").read_text().split("\n") if l]
TRAIN, HELD = split(CAPTIONS)
VECTORS = json.loads((DATA / "t1_vectors.json").read_text())


@given(st.text(max_size=80))
@settings(max_examples=200)
def test_any_unicode_roundtrips(s):
    n, data = encode_text(s)
    assert decode_text(data, n) == s
    assert T.decode(T.encode(s)) == s


def test_vectors_unchanged_and_independent_decoder_agrees():
    model = independent_load(MODEL_FILE.read_bytes())
    for v in VECTORS:
        n, data = encode_text(v["text"])
        assert (n, data.hex()) == (v["num_tokens"], v["data"]), v["text"]  # the coder is frozen
        assert independent_decode(model, bytes.fromhex(v["data"]), v["num_tokens"]) == v["text"]


@given(st.text(max_size=60))
@settings(max_examples=100)
def test_independent_decoder_on_random_text(s):
    model = independent_load(MODEL_FILE.read_bytes())
    n, data = encode_text(s)
    assert independent_decode(model, data, n) == s


def test_heldout_rate_targets():
    import brotli
    import zstandard

    t1 = sum(len(encode_text(s)[1]) for s in HELD) / len(HELD)
    br = sum(len(brotli.compress(s.encode(), quality=11)) for s in HELD) / len(HELD)
    zs = sum(len(zstandard.ZstdCompressor(level=19).compress(s.encode())) for s in HELD) / len(HELD)
    assert t1 <= 0.4 * br and t1 <= 0.5 * zs, (t1, br, zs)
    assert not set(HELD) & set(TRAIN) and len(CAPTIONS) >= 300


@given(st.binary(max_size=24), st.integers(0, 40))
@settings(max_examples=300)
def test_corrupt_payloads_are_errors_not_garbage(data, n):
    model = independent_load(MODEL_FILE.read_bytes())
    try:
        got = decode_text(data, n)
    except CmvcError as e:
        assert e.code == "E020"
        return
    # accepted: then the payload is exactly what the encoder makes for that text
    assert encode_text(got) == (n, data)
    assert independent_decode(model, data, n) == got


def test_truncation_and_bit_flips_detected():
    n, data = encode_text("A man in a red jacket rides a bicycle down a snowy mountain road.")
    for cut in range(len(data)):
        with pytest.raises(CmvcError):
            r = decode_text(data[:cut], n)
            assert r is None  # pragma: no cover
    for bit in range(8 * len(data)):
        b = bytearray(data)
        b[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(CmvcError):
            decode_text(bytes(b), n)


def test_model_hash_is_checked(monkeypatch):
    import cmvc.text.model as M

    monkeypatch.setattr(M, "_MODEL", None)
    monkeypatch.setattr(T, "T1_SHA256", "0" * 64)
    with pytest.raises(CmvcError) as e:
        M.load_model()
    assert e.value.code == "E202"


def test_api_and_units():
    assert T.decode(T.encode("a dog runs")) == "a dog runs"
    n, d = T.encode_text_unit(TextMethod.CMVC_T1, "a dog runs")
    assert T.decode_text_unit(TextMethod.CMVC_T1, n, d) == "a dog runs"
    with pytest.raises(CmvcError):
        T.decode(b"\x05\x01")
