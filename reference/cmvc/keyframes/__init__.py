"""§7.2 Keyframe decoding, and the matching encoders.

Each codec provides ``encode(pictures, quality, colour) -> [(codec_params, keyframe_data)]`` for all
keyframes of a stream at once (AV1 and VVC code them as one sequence) and
``decoder(sequence_header, models)``, a stateful object called once per keyframe unit in stream
order: ``decode(keyframe_unit) -> Picture``, or, for codecs whose pictures come out in an order of
their own (VVC, §7.2.5), ``output(keyframe_unit) -> [Picture]`` (the pictures output so far) and
``flush() -> [Picture]`` after the last unit.  :class:`KeyframeDecoder` hides the difference.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import error
from ..registry import CodecId


@dataclasses.dataclass(frozen=True)
class Colour:
    matrix_coefficients: int = 1
    full_range: bool = False


SHOT_BINS = 16  # histogram bins per plane of :func:`shot_starts`
SHOT_THRESHOLD = 0.3  # histogram distance above which two keyframes are of different shots


def histogram_distance(a, b) -> float:
    """Mean over the Y', Cb and Cr planes of half the L1 distance between the two pictures'
    normalised SHOT_BINS-bin histograms: 0 for equal histograms, 1 for disjoint ones."""
    def hist(p):
        return [np.bincount(pl.ravel() >> 4, minlength=SHOT_BINS) / pl.size for pl in p.planes()]
    return float(sum(0.5 * np.abs(x - y).sum() for x, y in zip(hist(a), hist(b))) / 3)


def shot_starts(pictures, threshold: float = SHOT_THRESHOLD) -> list[int]:
    """Indices k of the keyframes that begin a new shot: those whose colour histogram is further
    than *threshold* (:func:`histogram_distance`) from keyframe k - 1's.  An inter codec starts a new
    coded sequence there (an intra picture) instead of predicting across the cut (encoder choice,
    not normative; the threshold's measurements: docs/experiments.md §2.3)."""
    return [k for k in range(1, len(pictures)) if histogram_distance(pictures[k - 1], pictures[k]) > threshold]


#: §7.2: an AV1 or VVC picture has at most (coded_width + 64) * (coded_height + 64) luma samples (the
#: encoders pad odd and tiny sizes); a decoder checks the size each picture declares before decoding it.
PADDING_ALLOWANCE = 64


def max_pixels(sh) -> int:
    """§7.2: the most luma samples an AV1 or VVC picture may have, given to the decoder as FFmpeg's
    ``max_pixels``: dav1d (``frame_size_limit``) and FFmpeg's VVC decoder check each picture's size
    from its headers against it before allocating the picture (a larger one does not decode: E024)."""
    return (sh.coded_width + PADDING_ALLOWANCE) * (sh.coded_height + PADDING_ALLOWANCE)


def too_large(unit, sh, what: str, got: tuple[int, int] | None = None) -> str:
    w, h = sh.coded_width + PADDING_ALLOWANCE, sh.coded_height + PADDING_ALLOWANCE
    size = f" of {got[0]}x{got[1]}" if got else ""
    return (f"keyframe {unit.frame_index}: the {what} declares a picture{size} of more than {w * h} luma samples "
            f"({w}x{h}, the coded size + {PADDING_ALLOWANCE})")


def get_codec(codec_id: CodecId):
    codec_id = CodecId(codec_id)
    if codec_id == CodecId.PNG:
        from . import png
        return png
    if codec_id in (CodecId.AVIF, CodecId.WEBP):
        from . import still
        return still.AVIF if codec_id == CodecId.AVIF else still.WEBP
    if codec_id == CodecId.AV1:
        from . import av1
        return av1
    if codec_id == CodecId.VVC:
        from . import vvc
        return vvc
    if codec_id == CodecId.HYPERPRIOR:
        from . import hyperprior
        return hyperprior
    raise error("E101", f"no codec for {codec_id}")  # pragma: no cover


CODEC_NAMES = {"png": CodecId.PNG, "avif": CodecId.AVIF, "webp": CodecId.WEBP, "av1": CodecId.AV1, "vvc": CodecId.VVC,
               "hyperprior": CodecId.HYPERPRIOR}


class KeyframeDecoder:
    """Decodes the keyframe units of one codec in stream order and pairs each output picture with
    the unit whose keyframe it is (the k-th output picture is the k-th unit's keyframe, §7.2)."""

    def __init__(self, codec_id: CodecId, sh, models=None, device: str = "cpu") -> None:
        codec = get_codec(codec_id)  # only the networks of HYPERPRIOR take a device (cpu, cuda, auto)
        self.dec = codec.decoder(sh, models, device=device) if codec_id == CodecId.HYPERPRIOR else codec.decoder(sh, models)
        self.waiting: list = []  # units whose picture has not come out yet, in stream order

    def push(self, unit) -> list[tuple[object, object]]:
        """Decode one unit; returns (unit, picture) for every picture output by it."""
        self.waiting.append(unit)
        pics = self.dec.output(unit) if hasattr(self.dec, "output") else [self.dec.decode(unit)]
        return self._pair(pics, unit)

    def finish(self) -> list[tuple[object, object]]:
        """Pictures still in the decoder after the last unit; E024 if a unit got no picture."""
        out = self._pair(self.dec.flush(), None) if hasattr(self.dec, "flush") else []
        if self.waiting:
            u = self.waiting[0]
            e = error("E024", f"keyframe {u.frame_index}: the keyframe bitstream ended with "
                              f"{len(self.waiting)} keyframe(s) not output")
            e.unit = u  # the unit at fault (spec §6.6: the first left without a picture), for the caller's offset
            raise e
        return out

    def _pair(self, pics, unit) -> list[tuple[object, object]]:
        if len(pics) > len(self.waiting):
            where = f"keyframe {unit.frame_index}" if unit is not None else "end of the keyframe bitstream"
            raise error("E024", f"{where}: the keyframe bitstream output {len(pics) - len(self.waiting)} more "
                                f"picture(s) than there are keyframe units")
        done, self.waiting = self.waiting[: len(pics)], self.waiting[len(pics):]
        return list(zip(done, pics))


def decode_keyframes(codec_id: CodecId, sh, units, models=None) -> list:
    """The decoded pictures of *units* (keyframe units of one codec, in stream order), in that order."""
    kd = KeyframeDecoder(codec_id, sh, models)
    pairs = [p for u in units for p in kd.push(u)] + kd.finish()
    return [pic for _, pic in pairs]
