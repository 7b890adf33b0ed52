"""§4 syntax: every structure builds, parses back to the same object, and re-builds to the same bytes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cmvc.syntax as S
from cmvc.errors import BitstreamError, UsageError
from cmvc.levels import LEVELS
from cmvc.parse import parse_payload
from cmvc.registry import UnitType
from cmvc.syntax.descriptors import Leb128, encode_leb128
from cmvc.write import build_payload
from streams import UNIT_STRATEGIES

LV = LEVELS[40]


def roundtrip(unit_type, body):
    """construct's own test pattern: build, parse, rebuild; all must agree."""
    data = build_payload(unit_type, body, LV)
    parsed = parse_payload(unit_type, data, level=LV)
    assert parsed == body
    assert build_payload(unit_type, parsed, LV) == data
    return data


@pytest.mark.parametrize("unit_type", list(UnitType))
def test_roundtrip_every_unit_type(unit_type):
    @given(UNIT_STRATEGIES[unit_type])
    def check(body):
        roundtrip(unit_type, body)

    check()


@given(st.integers(0, 2**32 - 1))
def test_leb128_roundtrip_and_minimal(v):
    enc = encode_leb128(v)
    assert Leb128().parse(enc) == v
    assert len(enc) == max(1, (v.bit_length() + 6) // 7)


@pytest.mark.parametrize("data,why", [
    (b"\x80\x00", "not minimal"), (b"\xff\xff\xff\xff\x1f", "exceeds"), (b"\x80\x80\x80\x80\x80\x01", "longer"),
])
def test_leb128_rejects(data, why):
    with pytest.raises(BitstreamError) as e:
        Leb128().parse(data)
    assert e.value.code == "E007" and why in e.value.message and e.value.offset == 0


def test_leb128_builds_any_integer_type_and_names_bad_values():
    import numpy as np

    from cmvc.errors import CmvcError

    assert Leb128().build(np.int64(300)) == encode_leb128(300) == Leb128().build(np.uint16(300))
    for bad in (True, -1, 2**32, 1.0, "1"):
        with pytest.raises(CmvcError) as e:
            Leb128().build(bad)
        assert e.value.code == "E101" and type(bad).__name__ in e.value.message


def test_payload_trailing_and_short():
    body = S.MetadataUnit(key="k", value="v")
    data = build_payload(UnitType.METADATA, body)
    with pytest.raises(BitstreamError) as e:
        parse_payload(UnitType.METADATA, data + b"x", level=LV, base=100)
    assert e.value.code == "E012" and e.value.offset == 100 + len(data)
    with pytest.raises(BitstreamError) as e:
        parse_payload(UnitType.METADATA, data[:-1], level=LV, base=100)
    assert e.value.code == "E012"


def test_build_rejects_bad_values_as_caller_errors():
    with pytest.raises(UsageError):
        build_payload(UnitType.METADATA, S.MetadataUnit(key=5, value="v"))
    with pytest.raises(UsageError):
        build_payload(UnitType.KEYFRAME, S.MetadataUnit(key="k", value="v"))
    with pytest.raises(UsageError):
        build_payload(UnitType.TEXT, S.TextUnit(role=9, frame_start=0, frame_end=0, coding_method=0,
                                                num_tokens=0, text_data=b""))


def test_field_offsets_recorded():
    from streams import sample_stream
    from cmvc.parse import parse

    ps = parse(sample_stream())
    sh = ps.units[0]
    assert sh.field_offsets["width"] == 0 and sh.field_offsets["keyframe_index[1]"] > sh.field_offsets["num_keyframes"]
