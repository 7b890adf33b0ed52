"""Rate control that models, then encodes and scores a few candidates (``--rc-preset model``).

Not normative.  Where :func:`cmvc.encoder.rate_control.plan`'s searches trial-encode and reconstruct
for every codec x coded size x strategy x interval x quantiser candidate, this plan models the clip,
then trial-encodes and scores only candidates that the model and the scores before them point to
(docs/encoder.md, "Rate control by a model"):

1. **First pass** (:func:`first_pass`): how hard the clip is to interpolate, as the mean squared luma
   error of reconstructing inner frames between *source* frames ``g`` apart, for each gap ``g`` of
   FIRST_PASS_GAPS, on two segments each at about 10 000 pixels (the reduced pictures and the
   reconstruction of the ``interp`` strategy's segment costs,
   :class:`cmvc.encoder.keyframe_select.InterpolationCost`), scaled to the output size by one
   full-size reconstruction.
2. **Rate model** (:func:`fit_codec`): per keyframe codec and coded size, three trial encodes of
   evenly spaced keyframes at vvenc preset FIT_PRESET (two quantisers at one keyframe count, the
   second where a prior slope predicts the budget to land, and one at another count) fit
   ``bytes = exp(a + b q) (n / n0)^beta``, the decoded keyframes' squared error (upsampled to the
   output size, §7.8) as a power of the bytes per keyframe, ``D_key = exp(c) (bytes / n)^d``, and
   ``lam``: the error of an inner frame reconstructed from two decoded keyframes, less theirs, over
   the first pass's error at that gap (0.05-0.7 on carphone: the first pass's source-frame error
   overrates what decoded keyframes and the reconstruction give).
3. **Ranking** (:func:`rank`): for every codec, coded size and keyframe count n, the best quantiser
   whose modelled bytes fit AIM x the budget, and its modelled error
   ``(n D_key + (T - n) (D_key + lam D_interp(mean gap))) / T``, least first.
4. **Scored candidates** (:func:`explore`, :func:`verify`): the model's best of each codec, then
   keyframe counts around the best scored (:func:`next_counts`), the codec's other coded sizes
   (:func:`other_sizes`) and the other keyframe strategies (at the best's count, and a count search
   of their own only where that wins), each trial-encoded with its strategy at vvenc preset
   VERIFY_PRESET, brought into [LOW, HIGH] x the budget
   (:func:`settle`: the model refitted to the trial encodes of that codec and size so far,
   :func:`local_model`, then :func:`fill`) and scored as the searches score candidates
   (:func:`cmvc.encoder.rate_control.estimate_quality`, MS-SSIM whatever ``--rc-metric`` names, with
   VERIFY_FIT weights and RIFE's flow VERIFY_SCALE_STEP coarser).  The best score wins and is settled
   again at the encoder's preset (:func:`resettle`, steered by encodes at VERIFY_PRESET); the encode
   reuses that trial's keyframes (:func:`cmvc.encoder.memo.coded_memo`).  Where that lands short of the
   budget, one step between a quantiser and a keyframe step (:func:`diagonal`).  When no candidate fits,
   the fallback codecs' most keyframes at their coarsest quality (:func:`coarsest`).
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
HIGH = 0.995  # the predicted size's ceiling: the weights' bits are an allowance (fixed_bytes), capped by the
# encoder to the budget (EncoderConfig.max_bytes)
FIRST_PASS_GAPS = (2, 4, 8, 16, 32, 64)  # keyframe gaps the first pass measures (log-log interpolated between)
FIRST_PASS_SEGMENTS = 2  # segments sampled per gap by the first pass
CALIBRATION_GAPS = (8,)  # gaps of the full-size reconstructions that scale the first pass's errors
PRIOR_SLOPE = -0.11  # d ln(bytes) / d quality step before the fit (VVC: bytes halve about every 6 QP)
MIN_SPAN = 4  # quality steps at least between the fit's two trial qualities
FIT_INTERVALS = (6, 16)  # keyframe intervals of the fit's trial encodes (evenly spaced keyframes)
FIT_PRESET = "faster"  # vvenc preset of the fit's trial encodes (the plan's own encodes use the encoder's)
LAMBDA_RANGE = (0.05, 2.0)  # bounds of CodecModel.lam
SPREAD = 1.4  # the verification's steps in keyframe count: this many times fewer and more keyframes
VERIFY_PRESET: str | None = "medium"  # vvenc preset of the scored candidates' encodes (None: the encoder's; with
# another, the winner is encoded again at the encoder's, and the encode reuses that: docs/encoder.md)
FILL_SLACK = 1.05  # resettle's fill: a finer quality predicted at most this much over the ceiling is tried last
WALK_GIVE_UP: float | None = 0.98  # settle's walk to coarser quantisers stops where a step leaves more than this
# share of the bytes (None: it goes on to the coarsest)
FILL = 2  # trial encodes at most to fill the budget after the verification (fill)
FINAL_LOW, FINAL_FILL, FINAL_TRIES = 0.945, 4, 3  # the winner's settling at the encoder's preset (resettle):
# aim above LOW (the allowance for the weights' bits errs by 1-2 %), with up to FINAL_FILL encodes at the
# scoring preset and FINAL_TRIES at the encoder's
RESETTLE_FROM_MEASURED = True  # resettle starts from the scored point's own measurement, not the model's guess
DIAGONAL = 3  # the landing's diagonal step (diagonal): up to this many more keyframes at the next coarser
# quantiser, where the landing stays below FINAL_LOW (0: none)
FINAL_HIGH = 1.0  # ... up to the whole budget: where the weights' bits exceed their allowance, the encoder
# moves some back to the prediction (EncoderConfig.max_bytes)
VERIFY_FIT = "none"  # the weights of the verification's reconstructed frames: the prediction (one reconstruction each)
VERIFY_SCALE_STEP = 1  # the verification's RIFE flow is estimated 2^this coarser than the encoder's (at most recon_param 2)
VERIFY_PIXELS = 3 << 20  # output pixels scored per verification estimate at most
LOCAL_WIDTH = 0.25  # local_model: the distance in ln(keyframes) at which a measurement weighs half
FIT_PIXELS = 640 * 360  # the encode's weight fit estimates RIFE's flow as coarsely as keeps this many pixels
# (EncoderConfig.fit_pixels): 720p fitted at recon_param 1 took 24 % less time at the same quality; 176x144
# at recon_param 1 lost 1.7 VMAF (docs/encoder.md)


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
    lam: float = 1.0  # the first pass's interpolation error, scaled to reconstructions from decoded keyframes

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


def _key_mse(src, tr, n: int, quality: int, profile: str | None = None) -> tuple[float, float | None]:
    """(mean squared luma error of trial (*n*, *quality*)'s decoded keyframes at the output size, that
    of one inner frame reconstructed between two of them, a third of the way, by *profile*'s
    reconstruction at the coded size (None without *profile* or inner frames), with its gap)."""
    from ..resample import upsample
    from ..syntax import KeyframeUnit
    from ..write import make_sequence_header
    from .keyframe_select import blend_interpolator, rife_interpolator

    kf = tr.keyframes(n)
    coded = tr.coded[(n, quality)]
    w, h = src[0].width, src[0].height
    cw, ch = tr.pics[0].width, tr.pics[0].height
    sh = make_sequence_header(w, h, len(src), kf, coded_size=(cw, ch),
                              matrix_coefficients=tr.colour.matrix_coefficients, full_range=tr.colour.full_range)
    dec = decode_keyframes(tr.codec, sh, [KeyframeUnit(frame_index=i, codec_id=tr.codec, codec_params=p, keyframe_data=d)
                                          for i, (p, d) in zip(kf, coded)])
    up = (lambda p: upsample(p, w, h)) if tr.downscale > 1 else (lambda p: p)
    key = float(np.mean([np.mean((up(p).y.astype(np.float32) - src[i].y) ** 2) for p, i in zip(dec, kf)]))
    s = (len(kf) - 2) // 2
    g = kf[s + 1] - kf[s]
    if profile is None or g < 2:
        return key, None
    interp = blend_interpolator if profile == "blend" else rife_interpolator(cw, ch)
    j = max(1, round(g / 3))
    out = up(interp(dec[s], dec[s + 1], [j / g])[0])
    return key, float(np.mean((out.y.astype(np.float32) - src[kf[s] + j].y) ** 2))


def _key_bytes(tr, n: int, quality: int) -> float | None:
    """Keyframe bytes of a trial (the stream's bytes less :func:`fixed_bytes`), None if it failed."""
    from .trials import UNAVAILABLE, fixed_bytes

    b = tr.bytes(n, quality)
    if b >= UNAVAILABLE:
        return None
    return float(max(1, b - fixed_bytes(tr.pics, tr.cfg, tr.keyframes(n))))


def fit_codec(pics, cfg, codec: str, ds: int, colour: Colour, budget: float, diff: Difficulty,
              tick: Callable[[], None] = lambda: None) -> CodecModel | None:
    """Step 2 for one codec and coded size, or None (size too small, trials failed).  Three trial
    encodes of evenly spaced keyframes: n0 (interval FIT_INTERVALS[1]) at the middle quality; n0 at
    the quality that a PRIOR_SLOPE predicts to fit *budget* bytes (at least MIN_SPAN steps from the
    first, so that the fit interpolates near the operating point rather than extrapolating); more
    keyframes (interval FIT_INTERVALS[0]) at that quality."""
    from .trials import _qualities, _Trials, fixed_bytes, searched

    t = len(pics)
    if not searched(pics, ds):
        return None
    qualities = _qualities(CODEC_NAMES[codec])
    last = len(qualities) - 1
    tr = _Trials(pics, dataclasses.replace(cfg, codec=codec, vvc_preset=FIT_PRESET), ds, colour, "uniform")
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
    errs = [_key_mse(pics, tr, n, qualities[k], cfg.profile if k == k2 else None) for n, k, _ in pts]
    y = [math.log(max(e[0], 1e-3)) for e in errs]
    d, c = (float(v) for v in np.polyfit(x, y, 1))
    lam = [(inner - key) / diff.at(g) for (n, _, _), (key, inner) in zip(pts, errs) if inner is not None
           for g in [_mid_gap(tr.keyframes(n))] if diff.at(g) > 0]
    lam = float(np.clip(np.mean(lam), *LAMBDA_RANGE)) if lam else 1.0
    return CodecModel(codec, ds, qualities, n0, a, min(b, -1e-3), min(max(beta, 0.1), 1.3), c, min(d, -0.05), tr, lam)


def _mid_gap(kf: list[int]) -> int:
    """The gap of the segment whose inner frame :func:`_key_mse` reconstructs."""
    s = (len(kf) - 2) // 2
    return kf[s + 1] - kf[s]


@dataclasses.dataclass
class Choice:
    model: CodecModel
    n: int
    k: int  # index into model.qualities
    bytes: float  # modelled stream bytes
    mse: float  # modelled mean squared error of the decoded video


def _fixed(pics, cfg, n: int, memo: dict) -> int:
    from .trials import fixed_bytes

    key = (id(pics), n)
    if key not in memo:
        t = len(pics)
        memo[key] = fixed_bytes(pics, cfg, sorted({round(i * (t - 1) / (n - 1)) for i in range(n)}))
    return memo[key]


def rank(models: Sequence[CodecModel], pics, cfg, budget: float, diff: Difficulty, counts: Sequence[int] | None = None,
         aim: float | None = None, k_range: tuple[int, int] | None = None) -> list[Choice]:
    """Step 3: for every codec, coded size and keyframe count, the finest quality whose modelled bytes
    fit *aim* x *budget* bytes, least modelled error first; *counts*, *k_range*: only those keyframe
    counts and quality indexes; *aim* None: AIM."""
    aim = AIM if aim is None else aim
    t = len(pics)
    out: list[Choice] = []
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
            mse = (n * dk + (t - n) * (dk + m.lam * diff.at((t - 1) / (n - 1)))) / t
            out.append(Choice(m, n, k, m.key_bytes(n, k) + _fixed(m.trials.pics, cfg, n, memo), mse))
    return sorted(out, key=lambda c: c.mse)


def choose(models: Sequence[CodecModel], pics, cfg, budget: float, diff: Difficulty, counts: Sequence[int] | None = None,
           aim: float | None = None, k_range: tuple[int, int] | None = None) -> Choice | None:
    """The first of :func:`rank` (None if nothing fits)."""
    r = rank(models, pics, cfg, budget, diff, counts, aim, k_range)
    return r[0] if r else None


def firsts(ranked: Sequence[Choice]) -> list[Choice]:
    """The first of *ranked* (least modelled error first) for each codec."""
    out: list[Choice] = []
    for c in ranked:
        if all(c.model.codec != p.model.codec for p in out):
            out.append(c)
    return out


def _at_count(top: "Verified", n: int, pics, cfg, budget: float, diff: Difficulty) -> Choice | None:
    """*top*'s codec and size with *n* keyframes at the finest quality that fits, the model refitted to
    top's trial encodes near *n* (:func:`local_model`); None if nothing fits or *n* is out of range."""
    m = top.model
    if _key_bytes(top.trials, top.n, top.quality) is None or not 2 <= n <= len(pics):
        return None
    c = choose([local_model(m, [top.trials], n)], pics, cfg, budget, diff, [n])
    return c and dataclasses.replace(c, model=m)


def local_model(m: CodecModel, trs: Sequence, n: int) -> CodecModel:
    """*m* refitted to the trial encodes of *trs* (of its codec and size), for *n* keyframes: weighted
    least squares of ``ln bytes - b k = a + beta ln(n_i / n0)`` over the measured (n_i, k, bytes), each
    weighted by ``1 / (1 + (ln(n_i / n) / LOCAL_WIDTH)^2)``; beta too where the measured counts span
    more than 10 %.  The fit's trial encodes (FIT_PRESET, evenly spaced keyframes) mispredict those of
    the scored candidates (another preset and strategy: 25-35 % more bytes on bigbuckbunny), and a
    VVC sequence's bytes do not grow smoothly with its keyframes: the measurements near *n* tell."""
    pts = [(ni, m.qualities.index(q), kb) for tr in trs for ni, q in list(tr.size)
           if q in m.qualities and (kb := _key_bytes(tr, ni, q)) is not None]
    if not pts:
        return m
    x = np.array([math.log(ni / m.n0) for ni, _, _ in pts])
    y = np.array([math.log(kb) - m.b * k for _, k, kb in pts])
    w = 1.0 / (1.0 + ((x - math.log(n / m.n0)) / LOCAL_WIDTH) ** 2)
    beta = m.beta
    if x.max() - x.min() > 0.1:
        beta = float(np.clip(np.polyfit(x, y, 1, w=np.sqrt(w))[0], 0.1, 1.3))
    return dataclasses.replace(m, a=float(np.sum(w * (y - beta * x)) / np.sum(w)), beta=beta)


def other_sizes(found: Sequence["Verified"], ranked: Sequence[Choice]) -> list[Choice]:
    """For the best scored candidate's codec, the model's best choice at each coded size next to its
    size (half and twice the downscale) that no candidate scored yet."""
    if not found:
        return []
    top = max(found, key=lambda v: v.score)
    done = {(v.model.codec, v.model.downscale) for v in found}
    out = []
    for ds in (top.model.downscale // 2, top.model.downscale * 2):
        c = next((c for c in ranked if c.model.codec == top.model.codec and c.model.downscale == ds), None)
        if c is not None and (c.model.codec, ds) not in done:
            out.append(c)
    return out


def next_counts(found: Sequence["Verified"], pics, cfg, budget: float, diff: Difficulty, codec: str | None = None,
                most: int = 2, strategy: str | None = None) -> list[Choice]:
    """At most *most* keyframe counts to score next for the codec and size of the best scored candidate
    (of *codec*): SPREAD times fewer and more keyframes while neither side was scored, SPREAD^2 times
    on the side not scored where the other was (the best moved that way), else the count halfway
    (geometric mean) between the best and the better of its scored neighbours."""
    found = [v for v in found if codec in (None, v.model.codec) and strategy in (None, v.trials.cfg.strategy)]
    top = max(found, key=lambda v: v.score, default=None)
    if top is None or top.score == -math.inf:
        return []
    same = sorted({v.n: v for v in found if v.trials is top.trials and v.score > -math.inf}.values(), key=lambda v: v.n)
    i = [v.n for v in same].index(top.n)
    lo, hi = (same[i - 1] if i > 0 else None), (same[i + 1] if i + 1 < len(same) else None)
    if lo is None or hi is None:
        f = SPREAD if lo is hi else SPREAD ** 2  # moving on past a scored neighbour: a step twice as long
        counts = [n for n, side in ((round(top.n / f), lo), (min(len(pics), round(top.n * f)), hi)) if side is None]
    else:
        other = max((lo, hi), key=lambda v: v.score)
        counts = [round(math.sqrt(top.n * other.n))]
    counts = [n for n in counts if n not in {v.n for v in same}]
    return [c for n in counts if (c := _at_count(top, n, pics, cfg, budget, diff)) is not None][:most]


def settle(choice: Choice, tr, pics, cfg, budget: float, diff: Difficulty,
           say: Callable[[str], None], trs: Sequence = (), low: float | None = None, most: int | None = None,
           high: float | None = None, slack: float = 1.0, measured: bool = False) -> tuple[int, int, int]:
    """(keyframes, quality index, trial encodes) of *choice* trial-encoded by *tr* (the plan's keyframe
    strategy and encoder preset), corrected once from its measured size (see the module docstring):
    of the two, the larger that fits *high* x *budget*; where neither fits, coarser one step at a
    time until one does or a step leaves more than WALK_GIVE_UP of the bytes.  *trs*: trial encodes of the codec and size at
    *tr*'s preset so far (with *tr*): where there are some, the quality is chosen by the model refitted
    to them (:func:`local_model`) before the first encode, unless *measured* and *choice* was encoded by
    *tr* (then it is the start).  *low*, *most*, *high*: :func:`fill`'s."""
    low, high = (LOW if low is None else low), (HIGH if high is None else high)
    m = choice.model
    n, k = choice.n, choice.k
    trs = [tr, *(x for x in trs if x is not tr)]
    if measured and (n, m.qualities[k]) in tr.size:
        pass  # the choice is a measurement (resettle): no guess before it
    elif any(x.size for x in trs) and (c0 := choose([local_model(m, trs, n)], pics, cfg, budget, diff, [n])) is not None:
        k = c0.k
    tried = {(n, k): tr.bytes(n, m.qualities[k])}
    say(f"rate control: model candidate {m.codec} {tr.cfg.strategy} keyframes, downscale {m.downscale}, {n} keyframes, "
        f"quality {m.qualities[k]}: modelled {8 * choice.bytes:.0f} bits, measured {8 * tried[n, k]} bits of "
        f"{8 * budget:.0f}")
    if not low * budget <= tried[n, k] <= high * budget:
        c2 = choose([local_model(m, trs, n)], pics, cfg, budget, diff, [n], CORRECTION_AIM)
        if c2 is not None and (c2.n, c2.k) != (n, k):
            n, k = c2.n, c2.k
            tried[n, k] = tr.bytes(n, m.qualities[k])
            say(f"rate control: correction to {n} keyframes, quality {m.qualities[k]}: {8 * tried[n, k]} bits")
    fits = [key for key, size in tried.items() if size <= high * budget]
    if fits:
        n, k = max(fits, key=tried.__getitem__)
    encodes = len(tried)
    while (size := tr.bytes(n, m.qualities[k])) > high * budget and k < len(m.qualities) - 1:  # missed twice: coarser
        k += 1
        encodes += 1
        if WALK_GIVE_UP is not None and tr.bytes(n, m.qualities[k]) > WALK_GIVE_UP * size:
            say(f"rate control: {n} keyframes at quality {m.qualities[k]}: {8 * tr.bytes(n, m.qualities[k])} bits, "
                f"the bytes no longer fall with the quantiser: no coarser")
            break
    n, k, more = fill(tr, m, n, k, len(pics), budget, say, trs, low, most, high, slack)
    return n, k, encodes + more


def fill(tr, m: CodecModel, n: int, k: int, t: int, budget: float, say: Callable[[str], None],
         trs: Sequence = (), low: float | None = None, most: int | None = None,
         high: float | None = None, slack: float = 1.0) -> tuple[int, int, int]:
    """(keyframes, quality index, trial encodes): while the size of (*n*, *k*) is below *low* x *budget*
    (at most *most* trial encodes), a step up that fits *high* x *budget*: a finer quality where the model
    refitted to the measurements (:func:`local_model`, with *trs*) says it fits, else as many more
    keyframes as that model says fit CORRECTION_AIM x *budget* (at least one), else the finer quality
    predicted at most *slack* x the ceiling, at no fewer keyframes (:func:`resettle`: FILL_SLACK); the
    finer quality may be at another count measured at this quality (one that came out smaller).  A quantiser step is
    10-15 % of the bits at these rates; a keyframe more 1-5 %, and its share grows with the count as
    ``beta`` says (0.4-1.3); after a count that overshot, fewer (the refit with it).  A step that comes out smaller
    is not taken (a VVC sequence's bytes can fall with a keyframe more: carphone 10 to 11 of 64).  *low*,
    *most*, *high* None: LOW, FILL, HIGH."""
    low, most, high = (LOW if low is None else low), (FILL if most is None else most), (HIGH if high is None else high)
    q = m.qualities
    trs = [tr, *(x for x in trs if x is not tr)]
    encodes = 0
    refused: set = set()  # steps not taken: ...
    overshot: set = set()  # ... those that came out too large (no more keyframes than these at that quality)
    while encodes < most and (size := tr.bytes(n, q[k])) < low * budget:
        loc = local_model(m, trs, n)
        pred = lambda n2, k2: size * loc.key_bytes(n2, k2) / loc.key_bytes(n, k)  # noqa: E731
        over = min((n2 for n2, k2 in overshot if k2 == k and n2 > n), default=t + 1)
        n2 = n + 1
        while n2 + 1 < over and n2 < t and pred(n2 + 1, k) <= CORRECTION_AIM * budget:
            n2 += 1
        # a finer quality at any count measured at this one, anchored at its measurement: a count that came
        # out smaller (refused) may leave room for it
        at_k = {n3: s3 for (n3, q3), s3 in tr.size.items() if q3 == q[k] and s3 <= high * budget}
        finer = sorted(((s3 * loc.key_bytes(n3, k - 1) / loc.key_bytes(n3, k), (n3, k - 1)) for n3, s3 in at_k.items()
                        if k > 0), reverse=True)
        steps = [st for p, st in finer if size < p <= high * budget and st not in refused][:1]
        # last, the finer quality predicted nearest the ceiling though above it (a quantiser step's ratio is
        # the model's, within a few per cent), at no fewer keyframes (fewer may be what scored worse)
        near = [st for p, st in sorted(finer) if size < p <= slack * high * budget and st not in refused
                and st[0] >= n][:1]
        step = next((s for s in [*steps, (n2, k), *near] if s != (n, k) and s[0] <= t and (s[0] < over or s[1] != k)
                     and s not in refused), None)
        if step is None:
            break
        encodes += (step[0], q[step[1]]) not in tr.size
        b = tr.bytes(step[0], q[step[1]])
        if b <= high * budget and b > size:
            n, k = step
            say(f"rate control: filled to {n} keyframes, quality {q[k]}: {8 * b} bits")
        else:
            refused.add(step)
            if b > high * budget:
                overshot.add(step)
            say(f"rate control: not filled to {step[0]} keyframes, quality {q[step[1]]}: {8 * b} bits")
    return n, k, encodes


@dataclasses.dataclass
class Verified:
    """A shortlisted candidate, settled and scored."""

    model: CodecModel
    trials: object  # the _Trials of its encodes
    n: int
    quality: int
    score: float  # estimated MS-SSIM (rate_control.estimate_quality), -inf if it does not fit
    encodes: int


def verify(choices: Sequence[Choice], pics, cfg, budget: float, strategy: str, colour: Colour, diff: Difficulty,
           say: Callable[[str], None], estimate: Callable[..., float], tick: Callable[[], None] = lambda: None,
           trials: dict | None = None) -> list[Verified]:
    """Step 4: each of *choices* settled (:func:`settle`) with the encoder's own keyframe strategy and
    preset, then scored by the searches' estimate (decoded keyframes and reconstructed inner frames,
    MS-SSIM; VERIFY_FIT weights, at most VERIFY_PIXELS: *estimate* is
    :func:`cmvc.encoder.rate_control.estimate_quality`).  *trials*: the trial encodes by (codec, coded
    size, strategy), kept across calls."""
    trials = {} if trials is None else trials
    out = []
    for c in choices:
        m = c.model
        key = (m.codec, m.downscale, strategy)
        tr = _trials_of(trials, pics, cfg, m, strategy, colour)
        n, k, encodes = settle(c, tr, pics, cfg, budget, diff, say,
                               [x for (cd, ds, _), x in trials.items() if (cd, ds) == key[:2]])
        q = m.qualities[k]
        if (n, q) in tr.scores:  # settled where an earlier candidate did
            continue
        tr.scores[n, q] = (estimate(pics, tr, n, q, "ms-ssim", fit=VERIFY_FIT, max_pixels=VERIFY_PIXELS,
                                    rife_scale=min(tr.cfg.rife_scale + VERIFY_SCALE_STEP, 2))
                           if tr.bytes(n, q) <= budget else -math.inf)
        score = tr.scores[n, q]
        say(f"rate control: estimated ms-ssim {score:.4f} for {n} keyframes at quality {q}, {8 * tr.bytes(n, q)} bits")
        out.append(Verified(m, tr, n, q, score, encodes))
        tick()
    return out


def _trials_of(trials: dict, pics, cfg, m: CodecModel, strategy: str, colour: Colour):
    """The trial encodes at VERIFY_PRESET of *m*'s codec and size with *strategy*, from *trials* (by
    codec, coded size and strategy) or new there."""
    from .trials import _Trials

    key = (m.codec, m.downscale, strategy)
    if key not in trials:
        trials[key] = _Trials(pics, dataclasses.replace(cfg, codec=m.codec, vvc_preset=VERIFY_PRESET or cfg.vvc_preset),
                              m.downscale, colour, strategy)
    return trials[key]


def explore(ranked: Sequence[Choice], loose: Sequence[Choice], pics, cfg, budget: float, strategies: Sequence[str],
            colour: Colour, diff: Difficulty, say: Callable[[str], None], tick: Callable[[], None],
            estimate: Callable[..., float]) -> list[Verified]:
    """Step 4, the candidates scored (:func:`verify`), in this order: the model's best of each codec
    (:func:`firsts`); for each codec, fewer and more keyframes (:func:`next_counts`); for the best
    scored codec, its best at the coded sizes next to the best's (:func:`other_sizes`, from *loose*:
    the ranking at the whole budget, where a size whose coarsest quality fits only the budget's last
    few percent still has a candidate); the best's count and quality with each other keyframe
    strategy of *strategies* (unless it places the same keyframes there: dense keyframes leave it
    no choice, bikes 64 frames at 33), and its count search where it scores better there.  Each count
    search: twice (fewer and more, then one step)."""
    trials: dict = {}

    def run(choices: Sequence[Choice], strategy: str = strategies[0]) -> list[Verified]:
        return verify(choices, pics, cfg, budget, strategy, colour, diff, say, estimate, tick, trials)

    found = run(firsts(ranked))
    for most in (2, 1):
        for codec in {c.model.codec: None for c in found}:
            found += run(next_counts(found, pics, cfg, budget, diff, codec, most))
    found += run(other_sizes(found, loose))
    if not found:
        return found
    top = max(found, key=lambda v: v.score)
    for other in strategies[1:]:
        if _trials_of(trials, pics, cfg, top.model, other, colour).keyframes(top.n) == top.trials.keyframes(top.n):
            say(f"rate control: {other} keyframes are the same at {top.n}")
            continue
        k = top.model.qualities.index(top.quality)
        at = run([Choice(top.model, top.n, k, top.trials.bytes(top.n, top.quality), 0.0)], other)
        found += at
        if not at or at[0].score <= top.score:  # no better at the best count: no count search of its own
            continue
        for most in (2, 1):
            found += run(next_counts(found, pics, cfg, budget, diff, top.model.codec, most, other), other)
    return found


def coarsest(codecs: Sequence[str], pics, cfg, budget: float, downscales: Sequence[int], strategy: str, colour: Colour,
             estimate: Callable[..., float], say: Callable[[str], None]) -> list[Verified]:
    """For budgets below every scored candidate: per codec of *codecs* and coded size, the most
    keyframes that fit HIGH x *budget* at the coarsest quality (from 2 up, trial-encoded at the
    encoder's preset), scored.  A rate model extrapolated that far errs (AV1's bytes fall faster at
    its coarsest CRFs than the fit's slope says)."""
    from .trials import _qualities, _Trials, searched

    out = []
    for c in codecs:
        q = _qualities(CODEC_NAMES[c])
        for ds in downscales:
            if not searched(pics, ds):
                continue
            tr = _Trials(pics, dataclasses.replace(cfg, codec=c), ds, colour, strategy)
            n = 2
            while n < len(pics) and tr.bytes(n + 1, q[-1]) <= HIGH * budget:
                n += 1
            if tr.bytes(n, q[-1]) > budget:
                continue
            score = estimate(pics, tr, n, q[-1], "ms-ssim", fit=VERIFY_FIT, max_pixels=VERIFY_PIXELS,
                             rife_scale=min(tr.cfg.rife_scale + VERIFY_SCALE_STEP, 2))
            say(f"rate control: {c} downscale {ds}, {n} keyframes at quality {q[-1]}: {8 * tr.bytes(n, q[-1])} bits, "
                f"estimated ms-ssim {score:.4f}")
            model = CodecModel(c, ds, q, 2, 0.0, -1e-3, 1.0, 0.0, -0.05, tr)
            out.append(Verified(model, tr, n, q[-1], score, len(tr.size)))
    return out


def _fewest(models: Sequence[CodecModel], budget: float, trials_of: Callable[[CodecModel], object]) -> Verified:
    """Two keyframes, trial-encoded by ``trials_of(model)`` (the encoder's preset), of the largest
    coded size where they fit *budget* bytes at the coarsest quality, there at the finest quality
    that fits (a galloping search from the coarsest; docs/encoder.md, "the fewest bits, filled"),
    else of the fewest bytes at the coarsest quality."""
    from .trials import first_fitting

    sized = []
    for m in sorted(models, key=lambda m: m.downscale):
        tr = trials_of(m)
        sized.append((tr.bytes(2, m.qualities[-1]), m, tr))
        if sized[-1][0] <= budget:
            break
    if sized[-1][0] > budget:
        _, m, tr = min(sized, key=lambda x: x[0])
        return Verified(m, tr, 2, m.qualities[-1], -math.inf, len(sized))
    _, m, tr = sized[-1]
    q = m.qualities
    before = len(tr.size)
    k = first_fitting(lambda i: tr.bytes(2, q[i]) <= budget, len(q), hint=len(q) - 1)
    return Verified(m, tr, 2, q[len(q) - 1 if k is None else k], -math.inf, len(sized) + len(tr.size) - before)


def resettle(best: Verified, pics, cfg, budget: float, colour: Colour, diff: Difficulty,
             say: Callable[[str], None]) -> tuple[Verified, int]:
    """(*best* settled again at the encoder's vvenc preset when it was scored at another, trial encodes
    made); unchanged for other codecs and for candidates that did not fit.  At most FINAL_TRIES encodes
    at the encoder's preset, each of the point that :func:`settle` and :func:`fill` find among the
    cheaper encodes at the scoring preset (from *best*'s count and quality, its own measurement the
    start: RESETTLE_FROM_MEASURED) for [FINAL_LOW, FINAL_HIGH]
    x *budget*, then that scaled by the two presets' bytes at the last point encoded at both, until one
    lands in that window (vvenc slow takes 2-3 times medium's time and 3-6 times faster's; at the same
    quantiser faster's bytes are 0.98-1.17 times slow's).  A candidate scored at the encoder's own
    preset (AV1; VVC with ``--vvc-preset`` the scoring one) is filled towards that window with its own
    trial encodes (:func:`fill`)."""
    if best.score == -math.inf:
        return best, 0
    if best.trials.cfg.vvc_preset == cfg.vvc_preset or best.model.codec != "vvc":
        k = best.model.qualities.index(best.quality)
        n, k, more = fill(best.trials, best.model, best.n, k, len(pics), budget, say, (), FINAL_LOW, FINAL_FILL,
                          FINAL_HIGH, FILL_SLACK)
        return dataclasses.replace(best, n=n, quality=best.model.qualities[k]), more
    from .trials import UNAVAILABLE, _Trials

    own = _Trials(pics, dataclasses.replace(cfg, codec=best.model.codec), best.model.downscale, colour,
                  best.trials.cfg.strategy)
    m = best.model
    q = m.qualities
    n, k, encodes = best.n, q.index(best.quality), 0
    scaled = budget
    for _ in range(FINAL_TRIES):
        c = Choice(m, n, k, best.trials.bytes(n, q[k]), 0.0)
        n, k, more = settle(c, best.trials, pics, cfg, scaled, diff, say, low=FINAL_LOW, most=FINAL_FILL,
                            high=FINAL_HIGH, slack=FILL_SLACK, measured=RESETTLE_FROM_MEASURED)
        encodes += more
        if (n, q[k]) in own.size:
            break
        size = own.bytes(n, q[k])
        encodes += 1
        say(f"rate control: {n} keyframes at quality {q[k]} at vvenc preset {cfg.vvc_preset}: {8 * size} bits")
        if FINAL_LOW * budget <= size <= FINAL_HIGH * budget or size >= UNAVAILABLE:
            break
        scaled = budget * best.trials.bytes(n, q[k]) / size
    fits = [key for key, size in own.size.items() if size <= FINAL_HIGH * budget]
    if fits:
        n, kq = max(fits, key=own.size.__getitem__)
        k = q.index(kq)
    while own.bytes(n, q[k]) > FINAL_HIGH * budget and k < len(q) - 1:  # none fits: coarser
        k += 1
        encodes += 1
    return dataclasses.replace(best, trials=own, n=n, quality=q[k]), encodes


def diagonal(landed: Verified, scored: Verified, pics, budget: float, say: Callable[[str], None],
             estimate: Callable[..., float]) -> tuple[Verified, int]:
    """(*landed*, or a point between its quantiser and keyframe steps; trial encodes made).  Where the
    landing (:func:`resettle`, at the encoder's preset) stays below FINAL_LOW x *budget* because the
    next finer quantiser and the next keyframe both overshoot (a quantiser step is 10-15 % of the bits,
    and a VVC sequence's bytes can jump 15 % with one keyframe more), a rate between them: j more
    keyframes (1..DIAGONAL) at the next coarser quantiser, or, past counts that came out smaller than
    the landed one at the scoring preset (a VVC sequence's bytes can fall with a keyframe more:
    bigbuckbunny 132 frames, QP 50, 8 keyframes 57 624 bits, 9 55 080, 10 62 664), more keyframes at
    the landed quantiser; of these, the step that the model refitted to the scoring preset's encodes
    (:func:`local_model`) puts nearest CORRECTION_AIM x *budget*.  It is
    encoded at the scoring preset (*scored*'s trials), taken to the encoder's preset by the two
    presets' bytes at the landed point, and kept only where it scores no worse than the landed
    point (both estimated as :func:`verify` does) and lands in [FINAL_LOW, FINAL_HIGH] x *budget* at
    the encoder's preset."""
    own, med, m = landed.trials, scored.trials, landed.model
    q = m.qualities
    n, k = landed.n, q.index(landed.quality)
    size = own.bytes(n, q[k])
    if (not DIAGONAL or landed.score == -math.inf or m.codec != "vvc" or own is med or k + 1 >= len(q)
            or n >= len(pics) or size >= FINAL_LOW * budget):
        return landed, 0
    before = len(own.size) + len(med.size)
    loc = local_model(m, [med], n)
    top = min(len(pics), n + DIAGONAL)
    steps = [(n2, k + 1) for n2 in range(n + 1, top + 1)]
    ratio = med.bytes(n, q[k]) / size  # the scoring preset's bytes over the encoder's at the landed point
    n2 = n + 1  # past counts that came out smaller at the scoring preset: more keyframes at the landed quantiser
    while n2 < top and med.size.get((n2, q[k]), math.inf) <= med.size[n, q[k]]:
        n2 += 1
        steps.append((n2, k))
    pred = {st: size * loc.key_bytes(*st) / loc.key_bytes(n, k) for st in steps}
    n2, k2 = min(steps, key=lambda st: abs(math.log(pred[st] / (CORRECTION_AIM * budget))))
    at = med.bytes(n2, q[k2]) / ratio
    say(f"rate control: diagonal step to {n2} keyframes at quality {q[k2]}: {8 * med.bytes(n2, q[k2])} bits at "
        f"vvenc preset {med.cfg.vvc_preset}, about {8 * at:.0f} at {own.cfg.vvc_preset}")
    if not FINAL_LOW * budget <= at <= FINAL_HIGH * budget:
        return landed, len(own.size) + len(med.size) - before

    def score(nn: int, qq: int) -> float:
        if (nn, qq) not in med.scores:
            med.scores[nn, qq] = estimate(pics, med, nn, qq, "ms-ssim", fit=VERIFY_FIT, max_pixels=VERIFY_PIXELS,
                                          rife_scale=min(med.cfg.rife_scale + VERIFY_SCALE_STEP, 2))
        return med.scores[nn, qq]

    s0, s1 = score(n, q[k]), score(n2, q[k2])
    say(f"rate control: estimated ms-ssim {s1:.4f} for {n2} keyframes at quality {q[k2]}, {s0:.4f} for {n} at {q[k]}")
    if s1 >= s0 and FINAL_LOW * budget <= own.bytes(n2, q[k2]) <= FINAL_HIGH * budget:
        say(f"rate control: {n2} keyframes at quality {q[k2]} at vvenc preset {own.cfg.vvc_preset}: "
            f"{8 * own.bytes(n2, q[k2])} bits")
        return dataclasses.replace(landed, n=n2, quality=q[k2], score=s1), len(own.size) + len(med.size) - before
    return landed, len(own.size) + len(med.size) - before


def model_plan(pics, cfg, target_bits: float, *, codecs: Sequence[str], downscales: Sequence[int],
               strategies: Sequence[str], estimate: Callable[..., float], colour: Colour | None = None,
               progress: Callable[[str], None] | None = None, advance: Callable[[int, int], None] | None = None,
               fallback_codecs: Sequence[str] = ()):
    """The :class:`~cmvc.encoder.rate_control.RatePlan` of the model (module docstring); its ``timings``
    give the seconds of each step.  *estimate*: :func:`cmvc.encoder.rate_control.estimate_quality`.
    *fallback_codecs*: when no scored candidate fits the budget, these codecs' most keyframes at their
    coarsest quality are scored too (:func:`coarsest`; AV1 reaches below VVC: bikes at 0.5x vvenc's
    bits, docs/encoder.md)."""
    from .trials import Candidate, RatePlan, _qualities

    say = progress or (lambda msg: None)
    colour = colour or Colour()
    for c in codecs:
        _qualities(CODEC_NAMES[c])  # E101 for a codec the model cannot steer
    budget = target_bits / 8
    t = len(pics)
    units = (sum(g <= t - 1 for g in FIRST_PASS_GAPS) * FIRST_PASS_SEGMENTS + len(CALIBRATION_GAPS)
             + 3 * len(codecs) * len(downscales) + 3 * len(codecs) + 4 * len(strategies) - 1)
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
              if (m := fit_codec(pics, cfg, c, ds, colour, budget, diff, tick)) is not None]
    timings["rate_model"] = time.perf_counter() - t0
    for m in models:
        say(f"rate control: rate model {m.codec} downscale {m.downscale}: bytes exp({m.a:.2f} {m.b:+.3f} k) "
            f"(n/{m.n0})^{m.beta:.2f}, keyframe error x(bytes/n)^{m.d:.2f}, interpolation error x{m.lam:.2f}")
    t0 = time.perf_counter()
    ranked = rank(models, pics, cfg, budget, diff)
    if not ranked:  # nothing fits even at the coarsest quality: the fewest bits
        m = min(models, key=lambda m: m.key_bytes(2, len(m.qualities) - 1))
        ranked = [Choice(m, 2, len(m.qualities) - 1, m.key_bytes(2, len(m.qualities) - 1), float("inf"))]
    fallbacks = [c for c in fallback_codecs if c not in codecs]
    for c in fallbacks:
        _qualities(CODEC_NAMES[c])
    timings["choice"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("rate control: keyframe encodes, correction and estimate of the model's best candidates")
    found = explore(ranked, rank(models, pics, cfg, budget, diff, aim=1.0), pics, cfg, budget, strategies, colour, diff,
                    say, tick, estimate)
    if fallbacks and max((v.score for v in found), default=-math.inf) == -math.inf:  # no candidate fitted: the fallback codecs' fewest bits
        say(f"rate control: no candidate fits: {', '.join(fallbacks)} at the coarsest quality")
        found += coarsest(fallbacks, pics, cfg, budget, downscales, strategies[0], colour, estimate, say)
    scored = max(found, key=lambda v: v.score)
    encodes = sum(v.encodes for v in found)
    best, more = resettle(scored, pics, cfg, budget, colour, diff, say)
    encodes += more
    best, more = diagonal(best, scored, pics, budget, say, estimate)
    encodes += more
    tr, n, q = best.trials, best.n, best.quality
    if tr.bytes(n, q) > budget:  # the budget is below what the model thought the coarsest point costs
        from .trials import _Trials

        best = _fewest(models, budget, lambda m: _Trials(pics, dataclasses.replace(cfg, codec=m.codec), m.downscale,
                                                         colour, strategies[0]))
        tr, n, q, encodes = best.trials, best.n, best.quality, encodes + best.encodes
    timings["verify"] = time.perf_counter() - t0
    if advance:
        advance(units, units)
    interval = max(1, round((t - 1) / (n - 1)))
    size = tr.bytes(n, q)
    cand = Candidate(best.model.downscale, interval, q, size, best.score, tr.cfg.strategy, best.model.codec, n)
    return RatePlan(interval, q, size, 3 * len(models) + encodes, best.model.downscale, best.score, [cand], tr.cfg.strategy,
                    best.model.codec, n, timings, fit_pixels=FIT_PIXELS)
