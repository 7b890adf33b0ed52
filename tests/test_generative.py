"""Generative modes on tiny randomly initialised models: SD_LORA (Eq. 4-8), TT2V, V2T, CLIP features."""
import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("peft")

from cmvc.decode import decode  # noqa: E402
from cmvc.encoder.pipeline import Caption, EncoderConfig, encode  # noqa: E402
from cmvc.errors import CmvcError  # noqa: E402
from cmvc.registry import ReconProfile, TextRole  # noqa: E402
from cmvc.validate import validate  # noqa: E402
from cmvc.generative import tiny as tiny_models  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {"sd": str(tiny_models.tiny_sd(d)), "t2v": str(tiny_models.tiny_t2v(d)),
            "cap": str(tiny_models.tiny_captioner(d))}


@pytest.fixture(scope="module")
def clip(testsrc_pics):
    from cmvc.resample import downsample

    pics, _ = testsrc_pics
    return [downsample(p, 32, 24) for p in pics[:5]]


def test_lora_interpolation_math(models):
    """Eq. 6: at w_l = 1 (0) the UNet output equals the one with LoRA_0 (LoRA_1) alone."""
    import torch

    from cmvc.generative.sd_lora import SdLora

    sd = SdLora(models["sd"], seed=3, preset=2)
    x = torch.rand(1, 3, 32, 32)
    sd.train_lora("a", x, 0)
    sd.train_lora("b", 1 - x, 1)
    z = torch.randn(1, 4, 16, 16)
    t = torch.tensor([500])

    def out(names, weights):
        sd.unet.set_adapters(names, weights=weights)
        with torch.no_grad():
            return sd.unet(z, t, sd.emb).sample

    only_a, only_b = out(["a"], [1.0]), out(["b"], [1.0])
    assert not torch.allclose(only_a, only_b)
    assert torch.allclose(out(["a", "b"], [1.0, 0.0]), only_a, atol=1e-6)
    assert torch.allclose(out(["a", "b"], [0.0, 1.0]), only_b, atol=1e-6)
    mid = out(["a", "b"], [0.5, 0.5])
    assert not torch.allclose(mid, only_a) and not torch.allclose(mid, only_b)


def test_sd_lora_fit_decreases_loss_and_roundtrips(models, clip):
    cfg = EncoderConfig(profile="sd_lora", codec="png", keyframes=2, sd_model=models["sd"], preset=2, fit="gd",
                        fit_iters=4, w_bits=6, captions=[Caption(TextRole.GLOBAL, 0, 4, "a red car")])
    res = encode(clip, cfg)
    assert validate(res.data).valid
    hist = res.fit_stats["sd_loss"]
    assert len(hist) == 3 and all(h[-1] <= h[0] for h in hist)
    dec = decode(res.data, verify=True, sd_model=models["sd"])  # retrains the LoRAs from the decoded keyframes
    assert dec.hash_checked == 5
    sh = dec.stream.sequence_header
    assert sh.recon_profile == ReconProfile.SD_LORA and dec.stream.header.profile == 2
    with pytest.raises(CmvcError) as e:
        decode(res.data)
    assert e.value.code == "E201"


def test_sd_lora_wrong_model_is_e202(models, clip, tmp_path):
    import shutil

    res = encode(clip[:3], EncoderConfig(profile="sd_lora", codec="png", keyframes=2, sd_model=models["sd"], preset=2,
                                         fit="none"))
    other = tmp_path / "sd2"
    shutil.copytree(models["sd"], other)
    (other / "extra.txt").write_text("changed")
    with pytest.raises(CmvcError) as e:
        decode(res.data, sd_model=str(other))
    assert e.value.code == "E202"


def test_tt2v_roundtrip(models, clip):
    res = encode(clip, EncoderConfig(mode="tt2v", t2v_model=models["t2v"], preset=2,
                                     captions=[Caption(TextRole.GLOBAL, 0, 4, "a dog runs on the beach")]))
    rep = validate(res.data)
    assert rep.valid and rep.stream.sequence_header.num_keyframes == 0
    assert len(res.data) < 200  # text only
    dec = decode(res.data, verify=True, t2v_model=models["t2v"])
    assert len(dec.pictures) == 5 and dec.pictures[0].y.shape == clip[0].y.shape


def test_captioner_adds_captions(models, clip):
    from cmvc.generative.captioner import Captioner

    cap = Captioner(models["cap"], max_new_tokens=5)
    caps = cap.captions(clip, [0, 4])
    assert [c.role for c in caps] == [TextRole.KEYFRAME_CAPTION, TextRole.KEYFRAME_CAPTION, TextRole.MOTION_CAPTION]
    assert all(isinstance(c.text, str) for c in caps)
    res = encode(clip, EncoderConfig(profile="blend", codec="png", keyframes=2, captioner=models["cap"]))
    assert sum(1 for u in validate(res.data).stream.units if u.unit_type == 3) == 3


def test_clip_features_with_checkpoint(tmp_path, clip):
    pytest.importorskip("open_clip")
    from cmvc.encoder.features import features
    from cmvc.encoder.keyframe_select import select_keyframes

    conf, ckpt = tiny_models.tiny_open_clip(tmp_path)
    f = features(clip, f"clip:{conf}:{ckpt}")
    assert f.shape == (5, 16) and np.isfinite(f).all()
    kf = select_keyframes(clip, 3, "feature", f"clip:{conf}:{ckpt}")
    assert kf[0] == 0 and kf[-1] == 4 and len(kf) == 3


def test_cli_tt2v_end_to_end(models, tmp_path, testsrc_y4m, capsys):
    from cmvc.tools.cli import main

    out = tmp_path / "t.cmvc"
    rc = main(["encode", str(testsrc_y4m), "-o", str(out), "--frames", "4", "--mode", "tt2v", "--t2v-model",
               models["t2v"], "--preset", "2", "--caption", "a red car", "--json"])
    assert rc == 0 and out.exists()
    assert main(["decode", str(out), "-o", str(tmp_path / "o.y4m"), "--verify", "--t2v-model", models["t2v"]]) == 0
    assert main(["decode", str(out), "-o", str(tmp_path / "o2.y4m")]) == 2  # no model given: E201, exit 2
    assert "E201" in capsys.readouterr().err
