"""cmvc.precision: the tolerance-defined networks run at IEEE float32 whatever the host process set."""
import numpy as np
import pytest
import torch

from cmvc.precision import current_settings, ieee_float32

mkldnn_conv = getattr(getattr(torch.backends.mkldnn, "conv", None), "fp32_precision", None)
needs_knobs = pytest.mark.skipif(mkldnn_conv is None, reason="this torch has no per-operation fp32_precision knobs")


@pytest.fixture
def host_bf16():
    """A host process that lowered float32 convolutions on the CPU to bfloat16 (and leaves cuDNN's
    TF32 default), put back afterwards."""
    old = torch.backends.mkldnn.conv.fp32_precision
    torch.backends.mkldnn.conv.fp32_precision = "bf16"
    yield
    torch.backends.mkldnn.conv.fp32_precision = old


@needs_knobs
def test_sets_every_knob_to_ieee_and_restores(host_bf16):
    before = current_settings()
    assert before["mkldnn.conv.fp32_precision"] == "bf16"
    with ieee_float32():
        assert set(current_settings().values()) == {"ieee"}
    assert current_settings() == before


@needs_knobs
def test_restores_on_error(host_bf16):
    before = current_settings()
    with pytest.raises(ZeroDivisionError), ieee_float32():
        1 / 0
    assert current_settings() == before


@needs_knobs
def test_rife_network_runs_at_ieee_whatever_the_host_set(host_bf16, monkeypatch):
    """Every IFNet call of the RIFE decoder (feature head and flow) sees full precision, and the frames
    equal those decoded with torch's defaults.  (On CPUs with bfloat16 units the host's setting alone
    changed 90 193 luma samples of a 33-frame stream at 416x240.)"""
    from cmvc.recon import ifnet
    from cmvc.recon.rife import RifeReconstructor, load_ifnet
    from cmvc.write import make_sequence_header
    from test_recon import shifted

    seen = []
    flow, head = ifnet.IFNet.flow, ifnet.Head.forward
    monkeypatch.setattr(ifnet.IFNet, "flow", lambda *a, **k: (seen.append(current_settings()), flow(*a, **k))[1])
    monkeypatch.setattr(ifnet.Head, "forward", lambda *a, **k: (seen.append(current_settings()), head(*a, **k))[1])
    r = np.random.default_rng(0)
    base = np.kron(r.integers(40, 220, (12, 16)), np.ones((4, 4))).astype(np.uint8)
    i0, i1 = shifted(base, 0), shifted(base, 8)
    sh = make_sequence_header(64, 48, 3, [0, 2], recon_profile=1, recon_model=0)
    got = RifeReconstructor(sh, net=load_ifnet()).frames_at(i0, i1, [0.25, 0.5])
    assert len(seen) == 3 and all(set(s.values()) == {"ieee"} for s in seen)  # two heads, one flow batch
    assert current_settings()["mkldnn.conv.fp32_precision"] == "bf16"
    torch.backends.mkldnn.conv.fp32_precision = "none"
    assert RifeReconstructor(sh, net=load_ifnet()).frames_at(i0, i1, [0.25, 0.5]) == got


@needs_knobs
def test_hyperprior_runs_at_ieee_whatever_the_host_set(host_bf16, monkeypatch, testsrc_pics):
    """Encoder and decoder of HYPERPRIOR keyframes (randomly initialised model) compute at full
    precision: the entropy model's scales must be the same on both sides."""
    pytest.importorskip("compressai")
    from cmvc.keyframes import hyperprior

    seen = []
    model = hyperprior.build_model(1)
    for name in ("compress", "decompress"):
        f = getattr(model, name)
        monkeypatch.setattr(model, name, lambda *a, _f=f, **k: (seen.append(current_settings()), _f(*a, **k))[1])
    pic = testsrc_pics[0][0]
    (params, data), = hyperprior.encode([pic], model=model)
    from cmvc.write import make_sequence_header

    sh = make_sequence_header(pic.width, pic.height, 2, [0, 1], recon_profile=0)
    dec = hyperprior._Decoder(sh, model=model)

    class Unit:
        codec_params, keyframe_data, frame_index = params, data, 0

    dec.decode(Unit())
    assert len(seen) == 2 and all(set(s.values()) == {"ieee"} for s in seen)
