"""Spec §6.6 (the element at fault where a rule involves several elements) and §6.7 (which error comes
first), on the conformance streams that pin them."""
import json
from pathlib import Path

import pytest

from cmvc.validate import validate

ROOT = Path(__file__).resolve().parents[1] / "conformance"
MANIFEST = {s["name"]: s for s in json.loads((ROOT / "manifest.json").read_text())["streams"]}

# stream -> (code, the field path's last element): the element §6.6 names
AT_FAULT = {
    "E008_picture_size": ("E008", "height"),
    "E028_t2v_in_it2v": ("E028", "recon_profile"),
    "E022_text_start": ("E022", "frame_start"),
    "E022_frame_span": ("E022", "frame_end"),
    "E022_hash_span": ("E022", "num_frames"),
    "E022_segments_past_end": ("E022", "num_extra_segments"),
    "E025_segment_covered_twice": ("E025", "segment_index"),
    "E025_hash_twice": ("E025", "first_frame"),
    "E019_group_sizes": ("E019", "keyframe_size[0]"),
    "E019_hyperprior_group": ("E019", "codec_id"),
    "E019_temporal_unit_index": ("E019", "temporal_unit_index"),
    "E019_group_temporal_unit_index": ("E019", "temporal_unit_index"),
    "E019_string_too_long": ("E019", "key"),
    "E017_missing_last_keyframe": ("E017", "keyframe_index[2]"),
    "E001_four_bytes": ("E001", "magic"),
    "E002_short_header": ("E002", "magic"),
    "E016_before_payload_error": ("E016", "keyframe_index[2]"),
}


def _errors(name):
    return validate((ROOT / MANIFEST[name]["file"]).read_bytes()).errors


@pytest.mark.parametrize("name", sorted(AT_FAULT))
def test_element_at_fault(name):
    code, element = AT_FAULT[name]
    e = _errors(name)[0]
    assert (e.code, e.path.split(".")[-1]) == (code, element)
    assert e.offset == MANIFEST[name]["expect"]["offset"]


def _field_offset(name, unit_index, field):
    ps = validate((ROOT / MANIFEST[name]["file"]).read_bytes()).stream
    return ps.units[unit_index].field_offset(field)


@pytest.mark.parametrize("name,field,delta", [
    ("E020_text_tokens", "text_data", 5),        # num_tokens 6 > 5 bytes: the end of text_data
    ("E020_utf8_extra_byte", "text_data", 4),    # the first byte after the 4 tokens
    ("E020_utf8_invalid", "text_data", 2),       # the ill-formed byte
    ("E020_t1_end_state", "text_data", 0),
    ("E020_t1_words_left", "text_data", 0),
    ("E020_t1_cap_without_word", "text_data", 0),
    ("E020_t1_bad_utf8", "text_data", 0),
    ("E020_t1_leading_zero", "text_data", 4),    # the last group's first byte
    ("E019_eg_prefix", "param_data", 0),         # the byte of the code's first bit, not of its 7th zero
    ("E027_extra_byte", "param_data", 1),
    ("E010_trailing_bits", "param_data", 0),     # the byte holding the non-zero bit (its last bit)
])
def test_position_inside_a_byte_string(name, field, delta):
    e = _errors(name)[0]
    assert e.offset == _field_offset(name, 5, field) + delta


def test_truncation_alone_gives_no_e017():
    """§6.7: whole-stream rules are checked only when END_OF_STREAM was read."""
    data = (ROOT / "streams" / "blend_png_basic.cmvc").read_bytes()
    ps = validate(data).stream
    cut = data[:ps.units[2].offset + 3]  # inside the second keyframe unit
    assert [e.code for e in validate(cut).errors] == ["E002"]


def test_lower_offset_first_then_code():
    errs = _errors("E016_before_payload_error")
    assert [e.code for e in errs][0] == "E016" and "E012" in [e.code for e in errs]
    keys = [(e.offset, e.code) for e in errs]
    assert keys == sorted(keys)


@pytest.mark.parametrize("name,unit", [("E024_vvc_too_few_pictures", 9), ("E024_av1_two_frames", 2)])
def test_keyframe_count_errors_name_their_unit(name, unit):
    """§6.6: too few pictures, the first unit left without one (the last keyframe here, though earlier
    units were still waiting for theirs when the bitstream ended); too many, the unit whose decoding
    output the extra picture."""
    from cmvc.decode import decode
    from cmvc.errors import CmvcError

    data = (ROOT / MANIFEST[name]["file"]).read_bytes()
    with pytest.raises(CmvcError) as ei:
        decode(data)
    ps = validate(data).stream
    assert ei.value.code == "E024"
    assert ei.value.offset == ps.units[unit].field_offset("keyframe_data") == MANIFEST[name]["expect"]["offset"]
