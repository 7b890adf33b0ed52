"""Issue 31: hostile streams and tampered weights.  A stream of at most 1 KB is validated in at most
100 MB more than the interpreter holds after importing the validator, and 1 s of CPU."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = sorted(p for d in ("streams", "invalid") for p in (ROOT / "conformance" / d).glob("*.cmvc")
               if p.stat().st_size <= 1024)

_PROBE = r"""
import json, resource, sys, time
from cmvc.validate import validate
files = sys.argv[1:]
for f in [files[0]] + [f for f in files if f.endswith("/texts_l1.cmvc")]:
    validate(open(f, "rb").read())  # warm up: lazy imports, caches (CMVC_L1: torch, the text model)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
worst = []
for f in files:
    data = open(f, "rb").read()
    t = time.process_time()
    validate(data)
    worst.append((time.process_time() - t, f))
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
print(json.dumps({"grown_mb": grown, "slowest": max(worst)}))
"""


def test_small_streams_validate_in_bounded_memory_and_time():
    names = {p.name for p in SMALL}
    assert {"E022_md5_span_huge.cmvc", "E025_md5_span_overlap_huge.cmvc", "E025_interp_empty_huge.cmvc"} <= names
    p = subprocess.run([sys.executable, "-c", _PROBE, *map(str, SMALL)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout)
    assert r["grown_mb"] < 100, r
    assert r["slowest"][0] < 1.0, r


@pytest.mark.parametrize("name", ["E022_md5_span_huge", "E025_md5_span_overlap_huge", "E025_interp_empty_huge"])
def test_hostile_streams_give_their_error(name):
    from cmvc.validate import validate

    rep = validate((ROOT / "conformance" / "invalid" / f"{name}.cmvc").read_bytes())
    assert rep.errors[0].code == name[:4]


def test_frame_hash_spans_are_intervals():
    """The sorted-interval bookkeeping of §6.5's frame-hash rule agrees with a set of frames."""
    import random

    from cmvc.validate import add_span, first_overlap

    rng = random.Random(31)
    for _ in range(500):
        spans, cov = [], set()
        for _ in range(rng.randint(1, 8)):
            a = rng.randint(0, 30)
            b = a + rng.randint(0, 8)
            both = set(range(a, b)) & cov
            assert first_overlap(spans, a, b) == (min(both) if both else None)
            add_span(spans, a, b)
            cov |= set(range(a, b))
            assert {x for s, e in spans for x in range(s, e)} == cov


def _png_header_only(w: int, h: int) -> bytes:
    """A greyscale PNG that declares w x h samples but carries only its first 16 rows (enough for a
    decoder that allocates the declared picture before reading the data to be caught)."""
    import struct
    import zlib

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    z = zlib.compressobj(9)
    row = bytes(w + 1)
    idat = b"".join(z.compress(row) for _ in range(min(h, 16))) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


_BOMB = r"""
import resource, sys
from cmvc.decode import decode
from cmvc.errors import CmvcError
data = open(sys.argv[1], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    decode(data)
except CmvcError as e:
    print(e.code, e.offset, e.message)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


def test_png_declared_size_checked_before_decoding(tmp_path):
    """Issue 31 finding 2: a 2x2 level-1.0 stream with a 12000x12000 PNG: E024 at the IHDR, no
    allocation of the picture, no DecompressionBombWarning on stderr."""
    from cmvc.registry import Profile, UnitType
    from cmvc.write import StreamWriter, make_sequence_header
    from streams import kf

    w = StreamWriter(Profile.BASELINE, 10)
    w.add(UnitType.SEQUENCE_HEADER, make_sequence_header(2, 2, 2, [0, 1]))
    w.add(UnitType.KEYFRAME, kf(0, _png_header_only(12000, 12000)))
    w.add(UnitType.KEYFRAME, kf(1, _png_header_only(12000, 12000)))
    f = tmp_path / "bomb.cmvc"
    f.write_bytes(w.finish())
    p = subprocess.run([sys.executable, "-c", _BOMB, str(f)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "Warning" not in p.stderr, p.stderr[-2000:]
    first, grown = p.stdout.splitlines()
    assert first.startswith("E024") and "IHDR declares 12000x12000" in first, first
    assert float(grown) < 50, grown


@pytest.mark.parametrize("data", [b"", b"garbage", b"RIFF\0\0\0\0WEBPVP8 ", b"\x89PNG\r\n\x1a\n"])
@pytest.mark.parametrize("codec", ["PNG", "AVIF", "WEBP"])
def test_keyframe_errors_are_stable_one_liners(codec, data):
    """Issue 31 finding 9: no object address (it changes between runs) and no second line."""
    from cmvc.errors import CmvcError
    from cmvc.keyframes import get_codec
    from cmvc.registry import CodecId
    from cmvc.write import make_sequence_header
    from streams import kf

    unit = kf(0, data)
    dec = get_codec(CodecId[codec]).decoder(make_sequence_header(16, 16, 2, [0, 1]))
    with pytest.raises(CmvcError) as e:
        dec.decode(unit)
    assert e.value.code == "E024" and " at 0x" not in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_model_errors_point_at_the_model_entry(monkeypatch, tmp_path):
    """Issue 31 finding 10: E201 (a TT2V stream without its model) and E202 (a RIFE stream that
    declares rife-v4.25 with another hash) carry the offset and path of the declaring models[] entry."""
    import dataclasses

    from cmvc.decode import decode
    from cmvc.errors import CmvcError
    from cmvc.parse import parse
    from cmvc.registry import UnitType
    from cmvc.syntax import SEQUENCE_HEADER
    from cmvc.write import build_unit

    data = (ROOT / "conformance" / "streams" / "tt2v_text_only.cmvc").read_bytes()
    sh_rec = parse(data).units[0]
    with pytest.raises(CmvcError) as e:
        decode(data)
    assert e.value.code == "E201" and e.value.path == "units[0].sequence_header.models[0].model_name"
    assert e.value.offset == sh_rec.field_offset("models[0].model_name") > sh_rec.payload_offset

    data = (ROOT / "conformance" / "streams" / "rife_main.cmvc").read_bytes()
    ps = parse(data)
    sh = ps.sequence_header
    models = [dataclasses.replace(sh.models[0], model_sha256=bytes(32))]
    u0 = ps.units[0]
    bad = data[:u0.offset] + build_unit(UnitType.SEQUENCE_HEADER, SEQUENCE_HEADER.build(dataclasses.replace(sh, models=models))) \
        + data[u0.offset + u0.size:]
    with pytest.raises(CmvcError) as e:
        decode(bad)
    assert e.value.code == "E202" and e.value.path == "units[0].sequence_header.models[0].model_sha256"
    assert e.value.offset == parse(bad).units[0].field_offset("models[0].model_sha256")


def _tampered_copy(src: Path, dst: Path, scale: float) -> None:
    """The safetensors file with every tensor scaled and the metadata copied (issue 31 finding 3)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(src), "np") as f:
        meta = f.metadata()
    sd = load_file(str(src))
    save_file({k: (v * scale).astype(v.dtype) for k, v in sd.items()}, str(dst), metadata=meta)


def test_tampered_zoo_weights_are_e202(monkeypatch, tmp_path):
    from cmvc.errors import CmvcError
    from cmvc.zoo import RIFE_V4, cache_dir, weights_path

    src = cache_dir() / "models" / f"{RIFE_V4.name}.safetensors"
    if not src.exists():
        pytest.skip("rife-v4.25 is not installed (cmvc models fetch)")
    (tmp_path / "models").mkdir()
    _tampered_copy(src, tmp_path / "models" / src.name, 0.5)
    monkeypatch.setenv("CMVC_CACHE", str(tmp_path))
    with pytest.raises(CmvcError) as e:
        weights_path(RIFE_V4.name, fetch=False)
    assert e.value.code == "E202" and "altered" in e.value.message
    _tampered_copy(src, tmp_path / "models" / src.name, 1.0)  # the same tensors, written anew: accepted
    assert weights_path(RIFE_V4.name, fetch=False) == tmp_path / "models" / src.name


def test_tensor_digest_is_the_zoo_pin(monkeypatch, tmp_path):
    """A zoo entry's pin is checked whatever the file layout; every entry has one."""
    import numpy as np
    from safetensors.numpy import save_file

    from cmvc import zoo
    from cmvc.errors import CmvcError

    assert all(m.tensors_sha256 for m in [*zoo.ZOO.values(), *zoo.TOOLS.values()])
    a = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.ones(4, np.int64)}
    save_file(a, str(tmp_path / "x.safetensors"))
    save_file(dict(reversed(list(a.items()))), str(tmp_path / "y.safetensors"), metadata={"k": "v"})
    d = zoo.tensors_sha256(tmp_path / "x.safetensors")
    assert zoo.tensors_sha256(tmp_path / "y.safetensors") == d
    spec = zoo.ModelSpec("toy", "0" * 64, "", "", "", tensors_sha256=d)
    zoo.check_tensors(spec, tmp_path / "y.safetensors")
    a["a"][0] = 2
    save_file(a, str(tmp_path / "z.safetensors"))
    with pytest.raises(CmvcError) as e:
        zoo.check_tensors(spec, tmp_path / "z.safetensors")
    assert e.value.code == "E202"


def test_unsafe_pickle_in_the_store_is_e204(monkeypatch, tmp_path):
    """Issue 31 finding 4: a store file whose hash matches but that torch.load(weights_only=True)
    refuses gets its own code and a one-line message."""
    import pickle
    from fractions import Fraction

    from cmvc.errors import CmvcError
    from cmvc.zoo import add_model, find_model, load_state_dict

    monkeypatch.setenv("CMVC_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "ckpt.pth"
    f.write_bytes(pickle.dumps({"w": Fraction(1, 3)}, protocol=2))
    digest = add_model(f)
    with pytest.raises(CmvcError) as e:
        load_state_dict(find_model("toy", digest))
    assert e.value.code == "E204" and "\n" not in str(e.value), str(e.value)


_LIGHT = r"""
import sys
from cmvc.tools.cli import main
assert main(["validate", sys.argv[1]]) == 0
assert main(["decode", sys.argv[1], "--verify", "-o", sys.argv[2]]) == 0
print(sorted(m for m in ("torch", "compressai", "diffusers", "transformers") if m in sys.modules))
"""


@pytest.mark.parametrize("stream", ["blend_png_basic", "av1_keyframes"])
def test_light_decode_loads_no_network_library(stream, tmp_path):
    """Issue 31 finding 12: validating and decoding a BASELINE (BLEND) stream never imports torch,
    CompressAI, diffusers or transformers."""
    p = subprocess.run([sys.executable, "-c", _LIGHT, str(ROOT / "conformance" / "streams" / f"{stream}.cmvc"),
                        str(tmp_path / "o.y4m")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().splitlines()[-1] == "[]", p.stdout


def test_hyperprior_latent_size_checked_before_decoding():
    """A HYPERPRIOR keyframe declaring a 100000 x 100000 latent is E024 before any model or tensor."""
    from cmvc.errors import CmvcError
    from cmvc.keyframes.hyperprior import decoder
    from cmvc.registry import CodecId
    from cmvc.syntax import HyperpriorParams, KeyframeUnit
    from cmvc.write import make_sequence_header

    sh = make_sequence_header(100, 60, 2, [0, 1])
    unit = KeyframeUnit(frame_index=0, codec_id=CodecId.HYPERPRIOR, keyframe_data=b"\0" * 8,
                        codec_params=HyperpriorParams(model_index=0, quality=1, latent_height=100000,
                                                      latent_width=100000, y_string_size=4))
    with pytest.raises(CmvcError) as e:
        decoder(sh, object()).decode(unit)
    assert e.value.code == "E024" and "expected 1x2" in e.value.message


def test_webp_declared_size_checked_before_opening():
    """A WebP whose VP8X chunk declares a 16384 x 16384 canvas in a 16x16 stream: E024 from the header
    (libwebp's demuxer would allocate the canvas when Pillow opens the file)."""
    import io

    from PIL import Image

    from cmvc.errors import CmvcError
    from cmvc.keyframes import get_codec
    from cmvc.registry import CodecId
    from cmvc.syntax import ImageParams, KeyframeUnit
    from cmvc.write import make_sequence_header

    b = io.BytesIO()
    Image.new("RGB", (16, 16)).save(b, "WEBP", quality=50, exif=b"Exif\0\0MM\0*\0\0\0\x08\0\0\0\0")
    data = bytearray(b.getvalue())
    assert data[12:16] == b"VP8X"
    data[24:27] = data[27:30] = (16383).to_bytes(3, "little")
    unit = KeyframeUnit(frame_index=0, codec_id=CodecId.WEBP, codec_params=ImageParams(quality=50), keyframe_data=bytes(data))
    with pytest.raises(CmvcError) as e:
        get_codec(CodecId.WEBP).decoder(make_sequence_header(16, 16, 2, [0, 1])).decode(unit)
    assert e.value.code == "E024" and "WebP header declares 16384x16384" in e.value.message, str(e.value)
