"""Rate control: choose the keyframe codec, coded size, keyframe strategy, spacing and quality for a bit budget.

Not normative (how it works: docs/encoder.md; measurements behind its constants: docs/experiments.md
§1).  Keyframes carry nearly all the bits, so trial-encoding only the keyframes predicts the size of a
stream to a few bytes (:func:`fixed_bytes` adds the rest).  For every search (keyframe codec x coded
size x selection strategy) and keyframe interval of a ladder, a binary search finds the best quality
whose keyframes fit the budget; the candidates that fit are compared by an estimate of the decoded
quality (:func:`estimate_quality`: decoded keyframes and reconstructed inner frames at fitted
weights, §7.4-7.5, upsampled by §7.8, scored by MS-SSIM, PSNR or a sequence scorer such as VMAF).
Each interval walk stops when the estimate has fallen twice.  ``prune=True`` (the default) skips
larger coded sizes once the estimate falls and starts each walk at the best interval so far;
``prune=False`` (``cmvc encode --rc-exhaustive``) searches every combination.  The best searches are
then refined (keyframe counts between ladder steps, ``REFINE``; a QP per shot, ``SHOT_REFINE``).
:data:`RC_PRESETS` name what is searched (``full``, ``fast``).  ``evaluate=False`` skips the estimate
(for profiles too slow to sample, such as SD_LORA): the interval closest to 8 frames that fits is
taken.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from ..errors import error
from ..keyframes import CODEC_NAMES, Colour, decode_keyframes
from .trials import (UNAVAILABLE, UNIT_FRAMING, Candidate, RatePlan, _qualities, _Trials,  # noqa: F401
                     check_downscales, first_fitting, fixed_bytes, keyframe_bytes, searched, unit_framing)

# Keyframe intervals tried (finer steps did not pay: docs/experiments.md §1.3).
LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
# After the searches, the best candidate of each of the REFINE best searches is refined: keyframe
# counts between those of its neighbouring ladder intervals (the ladder's coarse steps leave bits
# unspent at the best quality that fits; docs/experiments.md §1.4).
REFINE = 3  # searches (codec x coded size x strategy) whose best candidate is refined so (0: none)
# Then, for VVC keyframes across shot cuts (one coded video sequence per shot, each with its own QP,
# :mod:`cmvc.keyframes.vvc`), the shots of the SHOT_REFINE best candidates with distinct keyframes get
# finer QPs, one step at a time, while one fits and the estimate rises (``refine_shots``; docs/experiments.md §1.5).
SHOT_REFINE = 3  # candidates refined so: the best fitting ones of distinct keyframe sets (0: none)
METRICS = ("ms-ssim", "psnr")
Scorer = Callable[[list, list], float]  # (decoded pictures, source pictures) -> quality, higher is better
SAMPLE_SPACING = 8  # one reconstructed inner frame is scored per this many inner frames of a segment
# ... or per 1, 2 or 4 of them, the smallest whose samples stay within this many output pixels: a
# sparse sample favours dense keyframes (docs/experiments.md §1.6).
DENSE_PIXELS = 4 << 20
# At most this many output pixels are scored per estimate: beyond it every k-th keyframe and segment
# is scored, each weighted by the frames it stands for (docs/experiments.md §1.6).
SCORED_PIXELS = 24 << 20
# Coded sizes the tools let rate control choose from (1/downscale of the output size; quarter size
# pays on fast motion at the lowest rates: docs/experiments.md §1.7).
DOWNSCALES = (1, 2, 4)
# Keyframe codecs and strategies rate control compares unless told otherwise (cmvc encode --bpp/--kbps,
# cmvc demo, cmvc bench, benchmarks/rd_vs_peers.py; docs/experiments.md §1.8).
RC_CODECS = ("av1", "vvc")
RC_STRATEGIES = ("feature", "uniform", "interp")


@dataclasses.dataclass(frozen=True)
class SearchPreset:
    """What rate control searches when the caller names no codec, strategy or size (see the module
    docstring): the keyframe codecs, strategies and coded sizes it compares, vvenc's preset for VVC
    keyframes (trial encodes and the encode itself), and how many searches and candidates it refines
    (``refine`` as REFINE, ``shot_refine`` as SHOT_REFINE; None: those); ``fit``: the encode's weight
    fit when the caller sets none (None: the encoder's default)."""
    codecs: tuple[str, ...]
    strategies: tuple[str, ...]
    downscales: tuple[int, ...]
    vvc_preset: str
    refine: int | None = None
    shot_refine: int | None = None
    method: str = "search"  # "search" (this module) or "model" (cmvc.encoder.rate_model: no search)
    prune: bool = True
    fit: str | None = None
    fallback_codecs: tuple[str, ...] = ()  # the model's codecs below its codecs' reach (rate_model.model_plan)

    def plan_options(self) -> dict:
        """The keyword arguments of :func:`plan` this preset sets besides codecs, strategies and sizes
        (``fallback_codecs``: leave it out when the caller names the codec)."""
        return dict(refine=self.refine, shot_refine=self.shot_refine, method=self.method, prune=self.prune,
                    fallback_codecs=self.fallback_codecs)


RC_PRESETS = {
    # model the clip, then encode and score a few candidates (cmvc.encoder.rate_model; docs/encoder.md)
    "model": SearchPreset(("vvc",), ("uniform", "feature"), DOWNSCALES, "slow", method="model", fit="descend",
                          fallback_codecs=("av1",)),
    # the searches: every combination (the reference the model is measured against), pruned, fewer
    "exhaustive": SearchPreset(RC_CODECS, RC_STRATEGIES, DOWNSCALES, "slow", prune=False),
    "full": SearchPreset(RC_CODECS, RC_STRATEGIES, DOWNSCALES, "slow"),
    "fast": SearchPreset(("vvc",), ("feature", "uniform"), DOWNSCALES, "medium", 1, 1),
}
DEFAULT_PRESET = "model"  # as close to "exhaustive" as "full" on the benchmark's clips, at a fraction of its time (docs/encoder.md)


def quality_text(q: int | tuple[int, ...]) -> str:
    """A quality, or one per shot as ``49/50``."""
    return "/".join(map(str, q)) if isinstance(q, tuple) else str(q)


def _best_quality(tr: _Trials, n: int, qualities: list[int], budget: float) -> int | None:
    """The best quality whose *n* keyframes fit *budget* bytes, or None.  Searches from the quality
    found for the previous keyframe count of the same trials (:func:`first_fitting`)."""
    i = first_fitting(lambda k: tr.bytes(n, qualities[k]) <= budget, len(qualities), tr.hint)
    if i is not None:
        tr.hint = i
    return None if i is None else qualities[i]


def estimate_quality(src, tr: _Trials, n: int, quality: int, metric: str = "ms-ssim", net=None,
                     scorer: Scorer | None = None, fit: str | None = None, max_pixels: int | None = None,
                     rife_scale: int | None = None) -> float:
    """Estimated quality of the decoded video for trial (*n* keyframes, quality): decoded keyframes and
    sampled inner frames, reconstructed as a decoder would with the weights that the encoder's fit
    would choose for them (:func:`cmvc.encoder.fit.fit_frames`; *fit*: another fit method), at most
    *max_pixels* (default SCORED_PIXELS) of them.  *rife_scale*: RIFE's flow-estimation scale exponent
    (recon_param, §7.5) of the reconstruction, when not the encoder's (a coarser flow is cheaper).  With a *scorer*, every inner frame is reconstructed and
    ``scorer(decoded, source)`` scores the sequence.  The fit matters to the ranking (docs/experiments.md §1.9)."""
    from ..decode import reconstructor
    from .fit import fit_frames
    from ..quality import ms_ssim_frames, psnr_frames
    from ..registry import ReconProfile
    from ..registry import ModelRole
    from ..syntax import KeyframeUnit, model_entry
    from ..write import make_sequence_header
    from ..zoo import RIFE_V4

    kf = tr.keyframes(n)
    coded = tr.coded[(n, quality)]
    w, h = src[0].width, src[0].height
    rife = tr.cfg.profile == "rife"
    scale = tr.cfg.rife_scale if rife_scale is None else rife_scale
    sh = make_sequence_header(w, h, len(src), kf, fps=(25, 1), coded_size=(tr.pics[0].width, tr.pics[0].height),
                              recon_profile=ReconProfile.RIFE if rife else ReconProfile.BLEND,
                              recon_model=0 if rife else 255, recon_param=scale if rife else 0,
                              models=[model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name)] if rife else [],
                              matrix_coefficients=tr.colour.matrix_coefficients, full_range=tr.colour.full_range)
    kpics = decode_keyframes(tr.codec, sh, [KeyframeUnit(frame_index=i, codec_id=tr.codec, codec_params=p, keyframe_data=d)
                                            for i, (p, d) in zip(kf, coded)])
    recon = reconstructor(sh, net, device=tr.cfg.device)  # --device: RIFE where the encoder runs it
    segs = [(s, kf[s + 1] - kf[s] - 1) for s in range(len(kf) - 1) if kf[s + 1] - kf[s] > 1]
    inner = sum(n for _, n in segs)
    spacing = next((s for s in (1, 2, 4) if inner * w * h <= s * DENSE_PIXELS), SAMPLE_SPACING)
    per_seg = [n if scorer is not None else max(1, round(n / spacing)) for _, n in segs]
    stride = 1
    if scorer is None:  # a sequence scorer needs every frame; a per-frame metric a sample of them
        stride = max(1, -(-(len(kf) + sum(per_seg)) * w * h // (max_pixels or SCORED_PIXELS)))
    keep = range(0, len(kf), stride)  # every stride-th keyframe and segment, each standing for the next stride
    out, idx = [kpics[k] for k in keep], [kf[k] for k in keep]
    weight = [float(min(stride, len(kf) - k)) for k in keep]
    for g in range(0, len(segs), stride):
        (s, n), m = segs[g], per_seg[g]
        js = [1 + ((2 * k + 1) * n) // (2 * m) for k in range(m)]
        out += fit_frames(recon, kpics[s], kpics[s + 1], [tr.pics[kf[s] + j] for j in js], js, n, tr.cfg.w_bits,
                          fit or tr.cfg.fit, tr.cfg.lam, tr.cfg.search_radius)
        idx += [kf[s] + j for j in js]
        weight += [sum(nn for _, nn in segs[g:g + stride]) / m] * m
    if tr.downscale > 1:
        from ..resample import upsample

        out = [upsample(p, w, h) for p in out]
    if scorer is not None:
        order = sorted(range(len(idx)), key=idx.__getitem__)
        return float(scorer([out[k] for k in order], [src[idx[k]] for k in order]))
    ref = [src[i] for i in idx]
    vals = ms_ssim_frames(out, ref) if metric == "ms-ssim" else psnr_frames(out, ref)
    return sum(v * x for v, x in zip(vals, weight)) / sum(weight)


def plan(pics, cfg, target_bits: float, *, downscales: Sequence[int] | None = None,
         strategies: Sequence[str] | None = None, codecs: Sequence[str] | None = None, metric: str = "ms-ssim",
         evaluate: bool | None = None, colour: Colour | None = None, net=None,
         progress: Callable[[str], None] | None = None, scorer: Scorer | None = None,
         cache: dict | None = None, advance: Callable[[int, int], None] | None = None,
         prune: bool = True, refine: int | None = None, shot_refine: int | None = None,
         method: str = "search", fallback_codecs: Sequence[str] = ()) -> RatePlan:
    """The operating point for *target_bits* (see the module docstring).

    *downscales*: coded sizes to consider (default: ``cfg.downscale`` only; pass e.g. ``DOWNSCALES`` to
    let rate control choose).  *strategies*: keyframe selection strategies to consider (default:
    ``cfg.strategy`` only; e.g. ``("feature", "uniform")``: Eq. 1 against evenly spaced keyframes).
    *codecs*: keyframe codecs to consider (default: ``cfg.codec`` only; e.g. ``("av1", "vvc")``).  *evaluate*: compare candidates by estimated quality (default: for the
    BLEND and RIFE profiles).  *scorer*: score each candidate's full reconstruction with this
    function instead of sampling (e.g. VMAF, :func:`cmvc.tools.metrics.vmaf_scorer`); *metric* then
    only names it.  *cache*: a dict kept by the caller across plans of the same *pics*, *cfg*,
    *colour*, *net* and *scorer* (e.g. several targets of one clip): trial encodes and quality
    estimates do not depend on the target, so later plans reuse them; the plan is the same as
    without it (each search starts afresh and only looks results up).  *progress*: called with a
    line for each candidate scored; *advance*: called with (searches done, searches) before each
    search of a (codec, coded size, strategy) and once at the end (with pruning the number of
    searches is an upper bound that shrinks when sizes are skipped).  *prune*: skip searches as the
    module docstring says (False: every combination, as many as codecs x sizes x strategies).
    *refine*, *shot_refine*: searches and candidates refined (None: REFINE and SHOT_REFINE).
    *method* ``"model"``: no search, :func:`cmvc.encoder.rate_model.model_plan` with the first of
    *strategies* (for the BLEND and RIFE profiles; *cache*, *scorer*, *prune* and the refinements
    do not apply); *fallback_codecs*: the model's codecs for budgets below what *codecs* reach.
    """
    n_refine = REFINE if refine is None else refine
    n_shot_refine = SHOT_REFINE if shot_refine is None else shot_refine
    if scorer is None and metric not in METRICS:
        raise error("E101", f"unknown rate-control metric {metric!r} ({', '.join(METRICS)})")
    codecs = tuple(codecs or (cfg.codec,))
    for c in codecs:
        if c not in CODEC_NAMES:
            raise error("E101", f"unknown codec {c!r} ({', '.join(CODEC_NAMES)})")
        _qualities(CODEC_NAMES[c])
    if method not in ("search", "model"):
        raise error("E101", f"unknown rate-control method {method!r} (search, model)")
    if evaluate is None:
        evaluate = cfg.profile in ("blend", "rife")
    downscales = tuple(downscales or (cfg.downscale,))
    check_downscales(pics[0].width, pics[0].height, downscales)
    strategies = tuple(strategies or (cfg.strategy,)) if evaluate else (cfg.strategy,)
    if method == "model" and evaluate:
        from .rate_model import model_plan

        rp = model_plan(pics, cfg, target_bits, codecs=codecs, downscales=downscales, strategies=strategies,
                        estimate=lambda *a, **k: estimate_quality(*a, **k), fallback_codecs=tuple(fallback_codecs),
                        colour=colour, progress=progress, advance=advance)
        return dataclasses.replace(rp, max_bytes=int(target_bits // 8))
    if cache is not None:
        what = (id(pics), cfg, colour, net, scorer)
        if cache.setdefault("inputs", what) != what:
            raise ValueError("rate-control cache used for other pictures, settings, colour, model or scorer")
    p = _Planner(pics, cfg, target_bits / 8, metric, evaluate, colour, net, scorer, cache, progress)
    searches = [(c, d, st) for c in codecs for d in downscales for st in strategies]
    steps = len(searches) + (1 if evaluate and n_refine else 0)  # the refinement counts as one more
    if prune and evaluate:
        n_done, steps = p.pruned_searches(codecs, downscales, strategies, steps, advance)
    else:
        n_done = p.all_searches(searches, steps, advance)
    if evaluate and n_refine:
        if advance:
            advance(n_done, steps)
        p.refine_best(n_refine)
        n_done += 1
    if advance:
        advance(n_done, n_done)
    chosen = p.choose(n_shot_refine)
    return RatePlan(chosen.interval, chosen.quality, chosen.predicted_bytes, p.trials, chosen.downscale, chosen.score,
                    p.cands, chosen.strategy, chosen.codec, chosen.keyframes, max_bytes=int(target_bits // 8))


class _Planner:
    """The state of one :func:`plan`: its candidates, the trials of each search and the trial count."""

    def __init__(self, pics, cfg, budget: float, metric: str, evaluate: bool, colour: Colour | None, net,
                 scorer: Scorer | None, cache: dict | None, progress: Callable[[str], None] | None) -> None:
        self.pics, self.cfg, self.budget, self.metric, self.evaluate = pics, cfg, budget, metric, evaluate
        self.colour, self.net, self.scorer, self.cache = colour, net, scorer, cache
        self.say = progress or (lambda msg: None)
        t = self.t = len(pics)
        self.ladder = sorted({min(i, t - 1) for i in LADDER if i < t - 1} | {max(1, t - 1)})
        self.cands: list[Candidate] = []
        self.trials = 0
        self.searched: dict[tuple[str, int, str], _Trials] = {}  # the trials of each search, for the refinement

    def score(self, tr: _Trials, c: Candidate) -> Candidate:
        """*c*, recorded, with its estimate (looked up in *tr* or computed)."""
        n, q = c.keyframes, c.quality
        self.cands.append(c)
        if (n, q) not in tr.scores:
            tr.scores[(n, q)] = estimate_quality(self.pics, tr, n, q, self.metric, self.net, self.scorer)
        c.score = tr.scores[(n, q)]
        return c

    def candidate(self, tr: _Trials, codec: str, ds: int, strategy: str, n: int, interval: int, qualities: list[int],
                  seen: set[tuple[int, ...]]) -> Candidate | str:
        """The scored candidate with *n* keyframes, or "seen" (the same keyframes as another count of
        this walk) or "nofit" (no quality fits)."""
        kf = tuple(tr.keyframes(n))
        if kf in seen:
            return "seen"
        seen.add(kf)
        q = _best_quality(tr, n, qualities, self.budget)
        if q is None:
            return "nofit"
        c = self.score(tr, Candidate(ds, interval, q, tr.bytes(n, q), None, strategy, codec, n))
        self.say(f"rate control: {codec} {strategy} keyframes, downscale {ds}, {n} keyframes (interval {interval}), "
                 f"quality {q}: {8 * c.predicted_bytes} bits, estimated {self.metric} {c.score:.4f}")
        return c

    def trials_of(self, codec: str, ds: int, strategy: str) -> _Trials:
        """The trial encodes of a (codec, coded size, strategy), from the cache or new."""
        key = (codec, ds, strategy, self.metric)
        if self.cache is not None and key in self.cache:
            tr = self.cache[key]
            tr.hint = None  # the same searches as a fresh plan: the result must not depend on earlier plans
        else:
            tr = _Trials(self.pics, dataclasses.replace(self.cfg, codec=codec), ds, self.colour or Colour(), strategy)
            if self.cache is not None:
                self.cache[key] = tr
        self.searched[(codec, ds, strategy)] = tr
        return tr

    def search(self, codec: str, ds: int, strategy: str, hint: int | None = None) -> Candidate | None:
        """One search of a (codec, coded size, strategy): its candidates go to ``cands``; returns the
        best scored one that fits, or None (nothing fits, size too small, or no estimates).  With
        *hint* (an interval that fits), the walk starts there, goes up, then down from it."""
        pics, ladder = self.pics, self.ladder
        if not searched(pics, ds):
            return None
        qualities = _qualities(CODEC_NAMES[codec])
        tr = self.trials_of(codec, ds, strategy)
        done = len(tr.size)
        best = None
        start = self.first_interval(tr, codec, ds, strategy, qualities, hint)
        if start is not None:
            lo, hint_start = start
            if not self.evaluate:
                self.pick_unscored(tr, codec, ds, strategy, qualities, lo)
            else:
                best = self.walk(tr, codec, ds, strategy, qualities, lo, hint_start)
        self.trials += len(tr.size) - done
        return best

    def first_interval(self, tr: _Trials, codec: str, ds: int, strategy: str, qualities: list[int],
                       hint: int | None) -> tuple[int, int | None] | None:
        """(index of the smallest ladder interval whose keyframes fit at the lowest quality, index of
        *hint* where the walk starts instead or None), or None when even the widest does not fit (its
        candidate is recorded)."""
        ladder, budget = self.ladder, self.budget

        def fits_worst(k: int) -> bool:
            return tr.bytes(tr.count(ladder[k]), qualities[-1]) <= budget

        lo, hi = 0, len(ladder) - 1  # sizes fall as the interval grows
        start = ladder.index(hint) if self.evaluate and hint in ladder else None
        if start is not None and not fits_worst(start):
            start = None
        if start is not None:
            return 0, start  # not searched: the walk down stops at the first interval that does not fit
        if not fits_worst(hi):
            n = tr.count(ladder[hi])
            self.cands.append(Candidate(ds, ladder[hi], qualities[-1], tr.bytes(n, qualities[-1]), None, strategy,
                                        codec, n))
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if fits_worst(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo, None

    def pick_unscored(self, tr: _Trials, codec: str, ds: int, strategy: str, qualities: list[int], lo: int) -> None:
        """Without estimates: the interval closest to 8 that fits (closer keyframes while the best
        quality fits), recorded as the search's only candidate."""
        ladder = self.ladder
        k = max(lo, min(range(len(ladder)), key=lambda i: abs(ladder[i] - 8)))
        q = _best_quality(tr, tr.count(ladder[k]), qualities, self.budget)
        while q == qualities[0] and k > lo:  # room to spare: closer keyframes while they fit
            q2 = _best_quality(tr, tr.count(ladder[k - 1]), qualities, self.budget)
            if q2 is None:
                break
            k, q = k - 1, q2
        if q is not None:
            n = tr.count(ladder[k])
            self.cands.append(Candidate(ds, ladder[k], q, tr.bytes(n, q), None, strategy, codec, n))

    def walk(self, tr: _Trials, codec: str, ds: int, strategy: str, qualities: list[int], lo: int,
             start: int | None) -> Candidate | None:
        """The interval walk: up from *start* (or *lo*) until the estimate has fallen twice, then, from
        a hint, down while it fits and has not fallen twice.  Returns the best candidate."""
        ladder = self.ladder
        seen: set[tuple[int, ...]] = set()
        best: Candidate | None = None
        worse = 0
        for interval in ladder[lo if start is None else start:]:
            c = self.candidate(tr, codec, ds, strategy, tr.count(interval), interval, qualities, seen)
            if isinstance(c, str):  # sizes are not strictly monotone in the interval: skip this one
                continue
            if best is None or c.score > best.score:
                best, worse = c, 0
            else:
                worse += 1
                if worse == 2:
                    break
            if c.quality == qualities[0]:  # already the best quality: wider spacing can only lose
                break
        worse = 0
        for interval in reversed(ladder[:start or 0]):
            c = self.candidate(tr, codec, ds, strategy, tr.count(interval), interval, qualities, seen)
            if c == "seen":
                continue
            if c == "nofit":
                break
            if best is None or c.score > best.score:
                best, worse = c, 0
            else:
                worse += 1
                if worse == 2:
                    break
        return best

    def all_searches(self, searches: list[tuple[str, int, str]], steps: int,
                     advance: Callable[[int, int], None] | None) -> int:
        """Every search (``prune=False`` or no estimates); returns the number done."""
        for k, (codec, ds, strategy) in enumerate(searches):
            if advance:
                advance(k, steps)
            self.search(codec, ds, strategy)
        return len(searches)

    def pruned_searches(self, codecs, downscales, strategies, steps: int,
                        advance: Callable[[int, int], None] | None) -> tuple[int, int]:
        """For each codec, the coded sizes from the smallest up, every strategy at each size, until the
        best estimate at a size falls below the previous size's; each walk starts at the best
        candidate's interval so far.  Returns (searches done, steps: done + left)."""
        sizes = sorted(set(downscales), reverse=True)
        n_done, left = 0, steps
        top: Candidate | None = None
        for codec in codecs:
            prev: float | None = None
            for k, ds in enumerate(sizes):
                found = []
                for strategy in strategies:
                    if advance:
                        advance(n_done, n_done + left)
                    b = self.search(codec, ds, strategy, top.interval if top else None)
                    n_done, left = n_done + 1, left - 1
                    if b is not None:
                        found.append(b.score)
                        if top is None or b.score > top.score:
                            top = b
                score = max(found) if found else None
                if prev is not None and (score is None or score < prev):
                    left -= (len(sizes) - k - 1) * len(strategies)  # larger coded sizes are skipped
                    break
                if score is not None:
                    prev = score
        return n_done, n_done + left

    def fitting(self) -> list[Candidate]:
        return [c for c in self.cands if c.predicted_bytes <= self.budget]

    def refine_best(self, n_refine: int) -> None:
        """:meth:`refine` the best candidate of each of the *n_refine* best searches."""
        best_of: dict[tuple[str, int, str], Candidate] = {}  # each search's best
        for c in self.fitting():
            if c.score is None:
                continue
            k = (c.codec, c.downscale, c.strategy)
            if k not in best_of or c.score > best_of[k].score:
                best_of[k] = c
        for c in sorted(best_of.values(), key=lambda c: -c.score)[:int(n_refine)]:
            self.refine(c)

    def refine(self, best: Candidate) -> None:
        """Keyframe counts between those of the ladder intervals next to *best*'s, at the best quality
        that fits each: fewer keyframes at a finer quantiser, or more at a coarser one, where the
        ladder's steps leave bits unspent.  From best's count a walk goes down, then one goes up,
        each until the estimate has fallen twice (see REFINE)."""
        t = self.t
        tr = self.searched[(best.codec, best.downscale, best.strategy)]
        done = len(tr.size)
        qualities = _qualities(CODEC_NAMES[best.codec])
        counts = {tr.count(i) for i in self.ladder}
        n0 = best.keyframes
        below = max((c for c in counts if c < n0), default=1)
        above = min((c for c in counts if c > n0), default=t + 1)
        seen = {tuple(tr.keyframes(n0))}
        top = best
        for walk in (range(n0 - 1, below, -1), range(n0 + 1, above)):
            tr.hint = qualities.index(best.quality)  # independent of earlier plans (cache)
            worse = 0
            for n in walk:
                c = self.candidate(tr, best.codec, best.downscale, best.strategy, n, max(1, round((t - 1) / (n - 1))),
                                   qualities, seen)
                if c == "seen":
                    continue
                if c == "nofit":
                    break
                if c.score > top.score:
                    top, worse = c, 0
                else:
                    worse += 1
                    if worse == 2:
                        break
        self.trials += len(tr.size) - done

    def choose(self, n_shot_refine: int) -> Candidate:
        """The plan's candidate: the best estimate that fits, after :meth:`refine_shots` of the
        *n_shot_refine* best with distinct keyframes; without estimates the interval closest to 8;
        if nothing fits, the fewest bits."""
        fitting = self.fitting()
        if not fitting:
            return min(self.cands, key=lambda c: c.predicted_bytes)
        if not self.evaluate:
            return min(fitting, key=lambda c: (abs(c.interval - 8), c.downscale))
        chosen = max(fitting, key=lambda c: c.score)
        tops: list[Candidate] = []
        for c in sorted((c for c in fitting if c.score is not None), key=lambda c: -c.score):
            if len(tops) < n_shot_refine and all((c.codec, c.downscale, c.strategy, c.keyframes) !=
                                               (x.codec, x.downscale, x.strategy, x.keyframes) for x in tops):
                tops.append(c)
        for c in tops:
            r = self.refine_shots(c)
            if r.score > chosen.score:
                chosen = r
        return chosen

    def refine_shots(self, best: Candidate) -> Candidate:
        """*best* with a finer QP for some of its shots (see SHOT_REFINE), or *best* itself."""
        if best.codec != "vvc" or best.score is None or isinstance(best.quality, tuple):
            return best
        from ..keyframes import shot_starts

        tr = self.searched[(best.codec, best.downscale, best.strategy)]
        n = best.keyframes
        runs = len(shot_starts([tr.pics[i] for i in tr.keyframes(n)])) + 1
        if runs < 2:
            return best
        done = len(tr.size)
        qualities = _qualities(CODEC_NAMES[best.codec])
        top, cur = best, (best.quality,) * runs
        while True:
            steps = []
            for i in range(runs):
                k = qualities.index(cur[i])
                if k == 0:
                    continue
                q = cur[:i] + (qualities[k - 1],) + cur[i + 1:]
                if tr.bytes(n, q) > self.budget:
                    continue
                c = self.score(tr, Candidate(best.downscale, best.interval, q, tr.bytes(n, q), None, best.strategy,
                                             best.codec, n))
                self.say(f"rate control: {best.codec} {best.strategy} keyframes, downscale {best.downscale}, {n} "
                         f"keyframes, quality per shot {quality_text(q)}: {8 * c.predicted_bytes} bits, estimated "
                         f"{self.metric} {c.score:.4f}")
                steps.append(c)
            if not steps:
                break
            c = max(steps, key=lambda x: x.score)
            if c.score <= top.score:
                break
            top, cur = c, c.quality
        self.trials += len(tr.size) - done
        return top
