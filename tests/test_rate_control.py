"""cmvc.encoder.rate_control: operating points that fit a bit budget, chosen by estimated quality."""
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmvc.encoder.pipeline import EncoderConfig, encode
from cmvc.errors import CmvcError
from cmvc.keyframes import Colour
from cmvc.parse import parse
from cmvc.quality import ms_ssim_y
from cmvc.encoder.rate_control import _Trials, estimate_quality, first_fitting, plan


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from conftest import make_testsrc

    from cmvc.tools.video import read_video

    return read_video(make_testsrc(tmp_path_factory.mktemp("rc") / "t.y4m", 96, 64, 24))[0]


@given(st.integers(1, 60), st.data())
def test_first_fitting_finds_the_threshold(n, data):
    """Binary and galloping search give the first index that fits; a near hint needs few calls."""
    t = data.draw(st.integers(0, n))  # fits(i) <=> i >= t; t = n: nothing fits
    hint = data.draw(st.none() | st.integers(-2, n + 2))
    calls = []

    def fits(i):
        assert 0 <= i < n
        calls.append(i)
        return i >= t

    assert first_fitting(fits, n, hint) == (None if t == n else t)
    if hint is not None and 0 <= hint < n:
        d = abs(t - hint) + 1
        assert len(calls) <= 2 * d.bit_length() + 3


def test_plan_fits_and_takes_the_best_estimate(clip):
    cfg = EncoderConfig(profile="blend", fit="none")
    budget = 8 * 1400
    p = plan(clip, cfg, budget, downscales=(1, 2))
    assert {c.downscale for c in p.candidates} == {1, 2}
    fitting = [c for c in p.candidates if c.predicted_bytes * 8 <= budget]
    assert fitting and all(c.score is not None for c in fitting)
    assert p.score == max(c.score for c in fitting)
    assert 8 * p.predicted_bytes <= budget
    res = encode(clip, p.apply(cfg))
    assert 8 * len(res.data) <= budget * 1.05
    sh = parse(res.data).sequence_header
    assert (sh.coded_width, sh.coded_height) == (-(-96 // p.downscale), -(-64 // p.downscale))
    assert len(res.keyframes) == len(set(res.keyframes))


def test_plan_reports_progress(clip):
    """advance counts the (codec, size, strategy) searches and the refinement from 0 to all of them;
    progress gets a line for every candidate scored."""
    steps, lines = [], []
    p = plan(clip, EncoderConfig(profile="blend", fit="none"), 8 * 700, downscales=(2,),
             strategies=("feature", "uniform"), advance=lambda k, n: steps.append((k, n)), progress=lines.append)
    assert steps == [(k, 3) for k in range(4)]
    scored = [c for c in p.candidates if c.score is not None]
    assert len(lines) == len(scored) >= 2
    assert all(f"{c.keyframes} keyframes (interval {c.interval}), quality {c.quality}: {8 * c.predicted_bytes} bits" in x
               for c, x in zip(scored, lines))


def test_pruned_search_skips_larger_sizes_once_the_estimate_falls(clip, monkeypatch):
    """Pruning walks the coded sizes from the smallest up, every strategy at each, and stops at the
    first fall of the best estimate; the exhaustive search runs every combination."""
    import cmvc.encoder.rate_control as rc

    scores = {(4, "feature"): 0.80, (4, "uniform"): 0.50, (2, "feature"): 0.60, (2, "uniform"): 0.79,
              (1, "feature"): 0.95, (1, "uniform"): 0.10}  # best per size: 0.80, 0.79 (falls), 0.95

    def fake_estimate(src, tr, n, quality, metric="ms-ssim", net=None, scorer=None):
        return scores[(tr.downscale, tr.cfg.strategy)] + 1e-4 * n

    monkeypatch.setattr(rc, "estimate_quality", fake_estimate)
    cfg = EncoderConfig(profile="blend", fit="none")
    runs = {}
    for prune in (True, False):
        steps: list = []
        p = plan(clip, cfg, 8 * 1500, downscales=(1, 2, 4), strategies=("feature", "uniform"), prune=prune,
                 advance=lambda k, n: steps.append((k, n)))
        runs[prune] = p, {(c.downscale, c.strategy) for c in p.candidates}, steps
    p, searched, steps = runs[True]
    assert searched == {(4, "feature"), (4, "uniform"), (2, "feature"), (2, "uniform")}
    assert (p.downscale, p.strategy) == (4, "feature")
    assert steps == [(0, 7), (1, 7), (2, 7), (3, 7), (4, 5), (5, 5)]  # full size's 2 searches dropped
    full, fsearched, fsteps = runs[False]
    assert fsearched == set(scores)
    assert fsteps == [(k, 7) for k in range(8)]
    assert (full.downscale, full.strategy) == (1, "feature")  # what pruning gives up when estimates are not unimodal


def test_estimate_follows_quality_and_predicts_the_encode(clip):
    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    tr = _Trials(clip, cfg, 1, Colour())
    n = tr.count(4)
    tr.bytes(n, 20), tr.bytes(n, 63)
    good, bad = estimate_quality(clip, tr, n, 20), estimate_quality(clip, tr, n, 63)
    assert good > bad
    real = ms_ssim_y(encode(clip, dataclasses.replace(cfg, interval=4, quality=20)).decoded, clip)
    assert abs(good - real) < 0.05
    assert estimate_quality(clip, tr, n, 20, metric="psnr") > estimate_quality(clip, tr, n, 63, metric="psnr")


def test_pruned_search_walks_from_the_last_best_interval(clip, monkeypatch):
    """After the first search, a walk starts at the best candidate's interval, goes up until the
    estimate has fallen twice, then down likewise: the small intervals (the slowest trials) far
    below a peak are not tried.  Without pruning every walk starts at the smallest that fits."""
    import math

    import cmvc.encoder.rate_control as rc

    monkeypatch.setattr(rc, "estimate_quality",  # peak at interval 6 (5 keyframes) for both strategies
                        lambda src, tr, n, *a, **k: -abs(math.log2(n) - math.log2(tr.count(6))))
    monkeypatch.setattr(rc, "REFINE", 1)  # the walks only: the tie's first search (feature) is refined
    cfg = EncoderConfig(profile="blend", fit="none")
    visited = {}
    for prune in (True, False):
        p = plan(clip, cfg, 8 * 3000, strategies=("feature", "uniform"), prune=prune)
        visited[prune] = [c.interval for c in p.candidates if c.strategy == "uniform"]
        assert p.interval == 6
    assert visited[True] == [6, 8, 12, 4, 3]
    assert visited[False][:2] == [1, 2] and 6 in visited[False]


def test_estimate_scores_a_subset_of_large_videos(clip, monkeypatch):
    """Beyond SCORED_PIXELS every k-th keyframe and segment is scored, weighted by what it stands
    for: fewer frames scored, nearly the same estimate."""
    import cmvc.encoder.rate_control as rc

    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    tr = _Trials(clip, cfg, 1, Colour())
    n = tr.count(2)
    tr.bytes(n, 30)
    scored: list[int] = []
    import cmvc.quality
    real = cmvc.quality.ms_ssim_frames

    def counting(a, b):
        scored.append(len(a))
        return real(a, b)

    monkeypatch.setattr(cmvc.quality, "ms_ssim_frames", counting)  # estimate_quality imports it when called
    whole = estimate_quality(clip, tr, n, 30)
    monkeypatch.setattr(rc, "SCORED_PIXELS", 6 * 96 * 64)
    part = estimate_quality(clip, tr, n, 30)
    assert scored[0] == len(clip)  # interval 2: 12 keyframes and 11 one-frame segments (the last spans 2)
    assert scored[1] <= 6 + 1 and scored[1] < scored[0]
    assert abs(part - whole) < 0.03


def test_estimate_samples_inner_frames_by_picture_size(clip, monkeypatch):
    """Small pictures: every inner frame is reconstructed and scored; beyond DENSE_PIXELS one per 2,
    4 or 8 inner frames of a segment (the sub-range's middle frame standing for it)."""
    import cmvc.quality
    import cmvc.encoder.rate_control as rc

    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    tr = _Trials(clip, cfg, 1, Colour())
    n = tr.count(12)  # 3 keyframes, 2 segments of 10 and 11 inner frames
    tr.bytes(n, 30)
    scored: list[int] = []
    real = cmvc.quality.ms_ssim_frames
    monkeypatch.setattr(cmvc.quality, "ms_ssim_frames", lambda a, b: scored.append(len(a)) or real(a, b))
    dense = estimate_quality(clip, tr, n, 30)
    px = 96 * 64 * (len(clip) - n)  # output pixels of the inner frames
    for limit, frames in ((px, len(clip)), (px // 2, n + 5 + 6), (px // 4, n + 2 + 3), (px // 5, n + 1 + 1)):
        monkeypatch.setattr(rc, "DENSE_PIXELS", limit)
        sparse = estimate_quality(clip, tr, n, 30)
        assert scored[-1] == frames
    assert scored[0] == len(clip) and dense != sparse


def test_plan_without_estimate_prefers_interval_8(clip):
    cfg = EncoderConfig(profile="blend", fit="none")
    p = plan(clip, cfg, 8 * 3000, evaluate=False)
    assert p.score is None and p.downscale == 1
    assert p.interval <= 8 and 8 * p.predicted_bytes <= 8 * 3000


def test_plan_tiny_budget_gives_fewest_bits(clip):
    p = plan(clip, EncoderConfig(profile="blend", fit="none"), 8, downscales=(1,))
    assert p.predicted_bytes == min(c.predicted_bytes for c in p.candidates)
    assert p.interval == len(clip) - 1


def test_plan_bad_arguments(clip):
    with pytest.raises(CmvcError) as e:
        plan(clip, EncoderConfig(), 1e4, metric="vmaf")
    assert e.value.code == "E101"
    with pytest.raises(CmvcError) as e:
        plan(clip, EncoderConfig(codec="png"), 1e4)
    assert e.value.code == "E101"


def test_scorer_sees_the_whole_reconstruction_and_drives_the_choice(clip):
    """A sequence scorer gets every frame of the candidate's decode, in order, and its ranking decides."""
    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    calls = []

    def psnr_scorer(dist, ref):
        assert len(dist) == len(ref) == len(clip) and all(r is s for r, s in zip(ref, clip))
        calls.append(len(dist))
        from cmvc.quality import psnr_y
        return psnr_y(dist, ref)

    tr = _Trials(clip, cfg, 1, Colour())
    tr.bytes(tr.count(4), 30)
    real = encode(clip, dataclasses.replace(cfg, interval=4, quality=30)).decoded
    from cmvc.quality import psnr_y
    assert estimate_quality(clip, tr, tr.count(4), 30, scorer=psnr_scorer) == pytest.approx(psnr_y(real, clip), abs=0.05)  # w_bits of the prediction differ

    # a scorer that prefers wide spacing makes the plan take the widest interval it tried
    p = plan(clip, cfg, 8 * 1400, metric="spacing", scorer=lambda d, r: -sum(
        int((a.y != b.y).any()) for a, b in zip(d, r)))
    assert calls and p.score is not None
    tried = [c for c in p.candidates if c.score is not None]
    assert p.score == max(c.score for c in tried)


def test_vmaf_scorer_ranks_quality(clip):
    from cmvc.tools.metrics import vmaf_scorer

    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    tr = _Trials(clip, cfg, 1, Colour())
    n = tr.count(4)
    tr.bytes(n, 20), tr.bytes(n, 63)
    assert estimate_quality(clip, tr, n, 20, scorer=vmaf_scorer) > estimate_quality(clip, tr, n, 63, scorer=vmaf_scorer)


def test_plan_compares_strategies(clip):
    cfg = EncoderConfig(profile="blend", fit="none")
    p = plan(clip, cfg, 8 * 1400, strategies=("feature", "uniform"))
    assert {c.strategy for c in p.candidates} == {"feature", "uniform"}
    assert p.apply(cfg).strategy == p.strategy
    assert p.score == max(c.score for c in p.candidates if c.score is not None and 8 * c.predicted_bytes <= 8 * 1400)


@pytest.mark.parametrize("interval", [4, 23])
def test_prediction_covers_the_fitted_weights(clip, interval):
    """The plan's size includes an allowance for the interpolation-parameter units the w fit writes."""
    cfg = EncoderConfig(profile="blend", fit="exhaustive", strategy="uniform")
    tr = _Trials(clip, cfg, 1, Colour())
    predicted = tr.bytes(tr.count(interval), 40)
    res = encode(clip, dataclasses.replace(cfg, interval=interval, quality=40))
    assert predicted - 7 * len(clip) // 8 <= len(res.data) <= predicted  # 7 bits per inner frame at most


def test_plan_compares_codecs(clip):
    """VVC keyframes reach lower rates than AV1's coarsest CRF; rate control compares both by estimate
    (vvenc at its fastest preset: the comparison, not the effort, is tested)."""
    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform", vvc_preset="faster")
    p = plan(clip, cfg, 8 * 1400, codecs=("av1", "vvc"))
    assert {c.codec for c in p.candidates} == {"av1", "vvc"}
    assert p.score == max(c.score for c in p.candidates if c.score is not None and 8 * c.predicted_bytes <= 8 * 1400)
    out = p.apply(cfg)
    assert out.codec == p.codec and out.quality == p.quality
    res = encode(clip, out)
    assert abs(len(res.data) - p.predicted_bytes) <= 8 and {u.body.codec_id.name.lower() for u in
                                                              parse(res.data).units if hasattr(u.body, "codec_id")} == {p.codec}
    lowest = {c: min(x.predicted_bytes for x in plan(clip, cfg, 8, codecs=(c,)).candidates) for c in ("av1", "vvc")}
    assert lowest["vvc"] < lowest["av1"]


def test_cache_shares_trials_across_targets_without_changing_plans(clip, monkeypatch):
    """Plans for several targets with one cache: the same plans as without it, in any order, with
    fewer trial encodes and estimates; a cache made for other inputs is refused."""
    import cmvc.encoder.rate_control as R

    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    budgets = [8 * 900, 8 * 1400, 8 * 2200]
    fresh = [plan(clip, cfg, b, downscales=(1, 2)) for b in budgets]
    estimates = []
    real = R.estimate_quality
    monkeypatch.setattr(R, "estimate_quality", lambda *a, **k: estimates.append(1) or real(*a, **k))
    for order in (budgets, budgets[::-1]):
        cache: dict = {}
        got = {b: plan(clip, cfg, b, downscales=(1, 2), cache=cache) for b in order}
        for b, f in zip(budgets, fresh):
            g = got[b]
            assert (g.codec, g.downscale, g.strategy, g.interval, g.quality, g.predicted_bytes, g.score) == \
                   (f.codec, f.downscale, f.strategy, f.interval, f.quality, f.predicted_bytes, f.score)
            assert [(c.downscale, c.interval, c.quality, c.score) for c in g.candidates] == \
                   [(c.downscale, c.interval, c.quality, c.score) for c in f.candidates]
        assert sum(got[b].trials for b in budgets) < sum(f.trials for f in fresh)
        n = len(estimates)
        again = plan(clip, cfg, budgets[1], downscales=(1, 2), cache=cache)  # nothing new to encode or score
        assert again.trials == 0 and len(estimates) == n and again.score == fresh[1].score
    with pytest.raises(ValueError):
        plan(clip[:-1], cfg, budgets[0], cache=cache)
    with pytest.raises(ValueError):
        plan(clip, dataclasses.replace(cfg, w_bits=3), budgets[0], cache=cache)


def test_plan_with_interp_shares_the_segment_costs(clip, monkeypatch):
    """Strategy interp's segment costs are computed once per pictures and reused by every interval,
    by later plans and by the final encode."""
    import cmvc.encoder.keyframe_select as K

    made = []
    real = K.InterpolationCost
    monkeypatch.setattr(K, "InterpolationCost", lambda *a, **k: made.append(1) or real(*a, **k))
    monkeypatch.setattr(K, "_COSTS", type(K._COSTS)())
    cfg = EncoderConfig(profile="blend", fit="none")
    p = plan(clip, cfg, 8 * 1400, strategies=("uniform", "interp"))
    assert {c.strategy for c in p.candidates} == {"uniform", "interp"}
    plan(clip, cfg, 8 * 2000, strategies=("interp",))
    res = encode(clip, dataclasses.replace(cfg, strategy="interp", interval=6))
    assert len(made) == 1
    cost = K.interpolation_cost(clip, "blend")
    assert res.keyframes == K.min_cost_keyframes(len(clip), len(res.keyframes), cost, K.max_gap(len(clip), len(res.keyframes)))


def test_cli_bpp_reports_the_plan(tmp_path, capsys):
    import json

    from conftest import make_testsrc

    from cmvc.tools.cli import main

    src = make_testsrc(tmp_path / "s.y4m", 96, 64, 16)
    target_bpp = 8 * 1200 / (96 * 64 * 16)
    assert main(["encode", str(src), "-o", str(tmp_path / "o.cmvc"), "--bpp", str(target_bpp), "--profile", "blend",
                 "--fit", "none", "--verbose", "--json", "--vvc-preset", "faster", "--rc-preset", "full"]) == 0  # fast vvenc
    cap = capsys.readouterr()
    rep = json.loads(cap.out)
    assert rep["achieved_vs_target"] <= 1.05
    assert "rate control:" in cap.err and "estimated ms-ssim" in cap.err
    assert rep["settings"]["strategy"] in ("feature", "uniform", "interp") and rep["settings"]["downscale"] in (1, 2)
    assert "rate control: vvc interp" in cap.err  # no --strategy: rate control compared the three
    assert rep["settings"]["codec"] in ("av1", "vvc")  # no --codec: rate control compared both
    assert f"rate control: {rep['settings']['codec']} keyframes" in cap.err and "rate control: vvc uniform" in cap.err


def test_cli_shows_rate_control_progress(tmp_path, monkeypatch, capsys):
    """On a terminal (bars forced here) rate control has a bar counting its searches, with the last
    scored candidate after it; without --verbose no candidate lines are printed."""
    from conftest import make_testsrc

    from cmvc.tools import commands
    from cmvc.tools.cli import main

    monkeypatch.setattr(commands.Progress, "__init__", lambda self, enabled=True: (
        setattr(self, "enabled", True), setattr(self, "bars", {}))[0])
    src = make_testsrc(tmp_path / "s.y4m", 96, 64, 12)
    assert main(["encode", str(src), "-o", str(tmp_path / "o.cmvc"), "--bpp", str(8 * 1200 / (96 * 64 * 12)),
                 "--profile", "blend", "--fit", "none", "--codec", "av1", "--downscale", "1", "--rc-preset", "full"]) == 0
    err = capsys.readouterr().err
    assert "rate control: " in err and "4/4" in err and "step" in err  # feature, uniform, interp, refinement
    assert "estimated ms-ssim" in err  # a candidate after the bar
    assert "\nrate control: av1 feature keyframes" not in err  # no --verbose: not as lines of their own


@pytest.mark.parametrize("flag", [[], ["--rc-exhaustive"]])
def test_cli_prunes_unless_exhaustive(tmp_path, monkeypatch, flag):
    """cmvc encode --bpp prunes rate control's searches; --rc-exhaustive turns that off."""
    from conftest import make_testsrc

    import cmvc.encoder.rate_control as rc
    from cmvc.tools.cli import main

    seen = {}
    real = rc.plan

    def spy(*a, **k):
        seen.update(k)
        return real(*a, **k)

    monkeypatch.setattr(rc, "plan", spy)
    src = make_testsrc(tmp_path / "s.y4m", 96, 64, 12)
    assert main(["encode", str(src), "-o", str(tmp_path / "o.cmvc"), "--bpp", str(8 * 1200 / (96 * 64 * 12)),
                 "--profile", "blend", "--fit", "none", "--codec", "av1", "--downscale", "1", "--strategy", "uniform",
                 *flag]) == 0
    assert seen["prune"] is (not flag)


@pytest.mark.parametrize("flags,codecs,strategies,vvc_preset", [
    (["--rc-preset", "fast"], ("vvc",), ("feature", "uniform"), "medium"),
    (["--rc-preset", "fast", "--vvc-preset", "fast"], ("vvc",), ("feature", "uniform"), "fast"),
    (["--rc-preset", "full"], ("av1", "vvc"), ("feature", "uniform", "interp"), "slow"),
    (["--rc-preset", "exhaustive"], ("av1", "vvc"), ("feature", "uniform", "interp"), "slow"),
    (["--rc-preset", "model"], ("vvc",), ("uniform", "feature"), "slow"),
    ([], ("vvc",), ("uniform", "feature"), "slow"),  # model, the default
])
def test_cli_rc_preset_sets_the_search_and_vvenc_preset(tmp_path, monkeypatch, flags, codecs, strategies, vvc_preset):
    """cmvc encode --rc-preset chooses what rate control compares (cmvc.encoder.rate_control.RC_PRESETS) and
    vvenc's preset, for the trial encodes and the encode itself; --vvc-preset overrides the latter.
    (The plan itself is stubbed: the preset's arguments are what is checked, and the encode's.)"""
    from conftest import make_testsrc

    import cmvc.encoder.rate_control as rc
    from cmvc.encoder import memo
    from cmvc.keyframes import vvc
    from cmvc.tools.cli import main

    seen, presets = {}, []

    def spy(pics, cfg, target, **k):
        seen.update(k, vvc_preset=cfg.vvc_preset)
        return rc.RatePlan(6, 50, 0, 0, 1, None, [], "uniform", "vvc", 3)

    real = vvc._vvenc
    monkeypatch.setattr(rc, "plan", spy)
    monkeypatch.setattr(vvc, "_vvenc", lambda *a: (presets.append(a[4]), real(*a))[1])
    monkeypatch.setattr(memo, "_MEMO", type(memo._MEMO)())  # no trial encode of an earlier case to reuse
    src = make_testsrc(tmp_path / "s.y4m", 96, 64, 12)
    assert main(["encode", str(src), "-o", str(tmp_path / "o.cmvc"), "--bpp", "0.1", "--profile", "blend",
                 "--fit", "none", *flags]) == 0
    assert seen["codecs"] == codecs and seen["strategies"] == strategies and seen["downscales"] == rc.DOWNSCALES
    assert seen["vvc_preset"] == vvc_preset and presets == [vvc_preset]  # the encode's one vvenc run
    fast = "fast" in flags
    assert (seen["refine"], seen["shot_refine"]) == ((1, 1) if fast else (None, None))
    model = "model" in flags or not flags  # the default
    assert seen["method"] == ("model" if model else "search") and seen["prune"] is ("exhaustive" not in flags)


def test_plan_refine_arguments_override_the_module_defaults(clip, monkeypatch):
    """plan(refine=0) skips the keyframe-count refinement that REFINE would run (the fast preset
    refines 1 search instead of REFINE)."""
    import cmvc.encoder.rate_control as rc

    monkeypatch.setattr(rc, "estimate_quality", lambda src, tr, n, *a, **k: -abs(n - 11))
    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    p = plan(clip, cfg, 8 * 3000, refine=0)
    assert [c.keyframes for c in p.candidates if c.score is not None] == [24, 13, 9, 7] and p.keyframes == 13
    assert plan(clip, cfg, 8 * 3000, refine=1).keyframes == 11


def test_rc_presets_name_known_codecs_strategies_and_presets():
    from cmvc.encoder.keyframe_select import STRATEGIES
    from cmvc.keyframes import CODEC_NAMES, vvc
    from cmvc.encoder.rate_control import DOWNSCALES, RC_CODECS, RC_PRESETS, RC_STRATEGIES

    assert RC_PRESETS["full"].codecs == RC_CODECS and RC_PRESETS["full"].strategies == RC_STRATEGIES
    for sp in RC_PRESETS.values():
        assert set(sp.codecs) <= set(CODEC_NAMES) and set(sp.strategies) <= set(STRATEGIES)
        assert set(sp.downscales) <= set(DOWNSCALES) and sp.vvc_preset in vvc.PRESETS


def test_refinement_tries_counts_between_the_ladder_steps(clip, monkeypatch):
    """After the searches, the best candidate's keyframe count is refined between the counts of the
    ladder intervals next to it, walking down then up until the estimate has fallen twice; the plan
    carries the count and the encode has that many keyframes, at the predicted size."""
    import cmvc.encoder.rate_control as rc

    monkeypatch.setattr(rc, "estimate_quality", lambda src, tr, n, *a, **k: -abs(n - 11))  # peak off the ladder
    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    budget = 8 * 3000
    p = plan(clip, cfg, budget)
    ladder = [c.keyframes for c in p.candidates if c.score is not None][:4]
    assert ladder == [24, 13, 9, 7]  # intervals 1, 2, 3, 4: the walk stops once fallen twice
    refined = [c.keyframes for c in p.candidates if c.score is not None][4:]
    assert refined == [12, 11, 10, 14, 15]  # down from 13 to the next ladder count (9), then up
    assert p.keyframes == 11 and p.score == 0 and 8 * p.predicted_bytes <= budget
    assert all(c.interval == round(23 / (c.keyframes - 1)) for c in p.candidates[-5:])
    res = encode(clip, p.apply(cfg))
    assert len(res.keyframes) == 11 and abs(len(res.data) - p.predicted_bytes) <= 8
    monkeypatch.setattr(rc, "REFINE", False)
    assert plan(clip, cfg, budget).keyframes == 13


def test_refinement_of_the_next_best_searches(clip, monkeypatch):
    """The best candidate of each of the REFINE best searches is refined, not only the overall best's:
    a count off the ladder of the second search can win."""
    import cmvc.encoder.rate_control as rc

    def est(src, tr, n, *a, **k):
        if tr.cfg.strategy == "uniform":  # the best on the ladder (13 keyframes), nothing better around it
            return 0.5 if n == 13 else 0.0
        return 0.6 - 0.1 * abs(n - 11)  # random: 0.4 on the ladder (13, 9), 0.6 at 11

    monkeypatch.setattr(rc, "estimate_quality", est)
    cfg = EncoderConfig(profile="blend", fit="none")
    budget = 8 * 3000
    monkeypatch.setattr(rc, "REFINE", 1)
    one = plan(clip, cfg, budget, strategies=("uniform", "random"))
    assert (one.strategy, one.keyframes, one.score) == ("uniform", 13, 0.5)
    monkeypatch.setattr(rc, "REFINE", 2)
    two = plan(clip, cfg, budget, strategies=("uniform", "random"))
    assert (two.strategy, two.keyframes) == ("random", 11) and two.score == pytest.approx(0.6)
    assert 8 * two.predicted_bytes <= budget


def test_trials_the_encoder_cannot_make_are_skipped(clip, monkeypatch):
    """A keyframe encode that fails with E203 (vvenc 1.15 returns no pictures for some inputs) makes
    that trial not fit: rate control goes on without it; other errors still propagate."""
    import cmvc.encoder.rate_control as rc
    import cmvc.encoder.trials as trials
    from cmvc.errors import error

    real = trials.get_codec

    class Flaky:
        def __init__(self, codec):
            self.codec = real(codec)

        def encode(self, pictures, quality, colour=None):
            if len(pictures) == 9:
                raise error("E203", "vvenc produced 0 access units for 9 keyframes")
            return self.codec.encode(pictures, quality, colour)

    monkeypatch.setattr(trials, "get_codec", Flaky)
    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform")
    monkeypatch.setattr(rc, "estimate_quality", lambda src, tr, n, *a, **k: -abs(n - 9))  # the best count fails
    p = plan(clip, cfg, 8 * 3000)
    assert p.keyframes != 9 and all(c.keyframes != 9 for c in p.candidates if c.score is not None)
    tr = rc._Trials(clip, cfg, 1, Colour())
    assert tr.bytes(9, 30) == rc.UNAVAILABLE and "E203" in tr.failed[(9, 30)]

    class Broken(Flaky):
        def encode(self, pictures, quality, colour=None):
            raise error("E101", "bad argument")

    monkeypatch.setattr(trials, "get_codec", Broken)
    with pytest.raises(CmvcError) as e:
        plan(clip, cfg, 8 * 3000)
    assert e.value.code == "E101"


def test_refine_shots_spends_the_rest_on_a_shot(monkeypatch):
    """VVC keyframes across a shot cut: after the search, the chosen candidate's shots get finer QPs one
    step at a time while one fits and the estimate rises; the encode gives the predicted size."""
    import cmvc.encoder.rate_control as rc
    from test_keyframes import two_shot_pictures

    pics = two_shot_pictures(96, 64, 16, 8)
    cfg = EncoderConfig(profile="blend", fit="none", strategy="uniform", codec="vvc", vvc_preset="faster")
    monkeypatch.setattr(rc, "SHOT_REFINE", 0)
    base = plan(pics, cfg, 8 * 2200)
    assert isinstance(base.quality, int)
    tr = _Trials(pics, cfg, 1, Colour())
    n, q = base.keyframes, base.quality
    one = min(tr.bytes(n, (q - 1, q)), tr.bytes(n, (q, q - 1)))
    assert tr.bytes(n, q) < one < tr.bytes(n, q - 1)
    monkeypatch.setattr(rc, "SHOT_REFINE", 3)
    budget = 8 * one  # room for one shot one step finer, not for both
    p = plan(pics, cfg, budget)
    shots = [c for c in p.candidates if isinstance(c.quality, tuple)]
    assert shots and all(8 * c.predicted_bytes <= budget for c in shots)
    if isinstance(p.quality, tuple):
        assert p.score > max(c.score for c in p.candidates if isinstance(c.quality, int) and c.score is not None
                             and 8 * c.predicted_bytes <= budget)
        assert len(p.quality) == 2
    res = encode(pics, p.apply(cfg))
    assert p.predicted_bytes - 8 <= len(res.data) <= p.predicted_bytes  # fixed_bytes allows for a longer frame rate
    if isinstance(p.quality, tuple):
        assert res.settings["quality"] == p.quality


@pytest.mark.parametrize("flags,fit", [
    (["--rc-preset", "model"], "descend"),
    (["--rc-preset", "model", "--fit", "exhaustive"], "exhaustive"),
    (["--rc-preset", "full"], "exhaustive"),
    (["--rc-preset", "exhaustive", "--fit", "search"], "search"),
])
def test_rc_preset_sets_the_fit_unless_given(flags, fit):
    """The model preset's encode fits the weights with ``descend`` (the exhaustive fit's choice where J
    has one minimum, at fewer reconstructions); --fit overrides any preset; the searches keep exhaustive."""
    from cmvc.tools.cli import build_parser
    from cmvc.tools.commands import _encoder_config, _rate_control_options

    args = build_parser().parse_args(["encode", "in.y4m", "-o", "o.cmvc", "--bpp", "0.01", *flags])
    cfg, rc = _rate_control_options(args, _encoder_config(args))
    assert cfg.fit == fit and rc is not None
