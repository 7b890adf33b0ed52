"""§6 parsing: bit flips, truncations, garbage and level-busting inputs."""
import io
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from cmvc.errors import CmvcError
from cmvc.parse import crc32, parse
from cmvc.registry import Profile, UnitType
from cmvc.syntax.descriptors import encode_leb128
from cmvc.validate import validate
from cmvc.write import StreamWriter, build_file_header, build_unit, make_sequence_header
from streams import sample_stream

STREAM = sample_stream()


def test_sample_is_valid_and_skips_unknown():
    rep = validate(STREAM)
    assert rep.valid, [str(e) for e in rep.errors]
    unknown = [u for u in rep.stream.units if not u.known]
    assert len(unknown) == 1 and unknown[0].body is None


def test_crc32_check_value():
    assert crc32(b"123456789") == 0xCBF43926


def test_every_single_bit_flip_is_invalid():
    codes = {}
    for bit in range(8 * len(STREAM)):
        b = bytearray(STREAM)
        b[bit // 8] ^= 0x80 >> (bit % 8)
        rep = validate(bytes(b))
        assert not rep.valid, f"flip of bit {bit} not detected"
        codes[rep.errors[0].code] = codes.get(rep.errors[0].code, 0) + 1
    assert "E006" in codes and "E001" in codes


def test_every_truncation_reports_e002_at_the_end_of_data():
    for n in range(len(STREAM)):
        rep = validate(STREAM[:n])
        assert not rep.valid
        first = rep.errors[0]
        assert (first.code, first.offset) == ("E002", n), (n, str(first))


def test_data_after_end_of_stream():
    rep = validate(STREAM + b"\0")
    assert [e.code for e in rep.errors] == ["E015"] and rep.errors[0].offset == len(STREAM)


def test_unknown_mandatory_unit():
    w = StreamWriter(Profile.BASELINE, 10)
    w.add(UnitType.SEQUENCE_HEADER, make_sequence_header(16, 16, 2, [0, 1]))
    off = sum(map(len, w.parts))
    w.add_raw(build_unit(0x70, b"x", skippable=False))
    rep = validate(w.finish())
    e = [x for x in rep.errors if x.code == "E009"]
    assert e and e[0].offset == off


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_random_bytes_only_raise_package_errors(data):
    try:
        parse(data)
    except CmvcError:
        pass
    validate(data)  # never raises


@given(st.lists(st.tuples(st.integers(0, len(STREAM) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(STREAM)))
@settings(max_examples=300)
def test_mutated_streams_only_raise_package_errors(edits, cut):
    b = bytearray(STREAM)
    for pos, val in edits:
        b[pos] = val
    data = bytes(b[:cut]) if cut < len(STREAM) // 2 else bytes(b)
    try:
        parse(data)
    except CmvcError:
        pass
    validate(data)


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_huge_picture_rejected_in_bounded_memory():
    from cmvc.syntax import SEQUENCE_HEADER
    sh = bytearray(SEQUENCE_HEADER.build(make_sequence_header(16, 16, 2, [0, 1])))
    big = encode_leb128(2**32 - 1)
    payload = big + big + bytes(sh[2:])  # width = height = 2^32-1
    data = build_file_header(Profile.BASELINE, 40) + build_unit(UnitType.SEQUENCE_HEADER, payload)
    result = {}
    peak = _peak(lambda: result.setdefault("r", validate(data)))
    assert result["r"].errors[0].code == "E008" and result["r"].errors[0].path.endswith("width")
    assert peak < 2 << 20


def test_huge_payload_size_rejected_before_reading():
    head = build_file_header(Profile.BASELINE, 40)
    # a declared payload beyond max_unit_size: E008 at the size field
    data = head + bytes([1, 0]) + encode_leb128(2**32 - 1) + b"\0" * 10
    rep = validate(data)
    assert rep.errors[0].code == "E008" and rep.errors[0].offset == 14
    # within the level but beyond the data: E002 without allocating the payload
    data = head + bytes([1, 0]) + encode_leb128(500 << 20) + b"\0" * 10
    result = {}
    peak = _peak(lambda: result.setdefault("r", validate(io.BytesIO(data))))
    assert result["r"].errors[0].code == "E002" and peak < 2 << 20


def test_stream_size_bound():
    head = build_file_header(Profile.BASELINE, 10)
    rep = validate(head + bytes(16 << 20))
    assert rep.errors[0].code == "E008" and rep.errors[0].offset == 16 << 20


def test_file_input_and_bytes_agree(tmp_path):
    p = tmp_path / "s.cmvc"
    p.write_bytes(STREAM)
    with open(p, "rb") as f:
        a = parse(f)
    b = parse(STREAM)
    assert [(u.offset, u.size, u.unit_type) for u in a.units] == [(u.offset, u.size, u.unit_type) for u in b.units]


def _without_crcs(data: bytes) -> bytes:
    """The stream rebuilt with no_crc_flag = 1 on every unit."""
    ps = parse(data)
    out = [data[:12]]
    for u in ps.units:
        out.append(build_unit(u.unit_type, data[u.payload_offset:u.payload_offset + u.payload_size],
                              skippable=u.skippable, crc=False))
    return b"".join(out)


def test_units_without_crc_parse_to_the_same_content():
    """§4.2 no_crc_flag: 4 bytes fewer per unit, the same payloads; truncations are still E002 at the end."""
    bare = _without_crcs(STREAM)
    a, b = validate(STREAM), validate(bare)
    assert b.valid, [str(e) for e in b.errors]
    assert len(bare) == len(STREAM) - 4 * len(a.stream.units)
    assert [(u.unit_type, u.payload) for u in a.stream.units] == [(u.unit_type, u.payload) for u in b.stream.units]
    assert all(u.crc is None and u.crc_ok for u in b.stream.units)
    for n in range(len(bare)):
        first = validate(bare[:n]).errors[0]
        assert (first.code, first.offset) == ("E002", n), (n, str(first))


def test_a_flipped_payload_bit_without_crc_is_not_e006():
    """Without its CRC a unit's payload corruption is found only where the syntax or the frame hash sees it."""
    bare = _without_crcs(STREAM)
    ps = parse(bare)
    meta = [u for u in ps.units if u.unit_type == UnitType.METADATA][0]
    b = bytearray(bare)
    b[meta.payload_offset + 3] ^= 0x01  # a letter of the key "encoder"
    rep = validate(bytes(b))
    assert rep.valid and [u.payload for u in rep.stream.units if u.unit_type == UnitType.METADATA] != [meta.payload]
    b = bytearray(STREAM)
    meta = [u for u in parse(STREAM).units if u.unit_type == UnitType.METADATA][0]
    b[meta.payload_offset + 3] ^= 0x01
    assert [e.code for e in validate(bytes(b)).errors] == ["E006"]
