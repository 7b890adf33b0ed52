"""§7.2 keyframe codecs: PNG packing, AVIF/WebP conversion, AV1 and VVC sequences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmvc.errors import CmvcError
from cmvc.keyframes import Colour, KeyframeDecoder, decode_keyframes, get_codec
from cmvc.keyframes.png import pack, unpack
from cmvc.picture import Picture
from cmvc.registry import CodecId
from cmvc.syntax import KeyframeUnit
from cmvc.write import make_sequence_header


def random_picture(w, h, seed=0):
    r = np.random.default_rng(seed)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    return Picture(r.integers(0, 256, (h, w), np.uint8), r.integers(0, 256, (ch, cw), np.uint8),
                   r.integers(0, 256, (ch, cw), np.uint8))


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 99))
def test_png_packing_is_lossless(w, h, seed):
    p = random_picture(w, h, seed)
    assert unpack(pack(p), w, h) == p


def roundtrip(codec_id, pics, quality, **kw):
    codec = get_codec(codec_id)
    sh = make_sequence_header(pics[0].width, pics[0].height, len(pics), list(range(len(pics))))
    coded = codec.encode(pics, quality, Colour(), **kw)
    return decode_keyframes(codec_id, sh, [KeyframeUnit(frame_index=i, codec_id=codec_id, codec_params=p, keyframe_data=d)
                                           for i, (p, d) in enumerate(coded)]), coded


def test_png_codec_bit_exact():
    pics = [random_picture(17, 9, s) for s in range(2)]
    out, _ = roundtrip(CodecId.PNG, pics, 0)
    assert out == pics


@pytest.mark.parametrize("codec_id", [CodecId.AVIF, CodecId.WEBP])
def test_still_codecs_size_and_determinism(codec_id, testsrc_pics):
    pics = testsrc_pics[0][:2]
    a, coded = roundtrip(codec_id, pics, 60)
    b, _ = roundtrip(codec_id, pics, 60)
    assert a == b and a[0].y.shape == pics[0].y.shape
    err = np.mean(np.abs(a[0].y.astype(int) - pics[0].y.astype(int)))
    assert err < 20


@pytest.mark.parametrize("size", [(64, 48), (33, 17), (8, 6)])
def test_av1_sequence_roundtrip(size, testsrc_pics):

    pics = [Picture(p.y[: size[1], : size[0]].copy(), p.u[: (size[1] + 1) // 2, : (size[0] + 1) // 2].copy(),
                    p.v[: (size[1] + 1) // 2, : (size[0] + 1) // 2].copy()) for p in testsrc_pics[0][:4]]
    a, coded = roundtrip(CodecId.AV1, pics, 30)
    b, _ = roundtrip(CodecId.AV1, pics, 30)
    assert a == b
    assert all(x.y.shape == (size[1], size[0]) for x in a)
    assert [p.temporal_unit_index for p, _ in coded] == [0, 1, 2, 3]
    assert np.mean(np.abs(a[0].y.astype(int) - pics[0].y.astype(int))) < 12


def test_corrupt_payloads_are_e024():
    sh = make_sequence_header(16, 16, 2, [0, 1])
    for cid in (CodecId.PNG, CodecId.AVIF, CodecId.WEBP, CodecId.AV1, CodecId.VVC):
        with pytest.raises(CmvcError) as e:
            decode_keyframes(cid, sh, [KeyframeUnit(frame_index=0, codec_id=cid, codec_params=None,
                                                    keyframe_data=b"\x00garbage")])
        assert e.value.code == "E024", cid


def distinct_pictures(w, h, n):
    """Pictures far apart from each other (brightness steps of 24), so a wrong pairing is visible."""
    r = np.random.default_rng(1)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    out = []
    for t in range(n):
        y = np.clip(20 + 24 * t + r.integers(-6, 7, (h, w)), 0, 255).astype(np.uint8)
        out.append(Picture(y, np.full((ch, cw), 100 + 8 * t, np.uint8), np.full((ch, cw), 150 - 8 * t, np.uint8)))
    return out


@pytest.mark.parametrize("size", [(64, 48), (33, 17), (8, 6)])
@pytest.mark.parametrize("starts", [[], None])
def test_vvc_sequence_roundtrip(size, starts):
    """§7.2.5: one VVC bitstream, access units in decoding order, pictures paired with units in output
    order; one coded video sequence (starts=[]) or, as these pictures' histograms are far apart, one
    per picture (starts=None: shot_starts)."""
    pics = distinct_pictures(*size, 9)
    a, coded = roundtrip(CodecId.VVC, pics, 30, starts=starts)
    b, _ = roundtrip(CodecId.VVC, pics, 30, starts=starts)
    assert a == b
    assert [p.access_unit_index for p, _ in coded] == list(range(9))
    for k, (x, p) in enumerate(zip(a, pics)):
        assert x.y.shape == (size[1], size[0]) and x.u.shape == p.u.shape
        err = [np.mean(np.abs(x.y.astype(int) - q.y.astype(int))) for q in pics]
        assert int(np.argmin(err)) == k and err[k] < 8, (k, err)


def test_vvc_reorders_and_units_keep_their_keyframe():
    """Random access codes pictures out of output order: some unit yields no picture when pushed, yet
    every unit gets its own keyframe; a unit left without a picture at the end is E024."""
    from cmvc.keyframes import vvc

    pics = distinct_pictures(64, 48, 9)
    coded = vvc.encode(pics, 30, starts=[])  # one coded video sequence (these pictures' histograms differ)
    sh = make_sequence_header(64, 48, 9, list(range(9)))
    units = [KeyframeUnit(frame_index=i, codec_id=CodecId.VVC, codec_params=p, keyframe_data=d)
             for i, (p, d) in enumerate(coded)]
    kd = KeyframeDecoder(CodecId.VVC, sh)
    got = [len(kd.push(u)) for u in units]
    pairs = kd.finish()
    assert got[0] == 0 and sum(got) + len(pairs) == 9
    with pytest.raises(CmvcError) as e:
        decode_keyframes(CodecId.VVC, sh, units + [units[-1]])  # a tenth unit: the bitstream has nine pictures...
    assert e.value.code == "E024"
    kd = KeyframeDecoder(CodecId.VVC, sh)
    for u in units[:1] + units[2:]:  # ...or one access unit missing: fewer pictures, or a decoding error
        try:
            kd.push(u)
        except CmvcError as err:
            assert err.code == "E024"
            break
    else:
        with pytest.raises(CmvcError) as e:
            kd.finish()
        assert e.value.code == "E024"


def test_vvc_access_units_drop_only_delimiters():
    from cmvc.keyframes import vvc

    coded = vvc.encode(distinct_pictures(64, 48, 3), 40, starts=[])
    assert all(d[1] != 0 for _, d in coded)  # the first start code is implied (§7.2.5)
    types = [[t for t, _ in vvc.nal_units(vvc.with_start_code(d))] for _, d in coded]
    assert all(vvc.AUD_NUT not in t for t in types)
    assert 15 in types[0] and 16 in types[0]  # SPS and PPS in the first access unit
    for _, d in coded:
        full = vvc.with_start_code(d)
        assert b"".join(nal for _, nal in vvc.nal_units(full)) == full and vvc.without_start_code(full) == d
        assert vvc.with_start_code(full) == full
    au = b"\x00\x00\x00\x01\x00\xa1\x10" + b"\x00\x00\x01\x00\x09\x55" + b"\x00\x00\x00\x01\x00\x01\x77\x00\x00"
    assert [(t, len(n)) for t, n in vvc.nal_units(au)] == [(20, 7), (1, 6), (0, 9)]


@pytest.mark.parametrize("codec", ["av1", "vvc"])
def test_implied_delimiters_decode_as_explicit_ones(codec):
    """§7.2.4 / §7.2.5: keyframe data with its temporal delimiter or first start code left out (as the
    encoder writes it) and with it written decode to the same pictures."""
    import dataclasses

    from cmvc.keyframes import av1, vvc
    from cmvc.registry import CodecId
    from cmvc.syntax import KeyframeUnit
    from cmvc.write import make_sequence_header

    pics = distinct_pictures(48, 32, 3)
    mod = av1 if codec == "av1" else vvc
    coded = mod.encode(pics, 40)
    full = [av1.with_temporal_delimiter(d) if codec == "av1" else vvc.with_start_code(d) for _, d in coded]
    assert all(len(f) - len(d) in ((2,) if codec == "av1" else (3, 4)) for f, (_, d) in zip(full, coded))
    sh = make_sequence_header(48, 32, 3, [0, 1, 2])
    cid = CodecId.AV1 if codec == "av1" else CodecId.VVC
    out = []
    for datas in ([d for _, d in coded], full):
        units = [KeyframeUnit(frame_index=i, codec_id=cid, codec_params=p, keyframe_data=d)
                 for i, ((p, _), d) in enumerate(zip(coded, datas))]
        out.append(decode_keyframes(cid, sh, units))
    assert out[0] == out[1] and len(out[0]) == 3


@given(st.integers(0, 1023))
def test_vvc_10bit_to_8bit(x):
    from cmvc.keyframes.vvc import to_8bit

    assert int(to_8bit(np.array([x], np.uint16))[0]) == min(255, (x + 2) >> 2)


def test_hyperprior_with_random_initialised_model(tmp_path, monkeypatch, testsrc_pics):
    """The real CompressAI integration on a randomly initialised bmshj2018-hyperprior (no weights offline)."""
    pytest.importorskip("compressai")
    import torch

    from cmvc.decode import decode
    from cmvc.encoder.pipeline import EncoderConfig, encode
    from cmvc.keyframes.hyperprior import build_model

    monkeypatch.setenv("CMVC_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    ckpt = tmp_path / "hp.pth"
    torch.save(build_model(1).state_dict(), ckpt)
    pics = testsrc_pics[0][:5]
    res = encode(pics, EncoderConfig(profile="blend", codec="hyperprior", interval=2, quality=1,
                                     hyperprior_checkpoint=str(ckpt)))
    dec = decode(res.data, verify=True)
    assert dec.hash_checked == 5 and dec.stream.header.profile == 1
    assert torch.is_grad_enabled()  # no global switch left behind (the encoder's gd fit needs autograd)
    entry = dec.stream.sequence_header.models[0]
    assert entry.role == 0 and entry.model_name == "bmshj2018-hyperprior-q1"
    # a decoder without the weights reports E201
    monkeypatch.setenv("CMVC_CACHE", str(tmp_path / "empty"))
    with pytest.raises(CmvcError) as e:
        decode(res.data)
    assert e.value.code == "E201"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_vvc_damaged_access_units_are_e024_or_decode(data):
    """Any damage to the VVC access units of the conformance stream (bytes changed, cut, inserted, a
    unit moved) gives E024 or pictures of the right size; FFmpeg's errors never escape as others."""
    import dataclasses
    from pathlib import Path

    from cmvc.parse import parse

    ps = parse((Path(__file__).parent.parent / "conformance" / "streams" / "vvc_keyframes.cmvc").read_bytes())
    units = [u.body for u in ps.units if isinstance(u.body, KeyframeUnit)]
    k = data.draw(st.integers(0, len(units) - 1))
    d = bytearray(units[k].keyframe_data)
    op = data.draw(st.sampled_from(["flip", "cut", "insert", "move"]))
    if op == "flip":
        for i in data.draw(st.lists(st.integers(0, len(d) - 1), min_size=1, max_size=8)):
            d[i] = data.draw(st.integers(0, 255))
    elif op == "cut":
        d = d[: data.draw(st.integers(0, len(d) - 1))]
    elif op == "insert":
        i = data.draw(st.integers(0, len(d)))
        d[i:i] = data.draw(st.binary(min_size=1, max_size=20))
    units = list(units)
    if op == "move":
        u = units.pop(k)
        units.insert(data.draw(st.integers(0, len(units))), u)
    else:
        units[k] = dataclasses.replace(units[k], keyframe_data=bytes(d))
    try:
        out = decode_keyframes(CodecId.VVC, ps.sequence_header, units)
    except CmvcError as e:
        assert e.code == "E024"
        return
    sh = ps.sequence_header
    assert len(out) == len(units) and all(p.y.shape == (sh.coded_height, sh.coded_width) for p in out)


def test_vvc_retries_when_vvenc_returns_no_pictures(monkeypatch):
    """vvenc 1.15 sometimes ends without pictures and without an error (see cmvc.keyframes.vvc): the
    encoder tries longer intra periods, and says which it tried when none works."""
    from cmvc.keyframes import vvc

    real, periods = vvc._vvenc, []

    def flaky(raw, w, h, quality, preset, period, params):
        periods.append(period)
        return b"" if len(periods) < 3 else real(raw, w, h, quality, preset, period, params)

    pics = distinct_pictures(64, 48, 3)
    monkeypatch.setattr(vvc, "_vvenc", flaky)
    a = vvc.encode(pics, 40, starts=[])
    assert periods == [2, 3, 4] and len(a) == 3
    assert all(len(d) for _, d in a)
    monkeypatch.setattr(vvc, "_vvenc", lambda *args: b"")
    with pytest.raises(CmvcError) as e:
        vvc.encode(pics, 40, starts=[])
    assert e.value.code == "E203" and "2..5" in str(e.value)


def test_vvc_preset_reaches_vvenc_and_unknown_ones_are_e101(monkeypatch):
    """The encoder effort (EncoderConfig.vvc_preset) is vvenc's preset; a name vvenc lacks is E101
    before anything runs."""
    from cmvc.keyframes import vvc

    real, seen = vvc._vvenc, []

    def spy(raw, w, h, quality, preset, period, params):
        seen.append(preset)
        return real(raw, w, h, quality, preset, period, params)

    monkeypatch.setattr(vvc, "_vvenc", spy)
    pics = distinct_pictures(64, 48, 3)
    a, b = vvc.encode(pics, 40, starts=[], preset="medium"), vvc.encode(pics, 40, starts=[])
    assert seen == ["medium", vvc.PRESET] and len(a) == len(b) == 3
    with pytest.raises(CmvcError) as e:
        vvc.encode(pics, 40, starts=[], preset="placebo")
    assert e.value.code == "E101" and len(seen) == 2


def two_shot_pictures(w=64, h=48, n=9, cut=5):
    """Textured pictures, slowly moving, with a shot cut before picture *cut*: the second shot is
    darker and of other chroma (disjoint colour histograms)."""
    r = np.random.default_rng(3)
    base = r.integers(40, 220, (h + n, w))
    cw, ch = (w + 1) // 2, (h + 1) // 2
    out = []
    for t in range(n):
        y = base[t:t + h]
        if t < cut:
            out.append(Picture(y.astype(np.uint8), np.full((ch, cw), 110, np.uint8), np.full((ch, cw), 140, np.uint8)))
        else:
            out.append(Picture((y // 2).astype(np.uint8), np.full((ch, cw), 160, np.uint8), np.full((ch, cw), 90, np.uint8)))
    return out


def test_shot_starts_finds_cuts_by_histogram():
    from cmvc.keyframes import SHOT_THRESHOLD, histogram_distance, shot_starts

    pics = two_shot_pictures()
    assert shot_starts(pics) == [5]
    assert histogram_distance(pics[4], pics[5]) > SHOT_THRESHOLD > histogram_distance(pics[0], pics[3])
    assert histogram_distance(pics[0], pics[0]) == 0.0
    assert shot_starts(pics[:5]) == [] and shot_starts(pics[:1]) == []
    assert shot_starts(pics, threshold=1.0) == []


def test_vvc_new_coded_sequence_at_a_shot_cut():
    """A shot cut begins a second coded video sequence: an IDR access unit without the parameter sets
    (equal to the first sequence's), decoded in order through one decoder; starts=[] keeps one sequence."""
    from cmvc.keyframes import vvc

    pics = two_shot_pictures()
    split = vvc.encode(pics, 40)
    one = vvc.encode(pics, 40, starts=[])
    assert split != one
    assert vvc.encode(pics, 40, starts=[5]) == split
    assert [p.access_unit_index for p, _ in split] == list(range(9))
    types = [[t for t, _ in vvc.nal_units(vvc.with_start_code(d))] for _, d in split]
    ps = set(vvc.PS_NUTS)
    assert ps & set(types[0]) and not any(ps & set(t) for t in types[1:])
    idr = (7, 8)  # IDR_W_RADL, IDR_N_LP
    assert [k for k, t in enumerate(types) if set(t) & set(idr)] == [0, 5]
    assert not any(set(t) & set(idr) for t in [[t for t, _ in vvc.nal_units(vvc.with_start_code(d))] for _, d in one][1:])
    sh = make_sequence_header(64, 48, 9, list(range(9)))
    for coded in (split, one):
        units = [KeyframeUnit(frame_index=i, codec_id=CodecId.VVC, codec_params=p, keyframe_data=d)
                 for i, (p, d) in enumerate(coded)]
        out = decode_keyframes(CodecId.VVC, sh, units)
        assert len(out) == 9
        for k, x in enumerate(out):
            err = [np.mean(np.abs(x.y.astype(int) - q.y.astype(int))) for q in pics]
            assert int(np.argmin(err)) == k, (k, err)


def test_vvc_quality_per_shot():
    """One QP per coded video sequence: each shot is coded as it would be at its own QP alone; vvenc's
    parameter sets do not depend on the QP, so the second sequence repeats none; it decodes in order."""
    from cmvc.keyframes import vvc

    pics = two_shot_pictures()
    mixed = vvc.encode(pics, (30, 45))
    a, b = vvc.encode(pics, 30), vvc.encode(pics, 45)
    assert [p.quality for p, _ in mixed] == [30] * 5 + [45] * 4
    assert [d for _, d in mixed[:5]] == [d for _, d in a[:5]]
    assert [d for _, d in mixed[5:]] == [d for _, d in b[5:]]
    assert not set(vvc.PS_NUTS) & {t for t, _ in vvc.nal_units(vvc.with_start_code(mixed[5][1]))}
    assert vvc.encode(pics, (30,)) == a and vvc.encode(pics, (45, 45)) == b
    sizes = [sum(len(d) for _, d in x) for x in (a, mixed, b)]
    assert sizes[0] > sizes[1] > sizes[2]
    sh = make_sequence_header(64, 48, 9, list(range(9)))
    out = decode_keyframes(CodecId.VVC, sh, [KeyframeUnit(frame_index=i, codec_id=CodecId.VVC, codec_params=p, keyframe_data=d)
                                             for i, (p, d) in enumerate(mixed)])
    ref = [decode_keyframes(CodecId.VVC, sh, [KeyframeUnit(frame_index=i, codec_id=CodecId.VVC, codec_params=p, keyframe_data=d)
                                              for i, (p, d) in enumerate(x)]) for x in (a, b)]
    assert out[:5] == ref[0][:5] and out[5:] == ref[1][5:]


def test_av1_key_frame_at_a_shot_cut():
    """AV1 keyframes: the first picture after a shot cut is a key frame (its temporal unit begins with
    a sequence header OBU, obu_type 1); starts=[] leaves one key frame; both decode in order."""
    from cmvc.keyframes import av1

    pics = two_shot_pictures()
    split, one = av1.encode(pics, 40), av1.encode(pics, 40, starts=[])
    first_obu = [[(d[0] >> 3) & 15 for _, d in c] for c in (split, one)]
    assert [k for k, t in enumerate(first_obu[0]) if t == 1] == [0, 5]
    assert [k for k, t in enumerate(first_obu[1]) if t == 1] == [0]
    sh = make_sequence_header(64, 48, 9, list(range(9)))
    for coded in (split, one):
        out = decode_keyframes(CodecId.AV1, sh, [KeyframeUnit(frame_index=i, codec_id=CodecId.AV1, codec_params=p,
                                                              keyframe_data=d) for i, (p, d) in enumerate(coded)])
        for k, x in enumerate(out):
            err = [np.mean(np.abs(x.y.astype(int) - q.y.astype(int))) for q in pics]
            assert int(np.argmin(err)) == k, (k, err)
