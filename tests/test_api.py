"""The Python API importable from ``cmvc``: encode a file, validate a stream."""
import subprocess
import sys

import pytest

import cmvc
from cmvc.errors import CmvcError
from cmvc.parse import parse


@pytest.fixture(scope="module")
def stream(tmp_path_factory, testsrc_y4m):
    out = tmp_path_factory.mktemp("api") / "clip.cmvc"
    res = cmvc.encode_file(testsrc_y4m, out, profile="blend", codec="png", fit="none", interval=4)
    return out, res


def test_encode_file_writes_the_stream_it_returns(stream, testsrc_pics):
    out, res = stream
    pics, _ = testsrc_pics
    assert out.read_bytes() == res.data
    sh = parse(res.data).sequence_header
    assert (sh.width, sh.height, sh.frame_count) == (pics[0].width, pics[0].height, len(pics))
    assert list(sh.keyframe_index) == res.keyframes and len(res.keyframes) == 4  # interval 4 over 12 frames
    assert not list(out.parent.glob(".*"))  # no temporary file left


def test_encode_file_options_reach_the_encoder(testsrc_y4m):
    res = cmvc.encode_file(testsrc_y4m, None, profile="blend", codec="png", fit="none", keyframes=2, frames=6)
    assert res.keyframes == [0, 5]


def test_encode_file_with_a_bit_target_fits_it(testsrc_y4m):
    bits = 8 * 4000
    res = cmvc.encode_file(testsrc_y4m, None, bits=bits, profile="blend", codec="av1", strategy="uniform",
                           downscale=1, fit="none", frames=8)
    assert 8 * len(res.data) <= bits * 1.05
    assert res.settings["codec"] == "av1"


def test_encode_file_caller_errors(tmp_path, testsrc_y4m):
    with pytest.raises(CmvcError) as e:
        cmvc.encode_file(testsrc_y4m, None, colour="red")
    assert e.value.code == "E101"
    with pytest.raises(CmvcError) as e:
        cmvc.encode_file(testsrc_y4m, None, bits=1000, kbps=3)
    assert e.value.code == "E101"
    with pytest.raises(CmvcError) as e:
        cmvc.encode_file(tmp_path / "missing.mp4", tmp_path / "x.cmvc")
    assert e.value.code == "E102"
    assert not (tmp_path / "x.cmvc").exists()


def test_validate_file_takes_a_path_bytes_or_a_file(stream):
    out, res = stream
    for source in (out, str(out), res.data, open(out, "rb")):
        rep = cmvc.validate_file(source)
        assert rep.valid and not rep.errors
        assert rep.stream.sequence_header.frame_count == 12


def test_validate_file_reports_code_offset_and_path(stream, tmp_path):
    out, res = stream
    bad = bytearray(res.data)
    bad[0] ^= 0xFF  # the magic
    rep = cmvc.validate_file(bytes(bad))
    assert not rep.valid
    e = rep.errors[0]
    assert (e.code, e.offset) == ("E001", 0)
    with pytest.raises(CmvcError) as err:
        cmvc.validate_file(tmp_path / "missing.cmvc")
    assert err.value.code == "E102"


def test_import_cmvc_is_light_and_names_its_api():
    code = "import sys, cmvc; assert 'torch' not in sys.modules and 'cmvc.encoder' not in sys.modules; print(cmvc.__all__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "encode_file" in out and "validate_file" in out
    with pytest.raises(AttributeError):
        cmvc.no_such_function


@pytest.mark.parametrize("kw", [dict(bits=-5), dict(bits=0), dict(bits=float("nan")), dict(bits=float("inf")),
                                dict(kbps=-1), dict(bpp=0), dict(bits="8000"), dict(frames=0), dict(frames=-1),
                                dict(frames=2.5)])
def test_encode_file_refuses_targets_and_frame_counts_it_cannot_meet(kw, testsrc_y4m, monkeypatch):
    """As ``cmvc encode`` does: E101 before any frame is read (a target of 0 or less was coded at the
    fewest bits, NaN and infinity raised ValueError and OverflowError, frames=0 read every frame)."""
    import cmvc.tools.video

    def tripwire(*a, **k):
        raise AssertionError("frames read before the arguments were checked")

    monkeypatch.setattr(cmvc.tools.video, "read_video", tripwire)
    with pytest.raises(CmvcError) as e:
        cmvc.encode_file(testsrc_y4m, None, **kw)
    assert e.value.code == "E101"


@pytest.mark.parametrize("source", ["clip.cmvc", 12345, None, "text"])
def test_a_stream_that_is_neither_bytes_nor_a_binary_file_is_a_caller_error(source):
    """decode_frames and validate_file (which opens a path itself) on a source of another kind: E101,
    not AttributeError or TypeError."""
    import io

    if source == "text":
        source = io.StringIO("CMVC")
    for f in (cmvc.decode_frames, *([cmvc.validate_file] if not isinstance(source, str) else [])):
        with pytest.raises(CmvcError) as e:
            f(source)
        assert e.value.code == "E101"
