"""Property tests: random valid parameters round-trip; mutations only yield the package's errors;
validate and decode agree on validity."""
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cmvc.decode import decode
from cmvc.encoder.pipeline import EncoderConfig, encode
from cmvc.errors import CmvcError
from cmvc.picture import Picture
from cmvc.validate import validate


def pics_of(w, h, n, seed):
    r = np.random.default_rng(seed)
    base = r.integers(0, 256, (h, w), np.uint8)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    return [Picture(np.roll(base, t, axis=1), r.integers(0, 256, (ch, cw), np.uint8), r.integers(0, 256, (ch, cw), np.uint8))
            for t in range(n)]


@given(w=st.integers(1, 24), h=st.integers(1, 24), n=st.integers(2, 9), seed=st.integers(0, 9),
       interval=st.integers(1, 8), w_bits=st.integers(1, 8), fit=st.sampled_from(["none", "search", "exhaustive"]),
       hash_type=st.sampled_from(["frame", "span"]), downscale=st.integers(1, 2))
@settings(max_examples=25, deadline=None)
def test_encode_decode_roundtrip(w, h, n, seed, interval, w_bits, fit, hash_type, downscale):
    pics = pics_of(w, h, n, seed)
    res = encode(pics, EncoderConfig(profile="blend", codec="png", interval=interval, w_bits=w_bits, fit=fit,
                                     hash_type=hash_type, downscale=downscale))
    dec = decode(res.data, verify=True)
    assert dec.hash_checked == n and all(a == b for a, b in zip(dec.pictures, res.decoded))
    if downscale == 1:
        assert all(dec.pictures[k] == pics[k] for k in res.keyframes)  # PNG keyframes are lossless


BASE = encode(pics_of(16, 12, 6, 1), EncoderConfig(profile="blend", codec="png", interval=2, fit="exhaustive")).data


@given(st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.integers(0, 255)), min_size=1, max_size=4), st.booleans())
@settings(max_examples=150, deadline=None)
def test_mutations_validate_and_decode_agree(edits, fix_crc):

    b = bytearray(BASE)
    for pos, val in edits:
        b[pos] = val
    data = bytes(b)
    if fix_crc:
        import sys
        sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "fuzz"))
        import types
        sys.modules.setdefault("atheris", types.SimpleNamespace(instrument_imports=lambda **k: __import__("contextlib").nullcontext()))
        from fuzz_stream import repair_crcs
        data = repair_crcs(data)
    t = time.perf_counter()
    rep = validate(data)
    try:
        decode(data)
        decoded = True
    except CmvcError as e:
        decoded = False
        if rep.valid:  # a valid stream may only fail to decode for a keyframe payload (E024) or hash (E023)
            assert e.code in ("E024", "E023"), str(e)
    if not rep.valid:
        assert not decoded
    assert time.perf_counter() - t < 10
