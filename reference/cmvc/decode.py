"""§7 Decoding process: stream -> pictures.

1. Parse and validate the stream (§6); the first error is raised.
2. Decode the keyframes in stream order (§7.2).
3. For each segment, take q_i / q_l from its interp_params_unit or the linear prediction (§4.6.2),
   and reconstruct the inner frames with the stream's reconstruction profile (§7.3-7.6).
4. Output frames 0..frame_count-1; optionally verify the frame hashes (§7.9): E023 for a frame made by
   normative processes only; a digest covering a frame of a tolerance-defined process is informative,
   and its mismatch is listed in ``Decoded.hash_differs`` instead.
"""
from __future__ import annotations

import dataclasses
from typing import BinaryIO, Callable

from .errors import error
from .parse import ParsedStream
from .picture import Picture, span_md5
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


def tolerance_defined_frames(ps: ParsedStream) -> list[bool]:
    """For each output frame, whether a tolerance-defined process makes it (§7.3, chapter 11): every
    frame in TT2V mode, the frames between keyframes of the RIFE, SD_LORA and T2V_PIPELINE profiles,
    and HYPERPRIOR keyframes.  §7.8 upsampling, normative, keeps the property of its input."""
    sh = ps.sequence_header
    if sh.mode == Mode.TT2V:
        return [True] * sh.frame_count
    out = [sh.recon_profile in TOLERANCE_DEFINED_RECON] * sh.frame_count
    for k in sh.keyframe_index:
        out[k] = False
    for ref in keyframe_refs(ps):
        if ref.body.codec_id == CodecId.HYPERPRIOR and 0 <= ref.body.frame_index < sh.frame_count:
            out[ref.body.frame_index] = True
    return out


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Chapter 11.1: how far a conforming decoder's frame may be from the reference decoder's."""

    max_abs: int  # every sample within this of the reference
    max_fraction: float  # at most this fraction of a frame's samples different from it


# Chapter 11.1, by recon_param (flow estimated at 2^-recon_param of the size).  Measured with the
# reference decoder against itself (a segment in batches of one frame against one batch, 1 against 2
# threads, and the literal IFNet of §7.5 against the optimised one): the worst frame of 4 segments of
# 7 frames of bigbuckbunny at 416x240, carphone, bikes and a moving synthetic texture had 0.005 %,
# 0.097 % and 0.63 % of its samples different, by 1.  The coarser the flow, the more the network
# amplifies float rounding; the bounds leave 8x to 20x room.
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
        return RifeReconstructor(sh, net=net)
    if sh.recon_profile == ReconProfile.SD_LORA:
        from .generative.sd_lora import SdLoraReconstructor

        return SdLoraReconstructor(sh, sd_model, device, caption)
    raise error("E201", f"reconstruction profile {sh.recon_profile.name} cannot reconstruct inner frames")


def segment_weights(ps: ParsedStream, s: int, n: int) -> tuple[list[int], list[int], int]:
    """q_i, q_l and w_bits of segment *s* (§4.6, §5.6)."""
    kf = ps.sequence_header.keyframe_index
    for rec in ps.of_type(UnitType.INTERP_PARAMS):
        segs = covered_segments(rec.body)
        if s in segs:
            qi, ql = decode_segments(rec.body, [kf[x + 1] - kf[x] - 1 for x in segs])[s - segs[0]]
            b = rec.body.w_bits
            pred = [predict(j, n, b) for j in range(1, n + 1)]
            return qi or pred, ql or pred, b
    pred = [predict(j, n, DEFAULT_W_BITS) for j in range(1, n + 1)]
    return pred, pred, DEFAULT_W_BITS


def decode(source: bytes | BinaryIO, *, verify: bool = False, net=None,
           progress: Callable[[int], None] | None = None, sd_model: str | None = None,
           t2v_model: str | None = None, device: str = "cpu") -> Decoded:
    rep = validate(source, keep_payloads=False)
    if not rep.valid:
        raise rep.errors[0]
    ps = rep.stream
    sh = ps.sequence_header
    if sh.mode == Mode.TT2V:
        from .generative.tt2v import generate

        with at_model_entry(ps, sh.recon_model):
            out = generate(ps, t2v_model, device)
        if verify:
            out.hash_checked = verify_hashes(out)
        return out
    frames: list[Picture | None] = [None] * sh.frame_count
    refs = keyframe_refs(ps)  # keyframe units and the members of keyframe groups, in stream order (§5.9)
    from .keyframes import KeyframeDecoder

    decoders: dict = {}  # one stateful decoder per codec (AV1 / VVC keyframes share one sequence)
    where = {}  # keyframe -> its reference, for error offsets

    def place(pairs) -> None:
        for unit, pic in pairs:
            frames[unit.frame_index] = pic
            if progress:
                progress(1)

    def located(ref, f):
        try:
            return f()
        except Exception as e:
            if hasattr(e, "relocate") and ref is not None:
                if e.offset is None:  # the codec names no position: point at the start of the coded picture
                    e.offset = 0
                raise e.relocate(ref.data_offset, ref.path)
            raise

    for ref in refs:
        k = ref.body
        where[id(k)] = ref
        if k.codec_id not in decoders:
            decoders[k.codec_id] = KeyframeDecoder(k.codec_id, sh)
        place(located(ref, lambda: decoders[k.codec_id].push(k)))
    for kd in decoders.values():  # end of each keyframe bitstream: pictures still held, units left without one
        last = where[id(kd.waiting[0])] if kd.waiting else refs[-1]
        place(located(last, kd.finish))
    caption = ""
    if sh.recon_profile == ReconProfile.SD_LORA:
        from .generative.tt2v import prompt_of

        caption = prompt_of(ps)
    with at_model_entry(ps, sh.recon_model):
        recon = reconstructor(sh, net, sd_model, caption, device)
    kf = sh.keyframe_index
    for s in range(len(kf) - 1):
        n = kf[s + 1] - kf[s] - 1
        if n == 0:
            continue
        qi, ql, b = segment_weights(ps, s, n)
        for j, pic in enumerate(recon.segment(frames[kf[s]], frames[kf[s + 1]], qi, ql, b), 1):
            frames[kf[s] + j] = pic
        if progress:
            progress(n)
    if (sh.coded_width, sh.coded_height) != (sh.width, sh.height):
        from .resample import upsample

        frames = [upsample(p, sh.width, sh.height) for p in frames]
    out = Decoded(pictures=frames, stream=ps)
    if verify:
        out.hash_checked = verify_hashes(out)
    return out


def verify_hashes(d: Decoded) -> int:
    """§7.9: compare every hashed frame and return how many matched.  A mismatch on frames made by
    normative processes only is E023, naming the frame and the digest's offset; on a digest that
    covers a frame of a tolerance-defined process (the encoder's own reconstruction, which another
    platform or thread count need not reproduce bit for bit) it is recorded in ``d.hash_differs``."""
    n = 0
    tol = tolerance_defined_frames(d.stream)

    def mismatch(first: int, count: int, what: str, got: bytes, want: bytes, rec, field: str) -> None:
        msg = f"{what}: MD5 {got.hex()} != {want.hex()}"
        if any(tol[first: first + count]):
            d.hash_differs.append(f"{msg} (made by a tolerance-defined process: informative)")
            return
        raise error("E023", msg, offset=rec.field_offset(field), path=f"{rec.path}.frame_hash.{field}")

    for rec in d.stream.of_type(UnitType.FRAME_HASH):
        h = rec.body
        if h.hash_type == HashType.MD5_SPAN:
            got = span_md5(d.pictures[h.first_frame: h.first_frame + h.num_frames])
            if got != h.digest[0]:
                mismatch(h.first_frame, h.num_frames, f"frames {h.first_frame}..{h.first_frame + h.num_frames - 1}",
                         got, h.digest[0], rec, "digest[0]")
            else:
                n += h.num_frames
            continue
        for i, digest in enumerate(h.digest):
            t = h.first_frame + i
            got = d.pictures[t].md5()
            if got != digest:
                mismatch(t, 1, f"frame {t}", got, digest, rec, f"digest[{i}]")
            else:
                n += 1
    if n == 0 and not d.hash_differs:
        raise error("E101", "the stream has no frame hash unit to verify against")
    return n
