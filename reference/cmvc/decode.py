"""§7 Decoding process: stream -> pictures, in output order, in memory bounded by the level (§7.1, §9.3).

1. Parse and validate the stream (§6); the first error is raised before any frame is output.
2. Decode the keyframes in stream order (§7.2), each only when the next segment needs it.
3. For each segment, take q_i / q_l from its interp_params_unit or the linear prediction (§4.6.2),
   reconstruct its inner frames with the stream's reconstruction profile (§7.3-7.6) and output them,
   then the keyframe that ends it; the keyframe that began it is released.
4. Optionally verify the frame hashes as the frames go by (§7.9): E023 for a frame made by normative
   processes only; a digest covering a frame of a tolerance-defined process is informative, and its
   mismatch is listed in ``hash_differs`` instead.

:func:`decode_frames` is the streaming decoder (an iterator of pictures); :func:`decode` collects
its pictures into a list.
"""
from __future__ import annotations

import bisect
import dataclasses
import hashlib
from collections.abc import Sequence
from typing import BinaryIO, Callable, Iterator

from .device import DEVICES, resolve_device  # noqa: F401 (cmvc.decode.resolve_device)
from .errors import error
from .parse import ParsedStream
from .picture import Picture
from .registry import CodecId, HashType, Mode, ReconProfile, UnitType
from .syntax.interp import covered_segments, decode_segments, predict
from .validate import at_model_entry, keyframe_refs, validate

DEFAULT_W_BITS = 8


@dataclasses.dataclass
class Decoded:
    pictures: list[Picture]
    stream: ParsedStream
    hash_checked: int = 0  # frames whose hash was compared and matched
    hash_differs: list[str] = dataclasses.field(default_factory=list)  # informative mismatches (§7.9)


TOLERANCE_DEFINED_RECON = (ReconProfile.RIFE, ReconProfile.SD_LORA, ReconProfile.T2V_PIPELINE)


class ToleranceMap:
    """Which output frames a tolerance-defined process makes (§7.3, §7.9, chapter 11), in memory
    proportional to the number of keyframes: every frame in TT2V mode, the frames between keyframes of
    the RIFE, SD_LORA and T2V_PIPELINE profiles, HYPERPRIOR keyframes and the frames between a
    HYPERPRIOR keyframe and its neighbours.  §7.8 upsampling, normative, keeps the property of its input."""

    def __init__(self, ps: ParsedStream) -> None:
        sh = ps.sequence_header
        self.all = sh.mode == Mode.TT2V
        self.inner = sh.recon_profile in TOLERANCE_DEFINED_RECON
        kf = sh.keyframe_index
        self.keyframes = sorted(set(kf))
        pos = {k: n for n, k in enumerate(kf)}
        spans = []  # a HYPERPRIOR keyframe and the inner frames of the segments either side of it
        for r in keyframe_refs(ps):
            k = r.body.frame_index
            if r.body.codec_id == CodecId.HYPERPRIOR and 0 <= k < sh.frame_count:
                n = pos.get(k)
                lo = kf[n - 1] + 1 if n is not None and n > 0 else k
                hi = kf[n + 1] - 1 if n is not None and n + 1 < len(kf) else k
                spans.append((lo, hi))
        self.starts, self.ends = [], []  # disjoint, sorted
        for lo, hi in sorted(spans):
            if self.ends and lo <= self.ends[-1] + 1:
                self.ends[-1] = max(self.ends[-1], hi)
            else:
                self.starts.append(lo)
                self.ends.append(hi)

    def any(self, first: int, count: int) -> bool:
        """Whether a frame of first..first+count-1 is made by a tolerance-defined process."""
        if count <= 0:
            return False
        if self.all:
            return True
        last = first + count - 1
        if self.inner:
            keys = bisect.bisect_right(self.keyframes, last) - bisect.bisect_left(self.keyframes, first)
            if keys < count:
                return True
        i = bisect.bisect_right(self.starts, last) - 1  # the last span that starts at or before *last*
        return i >= 0 and self.ends[i] >= first


def tolerance_defined_frames(ps: ParsedStream) -> list[bool]:
    """For each output frame, whether a tolerance-defined process makes it (see :class:`ToleranceMap`)."""
    tol = ToleranceMap(ps)
    return [tol.any(t, 1) for t in range(ps.sequence_header.frame_count)]


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Chapter 11.1: how far a conforming decoder's frame may be from the reference decoder's."""

    max_abs: int  # every sample within this of the reference
    max_fraction: float  # at most this fraction of a frame's samples different from it


# Chapter 11.1 (Table 11-1), by recon_param; how the bounds were measured: docs/experiments.md.
RIFE_TOLERANCE = {0: Tolerance(2, 0.001), 1: Tolerance(2, 0.01), 2: Tolerance(2, 0.05)}
HYPERPRIOR_TOLERANCE = Tolerance(2, 0.001)


def stream_tolerance(ps: ParsedStream) -> Tolerance | None:
    """The tolerance of 11.1 for a stream's frames: the loosest of its tolerance-defined processes that
    have one (RIFE, HYPERPRIOR keyframes); None when its frames are bit-exact or SD_LORA / T2V ones,
    whose requirements their profiles state."""
    sh = ps.sequence_header
    found: list[Tolerance] = []
    if sh.mode != Mode.TT2V and sh.recon_profile == ReconProfile.RIFE:
        found.append(RIFE_TOLERANCE[sh.recon_param])
    if any(ref.body.codec_id == CodecId.HYPERPRIOR for ref in keyframe_refs(ps)):
        found.append(HYPERPRIOR_TOLERANCE)
    if not found:
        return None
    return Tolerance(max(t.max_abs for t in found), max(t.max_fraction for t in found))


def reconstructor(sh, net=None, sd_model: str | None = None, caption: str = "", device: str = "cpu"):
    """The reconstruction process of the stream's profile (§7.3)."""
    if sh.recon_profile == ReconProfile.BLEND:
        from .recon.blend import BlendReconstructor
        return BlendReconstructor(sh)
    if sh.recon_profile == ReconProfile.RIFE:
        from .recon.rife import RifeReconstructor
        return RifeReconstructor(sh, net=net, device=resolve_device(device))
    if sh.recon_profile == ReconProfile.SD_LORA:
        from .generative.sd_lora import SdLoraReconstructor

        return SdLoraReconstructor(sh, sd_model, resolve_device(device), caption)
    raise error("E201", f"reconstruction profile {sh.recon_profile.name} cannot reconstruct inner frames")


class Prediction(Sequence):
    """§4.6.2's ``Pred(j)``, j = 1..n, as a sequence computed on access (a segment may have millions
    of frames; the weights a stream carries are in its bytes, the predicted ones need not be stored)."""

    def __init__(self, n: int, w_bits: int) -> None:
        self.n, self.w_bits = n, w_bits

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        return predict(i + 1, self.n, self.w_bits)

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, Sequence)) else NotImplemented


def segment_weights(ps: ParsedStream, s: int, n: int) -> tuple[Sequence[int], Sequence[int], int]:
    """q_i, q_l and w_bits of segment *s* (§4.6, §5.6); predicted series are :class:`Prediction`."""
    kf = ps.sequence_header.keyframe_index
    for rec in ps.of_type(UnitType.INTERP_PARAMS):
        segs = covered_segments(rec.body)
        if s in segs:
            qi, ql = decode_segments(rec.body, [kf[x + 1] - kf[x] - 1 for x in segs])[s - segs[0]]
            b = rec.body.w_bits
            pred = Prediction(n, b)
            return qi or pred, ql or pred, b
    pred = Prediction(n, DEFAULT_W_BITS)
    return pred, pred, DEFAULT_W_BITS


class HashCheck:
    """§7.9 while the frames go by: per-frame digests are compared as each frame comes, MD5_SPAN
    digests accumulate and are compared at the span's last frame.  Memory: one MD5 state."""

    def __init__(self, ps: ParsedStream) -> None:
        self.tol = ToleranceMap(ps)
        self.units = sorted(ps.of_type(UnitType.FRAME_HASH), key=lambda r: r.body.first_frame)
        self.next = 0  # index into units of the first unit not finished
        self.span = None  # the MD5 state of the MD5_SPAN unit in progress
        self.checked = 0
        self.differs: list[str] = []

    def _mismatch(self, first: int, count: int, what: str, got: bytes, want: bytes, rec, field: str) -> None:
        msg = f"{what}: MD5 {got.hex()} != {want.hex()}"
        if self.tol.any(first, count):
            self.differs.append(f"{msg} (made by a tolerance-defined process: informative)")
            return
        raise error("E023", msg, offset=rec.field_offset(field), path=f"{rec.path}.frame_hash.{field}")

    def feed(self, t: int, pic: Picture) -> None:
        while self.next < len(self.units):
            rec = self.units[self.next]
            h = rec.body
            if t < h.first_frame:
                return
            if t >= h.first_frame + h.num_frames:  # a span that covers no frame (num_frames 0)
                self.next += 1
                continue
            if h.hash_type == HashType.MD5_SPAN:
                if self.span is None:
                    self.span = hashlib.md5()
                pic.md5(self.span)
                if t == h.first_frame + h.num_frames - 1:
                    got, self.span = self.span.digest(), None
                    self.next += 1
                    if got != h.digest[0]:
                        self._mismatch(h.first_frame, h.num_frames, f"frames {h.first_frame}..{t}", got, h.digest[0],
                                       rec, "digest[0]")
                    else:
                        self.checked += h.num_frames
            else:
                i = t - h.first_frame
                got = pic.md5()
                if i == h.num_frames - 1:
                    self.next += 1
                if got != h.digest[i]:
                    self._mismatch(t, 1, f"frame {t}", got, h.digest[i], rec, f"digest[{i}]")
                else:
                    self.checked += 1
            return


class FrameStream:
    """The output frames of a validated stream, in output order (an iterator of :class:`Picture`).

    ``stream`` (the parsed stream) is available at once; with ``verify``, ``hash_checked`` and
    ``hash_differs`` are complete once the iterator is exhausted (E023 is raised at the mismatching
    frame).  The pictures held at any time are the bound of §9.3: the two keyframes of the segment
    being reconstructed, those the keyframe decoders hold, and one batch of the segment."""

    def __init__(self, ps: ParsedStream, *, verify: bool = False, net=None, progress: Callable[[int], None] | None = None,
                 sd_model: str | None = None, t2v_model: str | None = None, device: str = "cpu") -> None:
        self.stream = ps
        self.verify = verify
        self.count = 0  # frames output so far
        self._check = HashCheck(ps) if verify else None
        self._args = (net, sd_model, t2v_model, device)
        self._progress = progress
        self._it = self._frames()

    @property
    def hash_checked(self) -> int:
        return self._check.checked if self._check else 0

    @property
    def hash_differs(self) -> list[str]:
        return self._check.differs if self._check else []

    def __iter__(self) -> "FrameStream":
        return self

    def __next__(self) -> Picture:
        try:
            pic = next(self._it)
        except StopIteration:
            if self._check is not None and not self._check.checked and not self._check.differs:
                raise error("E101", "the stream has no frame hash unit to verify against") from None
            raise
        if self._check is not None:
            self._check.feed(self.count, pic)
        self.count += 1
        if self._progress:
            self._progress(1)
        return pic

    def _frames(self) -> Iterator[Picture]:
        ps = self.stream
        sh = ps.sequence_header
        net, sd_model, t2v_model, device = self._args
        if sh.mode == Mode.TT2V:  # the pipeline makes every frame at once (§9.3)
            from .generative.tt2v import generate

            with at_model_entry(ps, sh.recon_model):
                pics = generate(ps, t2v_model, resolve_device(device))
            yield from pics
            return
        upsample = None
        if (sh.coded_width, sh.coded_height) != (sh.width, sh.height):
            from .resample import upsample as up

            def upsample(p: Picture) -> Picture:
                return up(p, sh.width, sh.height)
        out = upsample or (lambda p: p)
        kf = sh.keyframe_index
        keys = self._keyframes(device)
        recon = None
        i0 = next(keys, None)
        if i0 is None:  # pragma: no cover - validation requires keyframes in IT2V mode
            raise error("E024", "no keyframe was output")
        yield out(i0)
        for s in range(len(kf) - 1):
            i1 = next(keys, None)
            if i1 is None:  # pragma: no cover - the keyframe decoders raise E024 first
                raise error("E024", f"keyframe {s + 1} was not output by its keyframe bitstream")
            n = kf[s + 1] - kf[s] - 1
            if n:
                if recon is None:
                    caption = ""
                    if sh.recon_profile == ReconProfile.SD_LORA:
                        from .generative.tt2v import prompt_of

                        caption = prompt_of(ps)
                    with at_model_entry(ps, sh.recon_model):
                        recon = reconstructor(sh, net, sd_model, caption, device)
                qi, ql, b = segment_weights(ps, s, n)
                it = recon.iter_segment if hasattr(recon, "iter_segment") else recon.segment
                for pic in it(i0, i1, qi, ql, b):
                    yield out(pic)
            yield out(i1)
            i0 = i1
        for _ in keys:  # runs the end-of-bitstream checks (E024)
            pass

    def _keyframes(self, device: str) -> Iterator[Picture]:
        """The decoded keyframes in keyframe order, each decoded when asked for (§7.2): the keyframe
        units are pushed in stream order until the next keyframe comes out of its codec."""
        from .keyframes import KeyframeDecoder

        ps = self.stream
        sh = ps.sequence_header
        kf = sh.keyframe_index
        refs = keyframe_refs(ps)  # keyframe units and the members of keyframe groups, in stream order (§5.9)
        decoders: dict = {}  # one stateful decoder per codec (AV1 / VVC keyframes share one sequence)
        where = {}  # id(unit) -> its reference, for error offsets, while its picture is awaited
        ready: dict[int, Picture] = {}  # frame_index -> keyframe decoded but not yet asked for
        nxt = 0  # the next keyframe to give out

        def located(ref, f):
            try:
                return f()
            except Exception as e:
                if hasattr(e, "relocate") and ref is not None:
                    ref = where.get(id(getattr(e, "unit", None)), ref)  # an error that names its unit (§6.6)
                    if e.offset is None:  # the codec names no position: point at the start of the coded picture
                        e.offset = 0
                    raise e.relocate(ref.data_offset, ref.path)
                raise

        def take(pairs):
            for unit, pic in pairs:
                where.pop(id(unit), None)
                ready[unit.frame_index] = pic

        def give():
            nonlocal nxt
            while nxt < len(kf) and kf[nxt] in ready:
                pic = ready.pop(kf[nxt])
                nxt += 1
                yield pic

        for ref in refs:
            k = ref.body
            where[id(k)] = ref
            if k.codec_id not in decoders:
                decoders[k.codec_id] = KeyframeDecoder(k.codec_id, sh, device=device)
            take(located(ref, lambda: decoders[k.codec_id].push(k)))
            yield from give()
        for kd in decoders.values():  # end of each keyframe bitstream: pictures still held, units left without one
            last = where[id(kd.waiting[0])] if kd.waiting else refs[-1]
            take(located(last, kd.finish))
            yield from give()


def decode_frames(source: bytes | BinaryIO, *, verify: bool = False, net=None,
                  progress: Callable[[int], None] | None = None, sd_model: str | None = None,
                  t2v_model: str | None = None, device: str = "cpu") -> FrameStream:
    """Validate *source* (the first error is raised here, before any frame) and return the iterator of
    its output frames (§7.1).  *device*: cpu, cuda or auto, for the RIFE and HYPERPRIOR networks."""
    if device not in DEVICES:
        resolve_device(device)  # E113 (or cuda:N checked)
    rep = validate(source, keep_payloads=False)
    if not rep.valid:
        raise rep.errors[0]
    return FrameStream(rep.stream, verify=verify, net=net, progress=progress, sd_model=sd_model,
                       t2v_model=t2v_model, device=device)


def decode(source: bytes | BinaryIO, *, verify: bool = False, net=None,
           progress: Callable[[int], None] | None = None, sd_model: str | None = None,
           t2v_model: str | None = None, device: str = "cpu") -> Decoded:
    """Every output frame of *source* in a list (:func:`decode_frames`, collected)."""
    frames = decode_frames(source, verify=verify, net=net, progress=progress, sd_model=sd_model,
                           t2v_model=t2v_model, device=device)
    pics = list(frames)
    return Decoded(pictures=pics, stream=frames.stream, hash_checked=frames.hash_checked,
                   hash_differs=frames.hash_differs)


def verify_hashes(d: Decoded) -> int:
    """§7.9 on decoded pictures: compare every hashed frame and return how many matched (E023 on a
    mismatch of frames made by normative processes only; others are added to ``d.hash_differs``)."""
    check = HashCheck(d.stream)
    for t, p in enumerate(d.pictures):
        check.feed(t, p)
    d.hash_differs += check.differs
    return check.checked
