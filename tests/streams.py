"""Shared builders for tests: a small valid stream that uses every unit type, and strategies."""
from __future__ import annotations

from hypothesis import strategies as st

import cmvc.syntax as S
from cmvc.registry import CodecId, HashType, ModelRole, ParamCoding, Profile, TextMethod, TextRole, UnitType
from cmvc.syntax.interp import encode_values
from cmvc.write import StreamWriter, build_unit, make_sequence_header


def kf(frame: int, data: bytes = b"\x89PNG-not-decoded") -> S.KeyframeUnit:
    return S.KeyframeUnit(frame_index=frame, codec_id=CodecId.PNG, codec_params=S.NoParams(), keyframe_data=data)


def text(s: str, role=TextRole.MOTION_CAPTION, start=0, end=9) -> S.TextUnit:
    data = s.encode()
    return S.TextUnit(role=role, frame_start=start, frame_end=end, coding_method=TextMethod.UTF8,
                      num_tokens=len(data), text_data=data)


def interp(segment: int, n: int, q: list[int], w_bits=4, coding=ParamCoding.EXP_GOLOMB) -> S.InterpParamsUnit:
    return S.InterpParamsUnit(segment_index=segment, w_bits=w_bits,
                              flags=S.InterpFlags(has_w_i=True, has_w_l=False, multi_segment_flag=False, reserved_zero_5bits=0),
                              param_coding=coding, param_data=encode_values(n, w_bits, q, None, coding))


def sample_stream(extra_unknown: bool = True) -> bytes:
    """10 frames, keyframes 0, 4, 9; every registered unit type and one unknown skippable unit."""
    w = StreamWriter(Profile.BASELINE, 10)
    w.add(UnitType.SEQUENCE_HEADER, make_sequence_header(176, 144, 10, [0, 4, 9], rng_seed=7))
    w.add(UnitType.TEXT, text("a red car drives left", TextRole.GLOBAL))
    w.add(UnitType.KEYFRAME, kf(0))
    w.add(UnitType.INTERP_PARAMS, interp(0, 3, [12, 8, 4]))
    w.add(UnitType.KEYFRAME, kf(4))
    w.add(UnitType.INTERP_PARAMS, interp(1, 4, [13, 10, 6, 3], coding=ParamCoding.FIXED))
    w.add(UnitType.KEYFRAME, kf(9))
    w.add(UnitType.TEXT, text("the car turns", TextRole.MOTION_CAPTION, 4, 9))
    w.add(UnitType.FRAME_HASH, S.FrameHashUnit(hash_type=HashType.MD5, first_frame=0, num_frames=10,
                                               digest=[bytes([i]) * 16 for i in range(10)]))
    w.add(UnitType.METADATA, S.MetadataUnit(key="encoder", value="tests"))
    w.add(UnitType.PADDING, S.PaddingUnit(padding_data=bytes(5)))
    if extra_unknown:
        w.add_raw(build_unit(0x70, b"future", skippable=True))
    return w.finish()


# ---------------------------------------------------------------- strategies
u8 = st.integers(0, 255)
leb = st.integers(0, 2**32 - 1)
small = st.integers(0, 1000)
blob = st.binary(max_size=64)
name = st.text(max_size=40)


@st.composite
def sequence_headers(draw):
    width = draw(st.integers(1, 1024))
    height = draw(st.integers(1, min(1024, (704 * 576) // width)))
    fc = draw(st.integers(2, 1024))
    kfs = sorted(draw(st.sets(st.integers(0, fc - 1), max_size=8)))
    models = draw(st.lists(st.builds(S.model_entry, st.sampled_from(ModelRole), name,
                                     st.one_of(st.none(), st.binary(min_size=32, max_size=32))), max_size=3))
    return make_sequence_header(width, height, fc, kfs, fps=(draw(st.integers(1, 240)), draw(st.integers(1, 1001))),
                                recon_model=draw(u8), rng_seed=draw(st.integers(0, 2**64 - 1)), models=models,
                                matrix_coefficients=draw(u8), full_range=draw(st.booleans()))


codec_params = st.one_of(
    st.tuples(st.just(CodecId.PNG), st.builds(S.NoParams)),
    st.tuples(st.sampled_from([CodecId.AVIF, CodecId.WEBP]), st.builds(S.ImageParams, quality=st.integers(0, 100))),
    st.tuples(st.just(CodecId.HYPERPRIOR), st.builds(S.HyperpriorParams, model_index=u8, quality=st.integers(1, 8),
                                                     latent_height=st.integers(1, 2**32 - 1),
                                                     latent_width=st.integers(1, 2**32 - 1), y_string_size=leb)),
    st.tuples(st.just(CodecId.AV1), st.builds(S.Av1Params, temporal_unit_index=leb, quality=st.integers(0, 63))),
    st.tuples(st.just(CodecId.VVC), st.builds(S.VvcParams, access_unit_index=leb, quality=st.integers(0, 63))),
)

keyframe_units = st.builds(lambda f, cp, d: S.KeyframeUnit(frame_index=f, codec_id=cp[0], codec_params=cp[1],
                                                           keyframe_data=d), leb, codec_params, blob)
keyframe_group_units = st.builds(
    lambda first, cp, sizes, tail: S.KeyframeGroupUnit(
        first_keyframe=first, num_extra_keyframes=len(sizes), codec_id=cp[0], codec_params=cp[1],
        keyframe_size=sizes, keyframe_data=bytes(sum(sizes)) + tail),
    leb, codec_params, st.lists(st.integers(1, 300), min_size=1, max_size=6), blob)
text_units = st.builds(S.TextUnit, role=st.sampled_from(TextRole), frame_start=leb, frame_end=leb,
                       coding_method=st.sampled_from(TextMethod), num_tokens=st.integers(0, 1024), text_data=blob)
interp_units = st.booleans().flatmap(lambda multi: st.builds(
    S.InterpParamsUnit, segment_index=leb, w_bits=st.integers(1, 12),
    flags=st.builds(S.InterpFlags, has_w_i=st.booleans(), has_w_l=st.booleans(), multi_segment_flag=st.just(multi),
                    reserved_zero_5bits=st.just(0)),
    num_extra_segments=st.integers(1, 2**32 - 1) if multi else st.none(),
    param_coding=st.sampled_from(ParamCoding), param_data=blob))
frame_hash_units = st.integers(1, 20).flatmap(lambda n: st.builds(
    S.FrameHashUnit, hash_type=st.just(HashType.MD5), first_frame=leb, num_frames=st.just(n),
    digest=st.lists(st.binary(min_size=16, max_size=16), min_size=n, max_size=n)))
metadata_units = st.builds(S.MetadataUnit, key=st.text(max_size=30), value=st.text(max_size=100))
padding_units = st.builds(S.PaddingUnit, padding_data=st.binary(max_size=40))
eos_units = st.builds(S.EndOfStreamUnit)

UNIT_STRATEGIES = {
    UnitType.SEQUENCE_HEADER: sequence_headers(),
    UnitType.KEYFRAME: keyframe_units,
    UnitType.TEXT: text_units,
    UnitType.INTERP_PARAMS: interp_units,
    UnitType.FRAME_HASH: frame_hash_units,
    UnitType.METADATA: metadata_units,
    UnitType.PADDING: padding_units,
    UnitType.END_OF_STREAM: eos_units,
    UnitType.KEYFRAME_GROUP: keyframe_group_units,
}
