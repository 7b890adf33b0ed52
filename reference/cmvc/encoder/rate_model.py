"""Rate control that predicts instead of searching (``--rc-preset model``, the default).

Not normative.  Where :func:`cmvc.encoder.rate_control.plan`'s searches trial-encode and reconstruct
for every codec x coded size x strategy x interval x quantiser candidate, this plan models the clip
and encodes once (docs/encoder.md, "Rate control by a model"):

1. **First pass** (:func:`first_pass`): how hard the clip is to interpolate, as the mean squared luma
   error of reconstructing inner frames between *source* frames ``g`` apart, for each gap ``g`` of
   FIRST_PASS_GAPS, on two segments each at about 10 000 pixels (the reduced pictures and the
   reconstruction of the ``interp`` strategy's segment costs,
   :class:`cmvc.encoder.keyframe_select.InterpolationCost`), scaled to the output size by one
   full-size reconstruction.
2. **Rate model** (:func:`fit_codec`): per keyframe codec and coded size, three trial encodes of
   evenly spaced keyframes (two quantisers at one keyframe count, the second where a prior slope
   predicts the budget to land, and one at another count) fit
   ``bytes = exp(a + b q) (n / n0)^beta`` and the decoded keyframes' squared error (upsampled to the
   output size, §7.8) as a power of the bytes per keyframe, ``D_key = exp(c) (bytes / n)^d``: with
   VVC or AV1 the keyframes after the first are predicted, so more keyframes at one quantiser cost
   few more bytes but each gets fewer (beta was 0.1-0.3 on carphone), and their error rises.
3. **Choice** (:func:`choose`): for every codec, coded size and keyframe count n, the best quantiser
   whose modelled bytes fit AIM x the budget, and its modelled error
   ``(n D_key + (T - n) (D_key + D_interp(mean gap))) / T``; the smallest error wins.
4. **One encode, one correction** (:func:`settle`): the chosen keyframes are trial-encoded (their
   size is then exact); if the stream would fall outside [LOW, HIGH] x the budget, the model is
   anchored at that measurement and the choice made again, aiming at CORRECTION_AIM, among keyframe
   counts near the chosen one, at most 3 quantiser steps finer, at the chosen codec and size (one more encode); only if that still exceeds the budget is the quantiser raised step by step until it fits.

The error model is in MSE, whatever ``--rc-metric`` names: the metric steers the searching presets'
estimates only.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from ..keyframes import CODEC_NAMES, Colour, decode_keyframes

AIM = 0.965  # the model's stream size aims at this fraction of the budget ...
LOW = 0.93  # ... and one correction follows when the measured size falls outside [LOW, 1] x budget,
CORRECTION_AIM = 0.98  # aiming higher: the model anchored at a measurement is closer near it
HIGH = 0.99  # the predicted size's ceiling: the interpolation parameters' bytes are an allowance (fixed_bytes)
FIRST_PASS_GAPS = (2, 4, 8, 16, 32, 64)  # keyframe gaps the first pass measures (log-log interpolated between)
FIRST_PASS_SEGMENTS = 2  # segments sampled per gap by the first pass
CALIBRATION_GAPS = (8,)  # gaps of the full-size reconstructions that scale the first pass's errors
PRIOR_SLOPE = -0.11  # d ln(bytes) / d quality step before the fit (VVC: bytes halve about every 6 QP)
MIN_SPAN = 4  # quality steps at least between the fit's two trial qualities
FIT_INTERVALS = (6, 16)  # keyframe intervals of the fit's trial encodes (evenly spaced keyframes)


@dataclasses.dataclass
class CodecModel:
    """One keyframe codec at one coded size: its fitted rate and keyframe-error model."""

    codec: str
    downscale: int
    qualities: list[int]  # best first (cmvc.encoder.rate_control._qualities)
    n0: int
    a: float
    b: float  # ln keyframe bytes = a + b k (k: index into qualities) at n0 keyframes
    beta: float  # keyframe bytes grow as (n / n0)^beta
    c: float
    d: float  # ln D_key = c + d ln(keyframe bytes / n): the error of a keyframe falls with its bytes
    trials: object  # the _Trials of the fit

    def key_bytes(self, n: int, k: float) -> float:
        return math.exp(self.a + self.b * k) * (n / self.n0) ** self.beta

    def d_key(self, n: int, k: float) -> float:
        return math.exp(self.c + self.d * math.log(self.key_bytes(n, k) / n))


@dataclasses.dataclass
class Difficulty:
    """The first pass: mean squared luma error of an inner frame for each keyframe gap (output scale)."""

    gaps: list[int]
    mse: list[float]

    def at(self, gap: float) -> float:
        """Log-log interpolation between the measured gaps (0 below gap 2: no inner frames)."""
        if gap < 2 or not self.gaps:
            return 0.0
        lg = [math.log(g) for g in self.gaps]
        lm = [math.log(max(m, 1e-6)) for m in self.mse]
        return math.exp(float(np.interp(math.log(gap), lg, lm)))


def first_pass(pics, profile: str, tick: Callable[[], None] = lambda: None) -> Difficulty:
    """Step 1 (see the module docstring): per gap of FIRST_PASS_GAPS, FIRST_PASS_SEGMENTS segments,
    each scored by its inner frame a third of the way (the middle for gap 2), at the reduced size of
    :class:`~cmvc.encoder.keyframe_select.InterpolationCost`; then one full-size reconstruction per
    CALIBRATION_GAPS scales the errors to the output size."""
    from .keyframe_select import InterpolationCost, blend_interpolator, rife_interpolator

    t = len(pics)
    cost = InterpolationCost(pics, profile)
    small = cost.pics

    def err(src, interp, i: int, g: int) -> float:
        j = i + max(1, round(g / 3))
        out = interp(src[i], src[i + g], [(j - i) / g])[0]
        return float(np.mean((out.y.astype(np.float32) - src[j].y) ** 2))

    gaps, mse = [], []
    for g in (g for g in FIRST_PASS_GAPS if g <= t - 1):
        starts = sorted({round(x * (t - 1 - g)) for x in np.linspace(0.25, 0.75, FIRST_PASS_SEGMENTS)})
        vals = []
        for i in starts:
            vals.append(err(small, cost.interpolate, i, g))
            tick()
        gaps.append(g)
        mse.append(float(np.mean(vals)))
    scale = []
    if cost.reduction > 1:
        full = blend_interpolator if profile == "blend" else rife_interpolator(pics[0].width, pics[0].height)
        for g in (g for g in CALIBRATION_GAPS if g <= t - 1):
            i = (t - 1 - g) // 2
            e_small = err(small, cost.interpolate, i, g)
            if e_small > 0.05:
                scale.append(err(pics, full, i, g) / e_small)
            tick()
    k = math.exp(float(np.mean(np.log(scale)))) if scale else 1.0
    return Difficulty(gaps, [m * min(max(k, 0.5), 20.0) for m in mse])


def _key_mse(src, tr, n: int, quality: int) -> float:
    """Mean squared luma error of trial (*n*, *quality*)'s decoded keyframes, at the output size."""
    from ..resample import upsample
    from ..syntax import KeyframeUnit
    from ..write import make_sequence_header

    kf = tr.keyframes(n)
    coded = tr.coded[(n, quality)]
    w, h = src[0].width, src[0].height
    sh = make_sequence_header(w, h, len(src), kf, coded_size=(tr.pics[0].width, tr.pics[0].height),
                              matrix_coefficients=tr.colour.matrix_coefficients, full_range=tr.colour.full_range)
    dec = decode_keyframes(tr.codec, sh, [KeyframeUnit(frame_index=i, codec_id=tr.codec, codec_params=p, keyframe_data=d)
                                          for i, (p, d) in zip(kf, coded)])
    if tr.downscale > 1:
        dec = [upsample(p, w, h) for p in dec]
    return float(np.mean([np.mean((p.y.astype(np.float32) - src[i].y) ** 2) for p, i in zip(dec, kf)]))


def _key_bytes(tr, n: int, quality: int) -> float | None:
    """Keyframe bytes of a trial (the stream's bytes less :func:`fixed_bytes`), None if it failed."""
    from .trials import UNAVAILABLE, fixed_bytes

    b = tr.bytes(n, quality)
    if b >= UNAVAILABLE:
        return None
    return float(max(1, b - fixed_bytes(tr.pics, tr.cfg, tr.keyframes(n))))


def fit_codec(pics, cfg, codec: str, ds: int, colour: Colour, budget: float,
              tick: Callable[[], None] = lambda: None) -> CodecModel | None:
    """Step 2 for one codec and coded size, or None (size too small, trials failed).  Three trial
    encodes of evenly spaced keyframes: n0 (interval FIT_INTERVALS[1]) at the middle quality; n0 at
    the quality that a PRIOR_SLOPE predicts to fit *budget* bytes (at least MIN_SPAN steps from the
    first, so that the fit interpolates near the operating point rather than extrapolating); more
    keyframes (interval FIT_INTERVALS[0]) at that quality."""
    from .trials import _qualities, _Trials, fixed_bytes

    t = len(pics)
    if ds > 1 and min(-(-pics[0].width // ds), -(-pics[0].height // ds)) < 16:
        return None
    qualities = _qualities(CODEC_NAMES[codec])
    last = len(qualities) - 1
    tr = _Trials(pics, dataclasses.replace(cfg, codec=codec), ds, colour, "uniform")
    n_a, n0 = (tr.count(min(iv, t - 1)) for iv in FIT_INTERVALS)
    if n_a == n0:
        n_a = min(t, n0 + max(1, n0 // 2))
    k1 = last // 2
    b1 = _key_bytes(tr, n0, qualities[k1])
    tick()
    if b1 is None:
        return None
    room = max(1.0, AIM * budget - fixed_bytes(tr.pics, tr.cfg, tr.keyframes(n0)))
    k_star = k1 + math.log(room / b1) / PRIOR_SLOPE
    k2 = int(round(min(max(k_star, 0), last)))
    if abs(k2 - k1) < MIN_SPAN:
        k2 = k1 + MIN_SPAN if k_star >= k1 else k1 - MIN_SPAN
    b2 = _key_bytes(tr, n0, qualities[k2])
    tick()
    ba = _key_bytes(tr, n_a, qualities[k2])
    tick()
    if b2 is None or ba is None:
        return None
    b = (math.log(b2) - math.log(b1)) / (k2 - k1)
    a = math.log(b2) - b * k2  # anchored at the trial nearer the operating point
    beta = 1.0 if n_a == n0 else math.log(ba / b2) / math.log(n_a / n0)
    pts = [(n, k, kb) for n, k, kb in ((n0, k1, b1), (n0, k2, b2), (n_a, k2, ba))]
    x = [math.log(kb / n) for n, _, kb in pts]
    y = [math.log(max(_key_mse(pics, tr, n, qualities[k]), 1e-3)) for n, k, _ in pts]
    d, c = (float(v) for v in np.polyfit(x, y, 1))
    return CodecModel(codec, ds, qualities, n0, a, min(b, -1e-3), min(max(beta, 0.1), 1.3), c, min(d, -0.05), tr)


@dataclasses.dataclass
class Choice:
    model: CodecModel
    n: int
    k: int  # index into model.qualities
    bytes: float  # modelled stream bytes
    mse: float  # modelled mean squared error of the decoded video


def _fixed(pics, cfg, n: int, memo: dict) -> int:
    from .trials import fixed_bytes

    if n not in memo:
        t = len(pics)
        memo[n] = fixed_bytes(pics, cfg, sorted({round(i * (t - 1) / (n - 1)) for i in range(n)}))
    return memo[n]


def choose(models: Sequence[CodecModel], pics, cfg, budget: float, diff: Difficulty, counts: Sequence[int] | None = None,
           aim: float = AIM, k_range: tuple[int, int] | None = None) -> Choice | None:
    """Step 3: the (codec, size, keyframe count, quality) of least modelled error whose modelled bytes
    fit *aim* x *budget* bytes (None if none does); *counts*, *k_range*: only those keyframe counts
    and quality indexes."""
    t = len(pics)
    best: Choice | None = None
    memo: dict = {}
    for m in models:
        last = len(m.qualities) - 1
        for n in counts or range(2, t + 1):
            room = aim * budget - _fixed(m.trials.pics, cfg, n, memo)
            if room <= 0 or m.key_bytes(n, last) > room:
                continue
            # ln bytes falls linearly in k: the best (smallest) k that fits, in closed form
            k = max(0, min(last, math.ceil((math.log(room) - m.a - m.beta * math.log(n / m.n0)) / m.b - 1e-9)))
            while k < last and m.key_bytes(n, k) > room:
                k += 1
            if k_range is not None:
                k = max(k, k_range[0])
                if k > k_range[1]:
                    continue
            dk = m.d_key(n, k)
            mse = (n * dk + (t - n) * (dk + diff.at((t - 1) / (n - 1)))) / t
            if best is None or mse < best.mse:
                best = Choice(m, n, k, m.key_bytes(n, k) + _fixed(m.trials.pics, cfg, n, memo), mse)
    return best


def settle(choice: Choice, pics, cfg, budget: float, strategy: str, colour: Colour, diff: Difficulty,
           say: Callable[[str], None]) -> tuple[object, int, int, int]:
    """Step 4: (trials, keyframes, quality, trial encodes) of the plan: the choice trial-encoded with
    *strategy*'s keyframes, corrected once from its measured size (see the module docstring)."""
    from .trials import _Trials

    m = choice.model
    tr = (m.trials if strategy == "uniform" else
          _Trials(pics, dataclasses.replace(cfg, codec=m.codec), m.downscale, colour, strategy))
    n, k = choice.n, choice.k
    size = tr.bytes(n, m.qualities[k])
    encodes = 1
    say(f"rate control: model plan {m.codec} {strategy} keyframes, downscale {m.downscale}, {n} keyframes, quality "
        f"{m.qualities[k]}: modelled {8 * choice.bytes:.0f} bits, measured {8 * size} bits of {8 * budget:.0f}")
    if not LOW * budget <= size <= HIGH * budget:
        kb = _key_bytes(tr, n, m.qualities[k])
        anchored = dataclasses.replace(m, a=m.a + math.log(kb / m.key_bytes(n, k))) if kb else None
        near = range(max(2, n - max(2, n // 4)), min(len(pics), n + max(2, n // 4)) + 1)
        c2 = (choose([anchored], pics, cfg, budget, diff, near, CORRECTION_AIM, (max(0, k - 3), len(m.qualities) - 1))
              if anchored else None)
        if c2 is not None and (c2.n, c2.k) != (n, k):
            n, k = c2.n, c2.k
            size = tr.bytes(n, m.qualities[k])
            encodes += 1
            say(f"rate control: correction to {n} keyframes, quality {m.qualities[k]}: {8 * size} bits")
    while size > HIGH * budget and k < len(m.qualities) - 1:  # the model missed twice: coarser until it fits
        k += 1
        size = tr.bytes(n, m.qualities[k])
        encodes += 1
    return tr, n, m.qualities[k], encodes


def _fewest(models: Sequence[CodecModel], budget: float) -> tuple[object, int, int, int]:
    """(trials, 2, coarsest quality, trial encodes) of the largest coded size whose two keyframes at
    the coarsest quality fit *budget* bytes, else of the fewest bytes."""
    sized = []
    for m in sorted(models, key=lambda m: m.downscale):
        b = m.trials.bytes(2, m.qualities[-1])
        sized.append((b, m))
        if b <= budget:
            return m.trials, 2, m.qualities[-1], len(sized)
    m = min(sized, key=lambda x: x[0])[1]
    return m.trials, 2, m.qualities[-1], len(sized)


def model_plan(pics, cfg, target_bits: float, *, codecs: Sequence[str], downscales: Sequence[int],
               strategy: str, colour: Colour | None = None, progress: Callable[[str], None] | None = None,
               advance: Callable[[int, int], None] | None = None):
    """The :class:`~cmvc.encoder.rate_control.RatePlan` of the model (module docstring); its ``timings``
    give the seconds of each step."""
    from .trials import Candidate, RatePlan, _qualities

    say = progress or (lambda msg: None)
    colour = colour or Colour()
    for c in codecs:
        _qualities(CODEC_NAMES[c])  # E101 for a codec the model cannot steer
    budget = target_bits / 8
    t = len(pics)
    units = sum(g <= t - 1 for g in FIRST_PASS_GAPS) * FIRST_PASS_SEGMENTS + len(CALIBRATION_GAPS) + 3 * len(codecs) * len(downscales) + 2
    done = [0]

    def tick() -> None:
        done[0] += 1
        if advance:
            advance(min(done[0], units - 1), units)

    timings = {}
    t0 = time.perf_counter()
    say("rate control: first pass (interpolation error per keyframe gap)")
    diff = first_pass(pics, cfg.profile, tick)
    timings["first_pass"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("rate control: rate model (trial encodes of evenly spaced keyframes)")
    models = [m for c in codecs for ds in downscales
              if (m := fit_codec(pics, cfg, c, ds, colour, budget, tick)) is not None]
    timings["rate_model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    choice = choose(models, pics, cfg, budget, diff)
    if choice is None:  # nothing fits even at the coarsest quality: the fewest bits
        m = min(models, key=lambda m: m.key_bytes(2, len(m.qualities) - 1))
        choice = Choice(m, 2, len(m.qualities) - 1, m.key_bytes(2, len(m.qualities) - 1), float("inf"))
    timings["choice"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("rate control: keyframe encode and correction")
    tr, n, q, encodes = settle(choice, pics, cfg, budget, strategy, colour, diff, say)
    if tr.bytes(n, q) > budget:  # the budget is below what the model thought the coarsest point costs
        tr, n, q, extra = _fewest(models, budget)
        choice = Choice(next(m for m in models if m.trials is tr), n, len(tr.size), 0.0, float("inf"))
        encodes += extra
    timings["keyframes_and_correction"] = time.perf_counter() - t0
    if advance:
        advance(units, units)
    interval = max(1, round((t - 1) / (n - 1)))
    size = tr.bytes(n, q)
    cand = Candidate(choice.model.downscale, interval, q, size, None, strategy, choice.model.codec, n)
    return RatePlan(interval, q, size, 3 * len(models) + encodes, choice.model.downscale, None, [cand], strategy,
                    choice.model.codec, n, timings)
