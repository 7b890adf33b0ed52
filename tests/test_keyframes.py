"""§7.2 keyframe codecs: PNG packing, AVIF/WebP conversion, AV1 sequences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmvc.errors import CmvcError
from cmvc.keyframes import Colour, get_codec
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


def roundtrip(codec_id, pics, quality):
    codec = get_codec(codec_id)
    sh = make_sequence_header(pics[0].width, pics[0].height, len(pics), list(range(len(pics))))
    coded = codec.encode(pics, quality, Colour())
    dec = codec.decoder(sh)
    return [dec.decode(KeyframeUnit(frame_index=i, codec_id=codec_id, codec_params=p, keyframe_data=d))
            for i, (p, d) in enumerate(coded)], coded


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
    for cid in (CodecId.PNG, CodecId.AVIF, CodecId.WEBP, CodecId.AV1):
        dec = get_codec(cid).decoder(sh)
        with pytest.raises(CmvcError) as e:
            dec.decode(KeyframeUnit(frame_index=0, codec_id=cid, codec_params=None, keyframe_data=b"\x00garbage"))
        assert e.value.code == "E024"


def test_hyperprior_with_random_initialised_model(tmp_path, monkeypatch, testsrc_pics):
    """The real CompressAI integration on a randomly initialised bmshj2018-hyperprior (no weights offline)."""
    pytest.importorskip("compressai")
    import torch

    from cmvc.decode import decode
    from cmvc.encoder import EncoderConfig, encode
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
    entry = dec.stream.sequence_header.models[0]
    assert entry.model_role == 0 and entry.model_name == "bmshj2018-hyperprior-q1"
    # a decoder without the weights reports E201
    monkeypatch.setenv("CMVC_CACHE", str(tmp_path / "empty"))
    with pytest.raises(CmvcError) as e:
        decode(res.data)
    assert e.value.code == "E201"
