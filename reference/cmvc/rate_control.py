"""Rate control: choose the keyframe interval and the keyframe codec's quality for a bit budget.

Keyframes dominate the rate, so trial-encoding only the keyframes predicts the stream size well.
Starting from an interval of 8 frames (the best quality per bit measured on real clips), the encoder
takes the best quality (lowest AV1 CRF / highest AVIF or WebP quality) whose keyframes fit the
budget; if even the lowest quality does not fit, it spaces keyframes further apart; if the best
quality fits with room to spare, it places them closer.
"""
from __future__ import annotations

import dataclasses

from .errors import error
from .keyframe_select import select_keyframes
from .keyframes import CODEC_NAMES, get_codec
from .registry import CodecId

UNIT_FRAMING = 3 + 4  # unit_type, flags, payload_size (1 byte below 128) and unit_crc


@dataclasses.dataclass
class RatePlan:
    interval: int
    quality: int
    predicted_bytes: int
    trials: int


def _keyframe_bytes(pics, cfg, interval: int, quality: int, cache: dict) -> int:
    key = (interval, quality)
    if key not in cache:
        from .encoder import n_keyframes

        c = dataclasses.replace(cfg, interval=interval, keyframes=None)
        kf = select_keyframes(pics, n_keyframes(len(pics), c), cfg.strategy, cfg.feature, seed=cfg.seed)
        coded = get_codec(CODEC_NAMES[cfg.codec]).encode([pics[i] for i in kf], quality)
        cache[key] = sum(len(d) + 4 + UNIT_FRAMING for _, d in coded) + fixed_bytes(pics, cfg, kf)
    return cache[key]


def fixed_bytes(pics, cfg, kf: list[int]) -> int:
    """Bytes of everything but the keyframe payloads: file header, sequence header, frame hash,
    end of stream, metadata, and an allowance of 4 bytes per segment for interpolation parameters."""
    from . import __version__
    from .registry import ReconProfile
    from .syntax import SEQUENCE_HEADER, ModelEntry
    from .write import make_sequence_header
    from .zoo import RIFE_V4

    rife = cfg.profile == "rife"
    models = [ModelEntry(model_role=1, model_name=RIFE_V4.name, model_sha256=bytes(32))] if rife else []
    sh = make_sequence_header(pics[0].width, pics[0].height, len(pics), kf, fps=(30000, 1001), models=models,
                              recon_profile=ReconProfile.RIFE if rife else ReconProfile.BLEND,
                              recon_model=0 if rife else 255)
    n = 12 + len(SEQUENCE_HEADER.build(sh)) + UNIT_FRAMING + UNIT_FRAMING  # + end of stream
    if cfg.write_hash:
        n += UNIT_FRAMING + 4 + (16 * len(pics) if cfg.hash_type == "frame" else 16)
    if cfg.metadata:
        n += 2 * UNIT_FRAMING + 30 + len(__version__) + len(cfg.source_name)
    if cfg.fit != "none":
        n += (4 + UNIT_FRAMING) * (len(kf) - 1)
    return n


def plan(pics, cfg, target_bits: float) -> RatePlan:
    codec = CODEC_NAMES[cfg.codec]
    if cfg.downscale > 1:
        from .resample import downsample

        w, h = -(-pics[0].width // cfg.downscale), -(-pics[0].height // cfg.downscale)
        pics = [downsample(p, w, h) for p in pics]
    if codec == CodecId.AV1:
        qualities = list(range(10, 64))  # CRF, best quality first
    elif codec in (CodecId.AVIF, CodecId.WEBP):
        qualities = list(range(95, -1, -5))
    else:
        raise error("E101", f"rate control supports av1, avif and webp keyframes, not {cfg.codec}")
    budget = target_bits / 8
    cache: dict = {}
    t = len(pics)

    def best_quality(interval: int):
        lo, hi = 0, len(qualities) - 1  # find the first (best) quality that fits
        if _keyframe_bytes(pics, cfg, interval, qualities[hi], cache) > budget:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if _keyframe_bytes(pics, cfg, interval, qualities[mid], cache) <= budget:
                hi = mid
            else:
                lo = mid + 1
        return qualities[lo]

    interval = min(8, t - 1)
    q = best_quality(interval)
    if q is None:  # too many bits even at the lowest quality: fewer keyframes
        for interval in [12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024]:
            interval = min(interval, t - 1)
            q = best_quality(interval)
            if q is not None or interval == t - 1:
                break
        if q is None:
            q = qualities[-1]
    elif q == qualities[0]:  # room to spare: more keyframes
        for smaller in [6, 4, 3, 2, 1]:
            q2 = best_quality(smaller)
            if q2 is None:
                break
            interval, q = smaller, q2
    return RatePlan(interval, q, _keyframe_bytes(pics, cfg, interval, q, cache), len(cache))
