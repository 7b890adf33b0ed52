"""Trial keyframe encodes and the plans rate control makes of them (shared by the searches of
:mod:`cmvc.encoder.rate_control` and the model of :mod:`cmvc.encoder.rate_model`; not normative).

Keyframes carry nearly all the bits, so trial-encoding only the keyframes predicts the size of a
stream to a few bytes (:func:`fixed_bytes` adds the rest).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..errors import CmvcError, error
from ..keyframes import CODEC_NAMES, Colour, get_codec
from ..registry import CodecId
from .keyframe_select import interpolation_cost, select_keyframes
from .memo import coded_memo, memo_key

UNIT_FRAMING = 3 + 4  # unit_type, flags, payload_size (1 byte below 128) and unit_crc


def unit_framing(cfg) -> int:
    """Bytes of a small unit's framing with *cfg*'s unit CRCs or without them."""
    return UNIT_FRAMING if cfg.unit_crc else UNIT_FRAMING - 4

def keyframe_bytes(codec: CodecId, coded: list, cfg) -> int:
    """Exact bytes of the units that carry the coded keyframes *coded* ((params, data) pairs) as the
    encoder writes them (:func:`cmvc.encoder.pipeline.keyframe_units`: keyframe groups unless *cfg* says not)."""
    from .pipeline import keyframe_units
    from ..syntax import KeyframeUnit
    from ..syntax.descriptors import encode_leb128
    from ..write import build_payload

    units = keyframe_units([KeyframeUnit(frame_index=i, codec_id=codec, codec_params=p, keyframe_data=d)
                            for i, (p, d) in enumerate(coded)], cfg.keyframe_group)
    n = 0
    for ut, u in units:
        size = len(build_payload(ut, u))
        n += 2 + len(encode_leb128(size)) + size + (4 if cfg.unit_crc else 0)
    return n


MIN_SEARCHED_SIDE = 16  # rate control searches a reduced coded size only while its smaller side keeps this many samples


def searched(pics, ds: int) -> bool:
    """Whether rate control searches coded size 1/*ds* of *pics* (full size always)."""
    return ds == 1 or min(-(-pics[0].width // ds), -(-pics[0].height // ds)) >= MIN_SEARCHED_SIDE


def check_downscales(width: int, height: int, downscales) -> None:
    """E101 (a caller error) when rate control would search none of *downscales* for *width* x *height*."""
    from types import SimpleNamespace

    pics = [SimpleNamespace(width=width, height=height)]
    if downscales and not any(searched(pics, d) for d in downscales):
        most = max(d for d in range(1, max(width, height) + 1) if searched(pics, d))
        d = downscales[0]
        raise error("E101", f"--downscale {', '.join(map(str, downscales))}: {width}x{height} would be coded at "
                            f"{-(-width // d)}x{-(-height // d)}; rate control searches coded sizes with a side of at "
                            f"least {MIN_SEARCHED_SIDE} samples (at most --downscale {most} here)")


UNAVAILABLE = 1 << 62  # predicted bytes of a trial the keyframe encoder could not make: never fits


@dataclasses.dataclass
class Candidate:
    """One operating point the search looked at."""

    downscale: int
    interval: int  # the ladder interval; for a count of the refinement, the mean spacing, rounded
    quality: int | tuple[int, ...]  # a tuple: one VVC QP per shot (refine_shots)
    predicted_bytes: int
    score: float | None = None  # estimated MS-SSIM (or PSNR, dB) of the decoded video
    strategy: str = "feature"
    codec: str = "av1"
    keyframes: int | None = None  # number of keyframes


@dataclasses.dataclass
class RatePlan:
    interval: int
    quality: int | tuple[int, ...]
    predicted_bytes: int
    trials: int  # keyframe trial encodes (new ones: those found in the plan's cache are not counted)
    downscale: int = 1
    score: float | None = None
    candidates: list[Candidate] = dataclasses.field(default_factory=list)
    strategy: str = "feature"
    codec: str = "av1"
    keyframes: int | None = None  # number of keyframes (None: as many as the interval gives)
    timings: dict = dataclasses.field(default_factory=dict)  # seconds per step (method "model")
    max_bytes: int | None = None  # the budget, a bound on the stream (EncoderConfig.max_bytes)
    fit_pixels: int | None = None  # EncoderConfig.fit_pixels of the encode (None: the caller's)

    def apply(self, cfg):
        """*cfg* (an :class:`~cmvc.encoder.pipeline.EncoderConfig`) with this plan's keyframe count (or
        interval), quality, size, strategy, codec, bound on the stream's bytes and weight fit's flow scale."""
        return dataclasses.replace(cfg, interval=self.interval, quality=self.quality, downscale=self.downscale,
                                   strategy=self.strategy, codec=self.codec, keyframes=self.keyframes,
                                   max_bytes=cfg.max_bytes if self.max_bytes is None else self.max_bytes,
                                   fit_pixels=cfg.fit_pixels if self.fit_pixels is None else self.fit_pixels)


def fixed_bytes(pics, cfg, kf: list[int]) -> int:
    """Bytes of everything but the keyframe payloads: file header, sequence header, frame hash,
    end of stream, metadata, and an allowance for the one interpolation-parameter unit the encoder
    writes for all segments (:func:`cmvc.encoder.pipeline.interp_params_unit`): its fields and 7 bits per
    inner frame (the exhaustive fit's Exp-Golomb values took 6-7 bits each on carphone at intervals 8
    and 32), 5 for the ``descend`` fit (its steps from the prediction are short: 4.2 bits each on
    carphone, 64 frames, 7 keyframes)."""
    from .. import __version__
    from ..registry import ReconProfile
    from ..registry import ModelRole
    from ..syntax import SEQUENCE_HEADER, model_entry
    from ..write import make_sequence_header
    from ..zoo import RIFE_V4

    rife = cfg.profile == "rife"
    models = [model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name)] if rife else []
    sh = make_sequence_header(pics[0].width, pics[0].height, len(pics), kf, fps=(30000, 1001), models=models,
                              recon_profile=ReconProfile.RIFE if rife else ReconProfile.BLEND,
                              recon_model=0 if rife else 255)
    framing = unit_framing(cfg)
    n = 12 + len(SEQUENCE_HEADER.build(sh)) + framing + framing  # + end of stream
    if cfg.write_hash:
        n += framing + 4 + (16 * len(pics) if cfg.hash_type == "frame" else 16)
    if cfg.metadata:
        n += 2 * framing + 30 + len(__version__) + len(cfg.source_name)
    inner = sum(b - a - 1 for a, b in zip(kf, kf[1:]))
    if cfg.fit != "none" and inner:
        from ..syntax.descriptors import encode_leb128

        per = 5 if cfg.fit == "descend" else 7
        n += framing + 3 + 2 * len(encode_leb128(len(kf))) + -(-per * inner // 8)
    return n


class _Trials:
    """Trial keyframe encodes at one coded size, cached by (number of keyframes, quality)."""

    def __init__(self, pics, cfg, downscale: int, colour: Colour, strategy: str | None = None) -> None:
        from .features import features

        self.cfg = dataclasses.replace(cfg, downscale=downscale, keyframes=None, strategy=strategy or cfg.strategy)
        cfg = self.cfg
        self.downscale = downscale
        self.colour = colour
        w, h = -(-pics[0].width // downscale), -(-pics[0].height // downscale)
        if downscale > 1:
            from ..resample import downsample

            pics = [downsample(p, w, h) for p in pics]
        self.pics = pics
        self.codec = CODEC_NAMES[cfg.codec]
        self.feats = features(pics, cfg.feature) if cfg.strategy == "feature" else None
        self.cost = interpolation_cost(pics, cfg.profile) if cfg.strategy == "interp" else None  # every interval
        self.kf: dict[int, list[int]] = {}
        self.coded: dict[tuple[int, int], list] = {}
        self.size: dict[tuple[int, int], int] = {}
        self.hint: int | None = None  # quality index found by the last _best_quality search
        self.scores: dict[tuple[int, int], float] = {}  # estimate_quality results, by (keyframes, quality)
        self.failed: dict[tuple[int, int], str] = {}  # trials the keyframe encoder could not make (E203)

    def count(self, interval: int) -> int:
        """The number of keyframes a keyframe every *interval* frames gives."""
        from .pipeline import n_keyframes

        return n_keyframes(len(self.pics), dataclasses.replace(self.cfg, interval=interval))

    def keyframes(self, n: int) -> list[int]:
        """The *n* keyframes the strategy selects."""
        if n not in self.kf:
            self.kf[n] = select_keyframes(self.pics, n, self.cfg.strategy, self.cfg.feature, seed=self.cfg.seed,
                                          feats=self.feats, cost=self.cost)
        return self.kf[n]

    def bytes(self, n: int, quality: int) -> int:
        """Predicted stream bytes with *n* keyframes coded at *quality*; UNAVAILABLE (never fits) if
        the keyframe encoder could not code them (E203: vvenc 1.15 returns no pictures for some inputs,
        see :mod:`cmvc.keyframes.vvc`), so that rate control skips that trial instead of failing."""
        key = (n, quality)
        if key not in self.size:
            kf = self.keyframes(n)
            try:
                from .pipeline import codec_options

                opts = codec_options(self.codec, self.cfg)
                sel = [self.pics[i] for i in kf]
                coded = get_codec(self.codec).encode(sel, quality, self.colour, **opts)
                coded_memo(memo_key(self.codec, sel, quality, self.colour, opts), coded)
            except CmvcError as e:
                if e.code != "E203":
                    raise
                self.failed[key] = str(e)
                self.size[key] = UNAVAILABLE
                return UNAVAILABLE
            self.coded[key] = coded
            self.size[key] = keyframe_bytes(self.codec, coded, self.cfg) + fixed_bytes(self.pics, self.cfg, kf)
        return self.size[key]


def first_fitting(fits: Callable[[int], bool], n: int, hint: int | None = None) -> int | None:
    """The smallest index i < n with ``fits(i)``, for ``fits`` false then true along the indices
    (sizes fall as the quality index rises), or None if ``fits(n - 1)`` is false.

    Without *hint* a binary search; with one, a galloping search outward from it, which costs about
    2 log2(d) + 2 calls for an answer d steps away: trial encodes of neighbouring intervals land
    on neighbouring qualities, and each VVC trial encode takes about 0.5 s."""
    if hint is None:
        if not fits(n - 1):
            return None
        lo, hi = 0, n - 1
    else:
        h = min(max(hint, 0), n - 1)
        step = 1
        if fits(h):  # the answer is h or below: gallop down
            hi, lo = h, h
            while lo > 0:
                lo = max(0, hi - step)
                if not fits(lo):
                    lo += 1
                    break
                hi, step = lo, 2 * step
            else:
                return 0
        else:  # above h: gallop up
            lo = h + 1
            while True:
                if lo >= n:
                    return None
                hi = min(n - 1, lo + step - 1)
                if fits(hi):
                    break
                if hi == n - 1:
                    return None
                lo, step = hi + 1, 2 * step
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _qualities(codec: CodecId) -> list[int]:
    if codec == CodecId.AV1:
        return list(range(10, 64))  # CRF, best quality first
    if codec == CodecId.VVC:
        return list(range(20, 64))  # QP, best quality first
    if codec in (CodecId.AVIF, CodecId.WEBP):
        return list(range(95, -1, -5))
    raise error("E101", f"rate control supports av1, vvc, avif and webp keyframes, not {codec.name.lower()}")
