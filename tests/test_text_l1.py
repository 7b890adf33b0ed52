"""§8.12 CMVC_L1: the model file, lossless coding, an independent decoder written from the spec,
the stream rules (E029, E030, E020) and the minor version."""
import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmvc.errors import CmvcError
from cmvc.registry import ModelRole, Profile, TextMethod, TextRole, UnitType
from cmvc.syntax import TextUnit, model_entry
from cmvc.text import decode_text_unit, encode_best, l1, lm, lm_file
from cmvc.validate import validate
from cmvc.write import StreamWriter, make_sequence_header
from independent_l1 import DecodeError, decode as independent_decode, load_model as independent_load

TINY = l1.DATA / "l1-tiny.cmlm"
_M = {}


def ref():
    if "ref" not in _M:
        _M["ref"] = lm_file.load(TINY, l1.L1_TINY_SHA256)
    return _M["ref"]


def indep():
    if "indep" not in _M:
        _M["indep"] = independent_load(TINY.read_bytes())
    return _M["indep"]


def test_shipped_tiny_model_is_reproducible():
    """The shipped file has the pinned hash, is what tiny_model() writes, and reads back to the same bytes."""
    raw = TINY.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == l1.L1_TINY_SHA256
    assert lm_file.dumps(l1.tiny_model()) == raw
    assert lm_file.dumps(lm_file.loads(raw)) == raw


def test_model_file_errors():
    raw = TINY.read_bytes()
    for bad in (raw[:-1], raw + b"\0", b"CMLM\x02" + raw[5:], raw[:30]):
        with pytest.raises(CmvcError) as e:
            lm_file.loads(bad)
        assert e.value.code == "E220"
    exp_changed = bytearray(raw)
    off = raw.index(lm.EXP_TABLE[:4].astype("<i4").tobytes())
    exp_changed[off] ^= 1
    with pytest.raises(CmvcError) as e:
        lm_file.loads(bytes(exp_changed))
    assert e.value.code == "E220"


@given(st.lists(st.text(max_size=14), min_size=1, max_size=4))
@settings(max_examples=30, deadline=None)
def test_roundtrip_and_independent_decoder(texts):
    m = ref()
    coded = l1.encode_texts(m, texts)
    for s, c in zip(texts, coded):
        if c is None:  # more than max_positions tokens
            assert len(l1.tokenize(m, s)) > m.max_positions
            continue
        n, data = c
        assert decode_text_unit(TextMethod.CMVC_L1, n, data, m) == s
        assert independent_decode(indep(), data, n) == s
    ok = [c for c in coded if c is not None]
    assert l1.decode_texts(m, ok) == [s for s, c in zip(texts, coded) if c is not None]


def test_tokens_that_are_not_utf8_are_rejected_by_both_decoders():
    m = ref()
    bad = [l1.TINY_EXTRA.index(b"\xe6\xbc") + 256]  # an incomplete 3-byte sequence
    data = lm.encode_batch(m, [bad], m.start)[0]
    out = l1.decode_texts(m, [(1, data)])[0]
    assert isinstance(out, CmvcError) and out.code == "E020" and out.offset == 0
    with pytest.raises(DecodeError):
        independent_decode(indep(), data, 1)
    good = bad + [0xA2]  # completed: 漢
    assert l1.decode_texts(m, [(2, lm.encode_batch(m, [good], m.start)[0])]) == ["漢"]


def _stream(models, units):
    sh = make_sequence_header(8, 8, 2, [0, 1], models=models)
    w = StreamWriter(Profile.BASELINE, 10)
    w.add(UnitType.SEQUENCE_HEADER, sh)
    for method, n, d in units:
        w.add(UnitType.TEXT, TextUnit(role=TextRole.GLOBAL, frame_start=0, frame_end=1, coding_method=method,
                                      num_tokens=n, text_data=d))
    return w.finish()


TINY_ENTRY = model_entry(ModelRole.TEXT_MODEL, "l1-tiny", bytes.fromhex(l1.L1_TINY_SHA256))


def _text_errors(data):
    return [(e.code, e.path.rsplit(".", 1)[-1]) for e in validate(data).errors if e.code != "E017"]


def test_stream_rules_and_minor_version():
    m = ref()
    texts = ["a cat and the dog", "Ein Mann fährt — ü", ""]
    coded = [(TextMethod.CMVC_L1, n, d) for n, d in l1.encode_texts(m, texts)]
    s = _stream([TINY_ENTRY], coded)
    assert s[5] == 5 and _text_errors(s) == []
    assert _stream([TINY_ENTRY], [(TextMethod.UTF8, 3, b"abc")])[5] == 1  # declaring the model alone needs no 1.5
    assert _text_errors(_stream([], coded)) == [("E029", "coding_method")] * 3
    (_, n, d) = coded[0]
    assert _text_errors(_stream([TINY_ENTRY], [(TextMethod.CMVC_L1, m.max_positions + 1, d)])) == [("E030", "num_tokens")]
    assert _text_errors(_stream([TINY_ENTRY], [(TextMethod.CMVC_L1, n - 1, d), coded[1]])) == [("E020", "text_data")]


def test_shortest_of_with_l1_candidates():
    """§8.8 with CMVC_L1 among the candidates: it wins only where it is strictly shorter."""
    m = ref()
    s = "the cat"
    (n, d), = l1.encode_texts(m, [s])
    method, num, data = encode_best(s, candidates=[(TextMethod.CMVC_L1, n, d)])
    plain = encode_best(s)
    assert (method == TextMethod.CMVC_L1) == (len(d) + 1 < len(plain[2]) + (plain[1] > 127) + 1)


def test_conformance_l1_units_decode_in_both_decoders():
    """texts_l1: every CMVC_L1 unit decodes to the manifest's caption in the reference and the
    independent decoder; the committed model file is the shipped one."""
    import json

    from cmvc.parse import parse

    root = Path(__file__).resolve().parents[1] / "conformance"
    item = next(i for i in json.loads((root / "manifest.json").read_text())["streams"] if i["name"] == "texts_l1")
    assert (root / item["text_model"]).read_bytes() == TINY.read_bytes()
    units = [u.body for u in parse((root / item["file"]).read_bytes()).of_type(UnitType.TEXT)]
    assert [u.coding_method for u in units].count(TextMethod.CMVC_L1) == len(units) - 1
    got = [independent_decode(indep(), u.text_data, u.num_tokens) if u.coding_method == TextMethod.CMVC_L1
           else decode_text_unit(u.coding_method, u.num_tokens, u.text_data) for u in units]
    assert got == item["captions"]
    from cmvc.text import decode_text_units

    assert decode_text_units(units, parse((root / item["file"]).read_bytes()).sequence_header.models) == got


def test_encoder_option_declares_the_model_and_codes_in_l1():
    """EncoderConfig.text_lm: with CMVC_L1 forced every caption uses it and the stream declares the model
    (1.5); with the default choice the model is declared only if a caption uses it; the default
    encoder is unchanged."""
    import numpy as np

    from cmvc.encoder.caption import Caption
    from cmvc.encoder.pipeline import EncoderConfig, encode
    from cmvc.parse import parse
    from cmvc.picture import Picture
    from cmvc.text import decode_text_units

    pics = [Picture(np.full((8, 8), 40 * t, np.uint8), np.full((4, 4), 128, np.uint8), np.full((4, 4), 128, np.uint8))
            for t in range(3)]
    caps = [Caption(TextRole.GLOBAL, 0, 2, "the cat and the dog"), Caption(TextRole.MOTION_CAPTION, 0, 2, "ü 漢字")]
    base = dict(codec="png", fit="none", profile="blend", captions=caps, keyframes=2)
    plain = encode(pics, EncoderConfig(**base)).data
    for method, lm_used in ((TextMethod.CMVC_L1, True), (None, None)):
        data = encode(pics, EncoderConfig(**base, text_lm=str(TINY), text_method=method)).data
        ps = parse(data)
        assert not validate(data).errors
        texts = [u.body for u in ps.of_type(UnitType.TEXT)]
        used = any(t.coding_method == TextMethod.CMVC_L1 for t in texts)
        assert used is (lm_used if lm_used is not None else used)
        entries = [m for m in ps.sequence_header.models if m.role == ModelRole.TEXT_MODEL]
        assert (len(entries) == 1) is used and (data[5] == 5) is used
        assert decode_text_units(texts, ps.sequence_header.models) == [c.text for c in caps]
        if not used:
            assert data == plain


@given(st.text(max_size=12))
@settings(max_examples=20, deadline=None)
def test_any_split_decodes(s):
    """The split is the encoder's choice (§8.12.7): single bytes only decode to the same caption in both
    decoders (the model's fewest-tokens split is another)."""
    m = ref()
    bytes_only = lambda model, text: list(text.encode())  # noqa: E731  tokens 0..255 are the single bytes
    coded = l1.encode_texts(m, [s], bytes_only)[0]
    if coded is None:
        return
    n, data = coded
    assert n == len(s.encode())
    assert l1.decode_texts(m, [coded]) == [s] and independent_decode(indep(), data, n) == s
    assert l1.bpe_splitter("l1-tiny", l1.L1_TINY_SHA256) is None  # only for smollm2-135m-l1


def test_missing_text_model_is_reported_at_its_declaration(monkeypatch, tmp_path):
    """An undeclared-elsewhere model (not shipped, not in §10.9, not in the store): validate reports E201 at
    the model entry (it does not raise; the fuzz invariant), and the other units are still checked."""
    monkeypatch.setenv("CMVC_CACHE", str(tmp_path))
    m = ref()
    (n, d), = l1.encode_texts(m, ["the cat"])
    entry = model_entry(ModelRole.TEXT_MODEL, "nope", bytes(32))
    errs = validate(_stream([entry], [(TextMethod.CMVC_L1, n, d), (TextMethod.UTF8, 2, b"abc")])).errors
    assert [(e.code, e.path.rsplit(".", 1)[-1]) for e in errs if e.code != "E017"] == [
        ("E201", "model_name"), ("E020", "text_data")]
