"""§6.5 semantic checks: one case per rule, each with its code, offset and path."""

import pytest

import cmvc.syntax as S
from cmvc.registry import CodecId, ModelRole, ParamCoding, Profile, ReconProfile, UnitType
from cmvc.validate import validate
from cmvc.write import StreamWriter, build_unit, make_sequence_header
from streams import interp, kf, text


def stream(units, sh=None, profile=Profile.BASELINE):
    w = StreamWriter(profile, 10)
    w.add(UnitType.SEQUENCE_HEADER, sh or make_sequence_header(32, 32, 10, [0, 4, 9]))
    offsets = []
    for t, body in units:
        offsets.append(sum(map(len, w.parts)))
        if isinstance(body, bytes):
            w.add_raw(body)
        else:
            w.add(t, body)
    return w.finish(), offsets


def codes(data):
    return [e.code for e in validate(data).errors]


GOOD = [(UnitType.KEYFRAME, kf(0)), (UnitType.KEYFRAME, kf(4)), (UnitType.KEYFRAME, kf(9))]


def test_good():
    assert codes(stream(GOOD)[0]) == []


def test_keyframe_indices():
    assert codes(stream(GOOD, make_sequence_header(32, 32, 10, [1, 4, 9]))[0]) == ["E016", "E017"]
    assert "E016" in codes(stream(GOOD, make_sequence_header(32, 32, 10, [0, 4, 8]))[0])
    assert "E016" in codes(stream(GOOD, make_sequence_header(32, 32, 10, [0, 4, 4, 9]))[0])
    assert "E016" in codes(stream([], make_sequence_header(32, 32, 10, [0]))[0])


def test_keyframe_units_order_and_presence():
    data, offs = stream([GOOD[0], GOOD[2], GOOD[1]])
    rep = validate(data)
    assert rep.errors[0].code == "E017" and rep.errors[0].path == "units[2].keyframe.frame_index"
    assert rep.errors[0].offset == offs[1] + 3  # unit header (3 bytes) then frame_index
    assert "E017" in codes(stream(GOOD[:2])[0])


def test_profile_tools():
    sh = make_sequence_header(32, 32, 10, [0, 4, 9], recon_profile=ReconProfile.RIFE)
    assert "E028" in codes(stream(GOOD, sh)[0])
    hp = S.KeyframeUnit(frame_index=0, codec_id=CodecId.HYPERPRIOR, keyframe_data=b"ab",
                        codec_params=S.HyperpriorParams(model_index=0, quality=1, latent_height=1, latent_width=1,
                                                        y_string_size=1))
    assert "E028" in codes(stream([(UnitType.KEYFRAME, hp)] + GOOD[1:])[0])
    assert "E018" in codes(stream([(UnitType.KEYFRAME, hp)] + GOOD[1:], profile=Profile.MAIN)[0])


def test_models():
    sh = make_sequence_header(32, 32, 10, [0, 4, 9], recon_profile=ReconProfile.RIFE)
    assert "E018" in codes(stream(GOOD, sh, Profile.MAIN)[0])
    m = S.model_entry(ModelRole.RECONSTRUCTION, "rife-v4", bytes(32))
    sh = make_sequence_header(32, 32, 10, [0, 4, 9], recon_profile=ReconProfile.RIFE, recon_model=0, models=[m])
    assert codes(stream(GOOD, sh, Profile.MAIN)[0]) == []
    sh = make_sequence_header(32, 32, 10, [0, 4, 9], recon_profile=ReconProfile.RIFE, recon_model=1, models=[m])
    assert "E018" in codes(stream(GOOD, sh, Profile.MAIN)[0])


@pytest.mark.parametrize("codec_id, params, field", [(CodecId.AV1, S.Av1Params, "temporal_unit_index"),
                                                     (CodecId.VVC, S.VvcParams, "access_unit_index")])
def test_sequence_codec_rules(codec_id, params, field):
    """AV1 and VVC keyframes form one bitstream: units numbered in order, no other codec mixed in (§5.4)."""
    def unit(f, i):
        return S.KeyframeUnit(frame_index=f, codec_id=codec_id, codec_params=params(**{field: i, "quality": 30}),
                              keyframe_data=b"x")
    assert codes(stream([(UnitType.KEYFRAME, unit(0, 0)), (UnitType.KEYFRAME, unit(4, 1)), (UnitType.KEYFRAME, unit(9, 2))])[0]) == []
    data, offs = stream([(UnitType.KEYFRAME, unit(0, 0)), (UnitType.KEYFRAME, unit(4, 2)), (UnitType.KEYFRAME, unit(9, 2))])
    err = validate(data).errors[0]
    assert err.code == "E019" and err.path == f"units[2].keyframe.codec_params.{field}"
    assert "E028" in codes(stream([(UnitType.KEYFRAME, unit(0, 0)), GOOD[1], GOOD[2]])[0])


def test_text_rules():
    assert "E022" in codes(stream(GOOD + [(UnitType.TEXT, text("x", start=5, end=10))])[0])
    bad = text("héllo")
    bad.text_data = bad.text_data[:2] + b"\xff" + bad.text_data[3:]
    data, offs = stream(GOOD + [(UnitType.TEXT, bad)])
    rep = validate(data)
    assert rep.errors[0].code == "E020" and rep.errors[0].offset == offs[3] + 3 + 5 + 1
    short = text("hello")
    short.num_tokens = 7
    assert "E020" in codes(stream(GOOD + [(UnitType.TEXT, short)])[0])


def test_interp_rules():
    assert codes(stream(GOOD + [(UnitType.INTERP_PARAMS, interp(1, 4, [13, 10, 6, 3]))])[0]) == []
    assert "E022" in codes(stream(GOOD + [(UnitType.INTERP_PARAMS, interp(2, 4, [13, 10, 6, 3]))])[0])
    assert "E025" in codes(stream(GOOD + [(UnitType.INTERP_PARAMS, interp(1, 4, [13, 10, 6, 3]))] * 2)[0])
    assert "E027" in codes(stream(GOOD + [(UnitType.INTERP_PARAMS, interp(1, 3, [13, 10, 6]))])[0])
    over = interp(1, 4, [13, 10, 6, 3], coding=ParamCoding.FIXED)
    over.param_data = bytes([0xFF]) + over.param_data[1:]  # q = 31 > 16
    assert "E019" in codes(stream(GOOD + [(UnitType.INTERP_PARAMS, over)])[0])


def test_hash_and_padding_rules():
    h = S.FrameHashUnit(hash_type=0, first_frame=8, num_frames=3, digest=[bytes(16)] * 3)
    assert "E022" in codes(stream(GOOD + [(UnitType.FRAME_HASH, h)])[0])
    h2 = S.FrameHashUnit(hash_type=0, first_frame=0, num_frames=2, digest=[bytes(16)] * 2)
    assert "E025" in codes(stream(GOOD + [(UnitType.FRAME_HASH, h2)] * 2)[0])
    data, offs = stream(GOOD + [(UnitType.PADDING, S.PaddingUnit(padding_data=b"\0\0\1"))])
    rep = validate(data)
    assert rep.errors[0].code == "E026" and rep.errors[0].offset == offs[3] + 3 + 2


def test_order_rules():
    w = StreamWriter(Profile.BASELINE, 10)
    w.add(UnitType.KEYFRAME, kf(0))
    assert codes(w.finish()) == ["E013"]
    data, _ = stream(GOOD + [(UnitType.SEQUENCE_HEADER, make_sequence_header(32, 32, 10, [0, 4, 9]))])
    assert "E013" in codes(data)
    wrong_flag = build_unit(UnitType.METADATA, b"\x01k\x01v", skippable=False)
    assert "E010" in codes(stream(GOOD + [(None, wrong_flag)])[0])


def group(first, units, **kw):
    """A keyframe group of *units* (KeyframeUnit), as the encoder writes it."""
    g = S.KeyframeGroupUnit(first_keyframe=first, num_extra_keyframes=len(units) - 1, codec_id=units[0].codec_id,
                            codec_params=units[0].codec_params, keyframe_size=[len(u.keyframe_data) for u in units[:-1]],
                            keyframe_data=b"".join(u.keyframe_data for u in units))
    for k, v in kw.items():
        setattr(g, k, v)
    return (UnitType.KEYFRAME_GROUP, g)


def test_keyframe_group_rules():
    """§5.9: a group counts as its keyframe units: first_keyframe follows on (E017), it ends at the last
    keyframe (E017), sizes leave the last picture a byte (E019), no HYPERPRIOR (E019)."""
    ks = [kf(0, b"a"), kf(4, b"bb"), kf(9, b"ccc")]
    assert codes(stream([group(0, ks)])[0]) == []
    assert codes(stream([GOOD[0], group(1, ks[1:])])[0]) == []
    data, offs = stream([GOOD[0], group(2, ks[1:])])
    err = validate(data).errors[0]
    assert err.code == "E017" and err.path == "units[2].keyframe_group.first_keyframe" and err.offset == offs[1] + 3
    data, _ = stream([group(0, ks + [kf(0, b"d")])])
    assert [e.path for e in validate(data).errors] == ["units[1].keyframe_group.num_extra_keyframes"]
    assert codes(stream([group(0, ks, keyframe_size=[1, 5])])[0]) == ["E019", "E017"]  # the third picture is lost
    assert codes(stream([group(0, ks[:2])])[0]) == ["E017"]  # frame 9 has no unit
    hp = [S.KeyframeUnit(frame_index=f, codec_id=CodecId.HYPERPRIOR, keyframe_data=b"ab", codec_params=S.HyperpriorParams(
        model_index=0, quality=1, latent_height=1, latent_width=1, y_string_size=1)) for f in (0, 4, 9)]
    assert "E019" in codes(stream([group(0, hp)], profile=Profile.MAIN)[0])


def test_keyframe_group_ordinals():
    """In a group the AV1 / VVC ordinal is the group's value plus the member's position (§5.9)."""
    vv = [S.KeyframeUnit(frame_index=f, codec_id=CodecId.VVC, codec_params=S.VvcParams(access_unit_index=i, quality=9),
                         keyframe_data=b"x") for i, f in enumerate((0, 4, 9))]
    assert codes(stream([(UnitType.KEYFRAME, vv[0]), group(1, vv[1:])])[0]) == []
    bad = group(1, vv[1:])
    bad[1].codec_params = S.VvcParams(access_unit_index=2, quality=9)
    errs = validate(stream([(UnitType.KEYFRAME, vv[0]), bad])[0]).errors
    assert [(e.code, e.path) for e in errs] == [("E019", "units[2].keyframe_group.codec_params.access_unit_index")]
    assert "E028" in codes(stream([GOOD[0], group(1, vv[1:])])[0])


def test_registered_model_by_name_alone():
    """registered_model_flag (§5.3): no model_sha256, §10.9's hash applies; an unregistered name is E011;
    the writer marks such a stream 1.2."""
    from cmvc.parse import parse
    from cmvc.zoo import RIFE_V4

    by_name = S.model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name)
    with_hash = S.model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name, bytes.fromhex(RIFE_V4.sha256))
    assert by_name.sha256 == with_hash.sha256 == with_hash.model_sha256 and by_name.model_sha256 is None
    sizes = {}
    for m in (by_name, with_hash):
        sh = make_sequence_header(32, 32, 10, [0, 4, 9], recon_profile=ReconProfile.RIFE, recon_model=0, models=[m])
        data = stream(GOOD, sh, Profile.MAIN)[0]
        assert codes(data) == []
        ps = parse(data)
        assert ps.sequence_header.models[0].sha256 == bytes.fromhex(RIFE_V4.sha256)
        sizes[m.flags.registered_model_flag] = (len(data), ps.header.minor_version)
    assert sizes[True] == (sizes[False][0] - 32, 2) and sizes[False][1] == 1
    sh = make_sequence_header(32, 32, 10, [0, 4, 9], recon_profile=ReconProfile.RIFE, recon_model=0,
                              models=[S.model_entry(ModelRole.RECONSTRUCTION, "rife-v9")])
    errs = validate(stream(GOOD, sh, Profile.MAIN)[0]).errors
    assert [(e.code, e.path) for e in errs] == [("E011", "units[0].sequence_header.models[0].model_name")]
