"""``cmvc bench``: BD-rate, Pareto fronts, outputs, executors (process pool, in-process, Ray) agree."""
import json

import pytest

from cmvc.tools import bench as B


def test_bd_rate_known_values():
    anchor = [(1000, 30.0), (2000, 34.0), (4000, 37.0), (8000, 39.0)]
    half = [(b / 2, q) for b, q in anchor]
    assert B.bd_rate(anchor, half) == pytest.approx(-50.0, abs=1e-6)
    assert B.bd_rate(anchor, [(b * 1.1, q) for b, q in anchor]) == pytest.approx(10.0, abs=1e-6)
    assert B.bd_rate(anchor, [(10, 50.0), (20, 60.0)]) is None  # no overlap
    assert B.bd_rate(anchor, [(10, 31.0)]) is None  # one point


def test_pareto():
    assert B.pareto([(3, 5.0), (1, 2.0), (2, 1.0), (4, 4.0)]) == [(1, 2.0), (3, 5.0)]


@pytest.fixture(scope="module")
def tiny_jobs(testsrc_y4m):
    clips = B.load_dataset(str(testsrc_y4m), frames=8)
    return B.make_jobs(clips, cmvc_points=[{"interval": 4, "quality": 63, "profile": "blend"},
                                           {"interval": 2, "quality": 50, "profile": "blend"}],
                       peer_points=[("vvenc", 63), ("vvenc", 52)], temporal=True)


def test_bench_outputs_and_executors_agree(tiny_jobs, tmp_path):
    serial = B.execute(tiny_jobs, workers=1, progress=False)
    pooled = B.execute(tiny_jobs, workers=2, progress=False)
    assert serial == pooled
    summ = B.write_outputs(serial, tmp_path)
    for name in ("results.csv", "results.json", "summary.md", "rd_testsrc_vmaf.png", "rd_testsrc_vmaf.svg"):
        assert (tmp_path / name).stat().st_size > 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert len(data["rows"]) == 4 and "bd_rate_vs_vvenc" in data["summary"]
    r = serial[0]
    assert r["codec"] == "cmvc" and 0 <= r["ms_ssim"] <= 1 and r["bits"] > 0 and 0 < r["smoothness"] <= 1
    assert summ["lowest_rate"]["testsrc"]["vvenc"] == min(x["bits"] for x in serial if x["codec"] == "vvenc")
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    B.write_outputs(serial, tmp_path)  # the same rows give byte-identical files (no date in the SVGs)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first


def test_ray_gives_the_same_results(tiny_jobs):
    ray = pytest.importorskip("ray")
    try:
        got = B.execute(tiny_jobs[:2], ray_address="local", progress=False)
    finally:
        ray.shutdown()
    assert got == B.execute(tiny_jobs[:2], workers=1, progress=False)


def test_ablation_tables(testsrc_y4m, monkeypatch, tmp_path):
    monkeypatch.setattr(B, "ABLATIONS", {"keyframe selection": [{"strategy": "uniform"}, {"strategy": "mse"}],
                                         "motion text": [{"captions": "none"}, {"captions": "motion"}]})
    monkeypatch.setattr(B, "ABLATION_BASE", {"interval": 4, "quality": 63, "fit": "none", "profile": "blend",
                                             "strategy": "uniform", "captions": "none"})
    jobs = B.ablation_jobs(B.load_dataset(str(testsrc_y4m), frames=8))
    seen = []
    rows = B.execute_cached(jobs, tmp_path / "cache.jsonl", workers=1, progress=False,
                            on_update=lambda rs: seen.append(sum(r is not None for r in rs)))
    assert seen == [2, 3, 4]  # 3 runs for 4 rows: the base variant is in both tables but runs once
    md = B.ablation_tables(rows)
    assert "## keyframe selection" in md and "strategy=mse" in md and "Partial" not in md
    assert md.count("| +0.0% | +0.00 |") == 2  # the base rows, against themselves
    text = {r["label"]: r["bits"] for r in rows}
    assert text["motion text: captions=motion"] > text["motion text: captions=none"]  # captions cost bits
    assert "Partial: 1 of 4 jobs" in B.ablation_tables([rows[0], None, None, None])


def test_results_cache_resumes(tiny_jobs, tmp_path, monkeypatch):
    cache = tmp_path / "jobs.jsonl"
    first = B.execute_cached(tiny_jobs[:2], cache, workers=1, progress=False)
    with open(cache, "a") as f:
        f.write('{"key": "cut sh')  # an interrupted write is ignored
    ran = []
    real = B.run_job
    monkeypatch.setattr(B, "run_job", lambda j: ran.append(j.label) or real(j))
    again = B.execute_cached(tiny_jobs, cache, workers=1, progress=False)
    assert again[:2] == first and ran == [j.label for j in tiny_jobs[2:]]
    assert again[2:] == B.execute(tiny_jobs[2:], workers=1, progress=False)


def test_dataset_manifest(tmp_path, testsrc_y4m):
    m = tmp_path / "set.json"
    m.write_text(json.dumps({"clips": [{"path": str(testsrc_y4m), "frames": 5, "name": "a", "resize64": True}]}))
    clips = B.load_dataset(str(m), frames=64)
    assert clips[0].name == "a" and clips[0].frames == 5
    pics, _ = B.read_clip(clips[0])
    assert len(pics) == 5 and pics[0].width % 64 == 0 and pics[0].height % 64 == 0


def test_learned_metrics_with_user_weights(tmp_path, testsrc_pics):
    """LPIPS and FID run their real implementations; weights here are random (none exist offline)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("lpips")
    from torchvision.models import alexnet, inception_v3

    from cmvc.tools.metrics import fid, lpips_distance

    torch.manual_seed(0)
    a = tmp_path / "alex.pth"
    torch.save(alexnet(weights=None).state_dict(), a)
    pics = testsrc_pics[0][:3]
    other = testsrc_pics[0][6:9]
    assert lpips_distance(pics, pics, str(a)) == pytest.approx(0.0, abs=1e-6)
    assert lpips_distance(pics, other, str(a)) > 0
    i = tmp_path / "incep.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=True).state_dict(), i)
    same, diff = fid(pics, pics, str(i)), fid(pics, other, str(i))
    assert abs(same) < 1e-4 * diff  # random weights give features ~1e9: zero up to float cancellation


def test_dists_with_user_backbone(tmp_path, testsrc_pics):
    """DISTS with a random VGG16 (none exists offline): 0 for identical frames, symmetric, positive
    otherwise; with weight only on the image stage it equals the formula computed here by hand."""
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from cmvc.colour import picture_to_rgb_float
    from cmvc.errors import CmvcError
    from cmvc.tools.metrics import DISTS_CHANNELS, VGG16_FEATURES, dists

    torch.manual_seed(0)
    convs = [c for c in VGG16_FEATURES if c != "M"]
    sd, cin, k = {}, 3, 0  # a random VGG16 backbone in torchvision's key layout (features only: 59 MB, not 528)
    for c in VGG16_FEATURES:
        if c == "M":
            k += 1
            continue
        conv = torch.nn.Conv2d(cin, c, 3, padding=1)
        sd[f"features.{k}.weight"], sd[f"features.{k}.bias"], cin, k = conv.weight.detach(), conv.bias.detach(), c, k + 2
    assert len(convs) == 13 and k == 31
    v = tmp_path / "vgg16.pth"
    torch.save(sd, v)
    n = sum(DISTS_CHANNELS)
    ab = tmp_path / "ab.safetensors"
    save_file({"alpha": torch.rand(1, n, 1, 1), "beta": torch.rand(1, n, 1, 1)}, str(ab))
    pics, other = testsrc_pics[0][:2], testsrc_pics[0][6:8]
    assert dists(pics, pics, str(v), str(ab)) == pytest.approx(0.0, abs=1e-9)
    d = dists(pics, other, str(v), str(ab))
    assert 0 < d < 1 and d == pytest.approx(dists(other, pics, str(v), str(ab)), rel=1e-9)

    a3, b3 = torch.rand(3).double(), torch.rand(3).double()
    zero = torch.zeros(n - 3).double()
    save_file({"alpha": torch.cat((a3, zero)).view(1, n, 1, 1), "beta": torch.cat((b3, zero)).view(1, n, 1, 1)}, str(ab))
    want = []
    for p, q in zip(pics, other):
        x, y = picture_to_rgb_float(p, 1, False).astype(np.float64), picture_to_rgb_float(q, 1, False).astype(np.float64)
        mx, my = x.mean((0, 1)), y.mean((0, 1))
        vx, vy, cxy = x.var((0, 1)), y.var((0, 1)), (x * y).mean((0, 1)) - mx * my
        tex, st = (2 * mx * my + 1e-6) / (mx ** 2 + my ** 2 + 1e-6), (2 * cxy + 1e-6) / (vx + vy + 1e-6)
        want.append(1 - float((a3.numpy() * tex + b3.numpy() * st).sum() / (a3.sum() + b3.sum())))
    assert dists(pics, other, str(v), str(ab)) == pytest.approx(np.mean(want), rel=1e-6)

    other_net = tmp_path / "vgg11.pth"  # VGG11's layout: its third layer is a max-pool, not a conv
    torch.save({k: v for k, v in sd.items() if not k.startswith("features.2.")}, other_net)
    with pytest.raises(CmvcError) as e:
        dists(pics, other, str(other_net), str(ab))
    assert e.value.code == "E202"


def test_frechet_distance_matches_the_full_formula():
    import numpy as np
    from scipy import linalg

    from cmvc.tools.metrics import frechet_distance

    r = np.random.default_rng(0)
    a, b = r.normal(size=(40, 6)), r.normal(1.0, 2.0, size=(30, 6))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    full = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(a, b) == pytest.approx(full, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_rate_controlled_point_with_vmaf_estimate(testsrc_y4m, monkeypatch):
    """rc_metric travels with a rate-controlled CMVC point into rate control as a VMAF scorer."""
    import cmvc.encoder.rate_control as rc

    seen = {}
    real = rc.plan

    def spy(*a, **k):
        seen.update(metric=k.get("metric"), scorer=k.get("scorer"))
        return real(*a, **k)

    monkeypatch.setattr(rc, "plan", spy)
    clips = B.load_dataset(str(testsrc_y4m), frames=8)
    job = B.make_jobs(clips, cmvc_points=[{"bpp": 0.05, "profile": "blend", "fit": "none", "rc_metric": "vmaf"}],
                      peer_points=[], temporal=False)[0]
    row = B.run_job(job)
    from cmvc.tools.metrics import vmaf_scorer

    assert seen == {"metric": "vmaf", "scorer": vmaf_scorer}
    assert row["rc_metric"] == "vmaf" and row["bits"] > 0 and "vmaf" in row


def test_encoder_speed_plot_from_a_saved_run(tmp_path):
    """benchmarks/encoder_speed.py --from RUN.json --plot: one row per clip (time against 10x, bits
    against the budget's window, VMAF and MS-SSIM against bits), PNG and the same as a
    deterministic SVG; --from without --plot is a caller error."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "encoder_speed.py"
    spec = importlib.util.spec_from_file_location("encoder_speed", script)
    es = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(es)
    pt = lambda bits, v, m, t: {"bits": bits, "bits_vs_budget": bits / 8000, "vmaf": v, "ms_ssim": m,  # noqa: E731
                                "time_vs_vvenc_slow": t}
    run = {"args": {"preset": "model", "reference": "exhaustive"},
           "clips": {"a.mp4": {"frames": 12, "size": "176x144", "vvenc_slow_qp63_bits": 8000,
                               "points": {"0.5": pt(3900, 30.0, 0.90, 7.5), "1.0": pt(7700, 60.0, 0.95, 12.0)},
                               "reference": {"0.5": pt(4000, 31.0, 0.91, 90.0), "1.0": pt(7900, 61.0, 0.96, 99.0)},
                               "bd_rate_vmaf_vs_exhaustive": 2.5, "bd_rate_ms_ssim_vs_exhaustive": -1.0}}}
    files = es.plot(run, tmp_path / "speed.png")
    assert [f.suffix for f in files] == [".png", ".svg"] and all(f.stat().st_size > 1000 for f in files)
    svg = files[1].read_text()
    assert "BD-rate vs exhaustive +2.5 %" in svg and "a (12 frames, 176x144)" in svg
    assert es.plot(run, tmp_path / "again.png")[1].read_text() == svg
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(run))
    r = subprocess.run([sys.executable, str(script), "--from", str(saved)], capture_output=True, text=True)
    assert r.returncode == 2 and "--from needs --plot" in r.stderr and "Traceback" not in r.stderr


def test_rate_model_ab_alternates_variants(tmp_path):
    """benchmarks/rate_model_ab.py: each variant of rate_model's constants planned in turn in one
    process, its plan and time against vvenc slow in the JSON; a variant naming no constant of
    rate_model is a caller error (exit 2)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "rate_model_ab.py"
    out = tmp_path / "ab.json"
    r = subprocess.run([sys.executable, str(script), "--clip", "carphone_pristine.mp4", "--frames", "6", "--targets", "1",
                        "--plan-only", "--json", str(out), "--", "base", "FILL=0,SPREAD=2.0"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    run = json.loads(out.read_text())
    assert set(run["runs"]) == {"base", "FILL=0,SPREAD=2.0"}
    for v in run["runs"].values():
        (p,) = v["1.0"]
        assert p["plan"].startswith("vvc ") and p["time_vs_vvenc_slow"] > 0 and p["predicted_bits"] <= p["budget"]
    r = subprocess.run([sys.executable, str(script), "--clip", "x.mp4", "--", "base", "NOT_A_KNOB=1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "NOT_A_KNOB" in r.stderr and "Traceback" not in r.stderr
