"""Streaming, chunk-parallel encoding of a video file (encoder side; informative, not normative).

The reference encoder (:func:`cmvc.encoder.pipeline.encode`) codes a list of pictures held in memory.  Here a
file is read lazily (:func:`cmvc.tools.video.iter_video`) and coded in windows:

1. :func:`scan`, a first pass holding one frame at a time, finds the shot cuts (colour histograms of
   consecutive frames further apart than :data:`cmvc.keyframes.SHOT_THRESHOLD`) and a cheap
   complexity measure per frame (mean absolute luma difference to the previous frame at 1/8 size).
2. :func:`chunk_starts` cuts the video into chunks at shot cuts, or every ``chunk_seconds`` (a whole
   number of keyframe intervals).
3. Each chunk is coded on its own by :func:`cmvc.encoder.pipeline.encode` (:func:`encode_chunk`): its first
   and last frames are keyframes and its keyframes are a keyframe codec sequence of their own, so
   the first keyframe of every chunk begins a new AV1 or VVC coded video sequence (an AV1 key frame
   with its sequence header, §7.2.4; a VVC IDR picture, §7.2.5).  Chunks run in this process, on a
   process pool (``workers``) or on Ray (``ray``); at most ``workers`` windows are in flight.
4. :func:`assemble` joins the chunk streams into one: one sequence header, the keyframes renumbered
   (``temporal_unit_index``, ``access_unit_index``; VVC parameter sets already sent are left out),
   one interpolation-parameter unit, one MD5_SPAN frame hash unit per chunk (§7.9 allows any
   disjoint spans), the captions.

Chunk boundaries and every chunk's options depend on the input and the options alone, and torch
runs each chunk on ``threads`` threads (RIFE's float sums depend on the thread count, spec §7.9), so
the same input and options give the same bytes whatever runs the chunks.  With ``target_bits`` the
budget is split across chunks by :func:`split_budget` (complexity, not evenly) and rate control
(:func:`cmvc.encoder.rate_control.plan`) runs per chunk, for its share of the joined stream: chunk 0
is coded first, and what joining leaves out of a chunk like it (:func:`assembly_saving`) and what it
left of its own budget are added to the later chunks' budgets (:func:`later_budgets`).  Costs and measurements: ``docs/streaming-encode.md``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from fractions import Fraction
from typing import Callable, Iterator

import numpy as np

from ..errors import error
from ..picture import Picture

CHUNK_SECONDS = 4.0  # default chunk length (a whole number of keyframe intervals near it)
THREADS = 2  # default torch threads per chunk: fixed (the bytes depend on it), two cores' worth (see _Runner)
MOTION_STEP = 8  # the complexity measure compares means of 8x8 luma blocks


@dataclasses.dataclass
class Scan:
    """What the first pass learns: frame count, the file's format, shot cuts and per-frame motion."""

    frames: int
    info: object  # cmvc.tools.video.VideoInfo
    cuts: list[int]  # frames that begin a new shot (never 0)
    motion: list[float]  # mean |Y'(i) - Y'(i-1)| at 1/MOTION_STEP size (0 for frame 0 and at a cut)


def scan(path, max_frames: int | None = None) -> Scan:
    """The first pass over *path* (one decoded frame held at a time)."""
    from ..keyframes import SHOT_THRESHOLD, histogram_distance
    from ..tools.video import iter_video

    found: list = []
    cuts: list[int] = []
    motion: list[float] = []
    prev: Picture | None = None
    small_prev = None
    for i, p in enumerate(iter_video(path, max_frames, info_out=found)):
        small = _blocks(p.y)
        if prev is None:
            motion.append(0.0)
        elif histogram_distance(prev, p) > SHOT_THRESHOLD:
            cuts.append(i)  # a new shot: its first keyframe is coded intra, not predicted; no motion
            motion.append(0.0)
        else:
            motion.append(float(np.abs(small - small_prev).mean()))
        prev, small_prev = p, small
    if not found:
        raise error("E103", f"{path} has no frames")
    return Scan(len(motion), found[0], cuts, motion)


def _blocks(y: np.ndarray) -> np.ndarray:
    """Means of the MOTION_STEP x MOTION_STEP blocks of *y* (the whole blocks; the plane itself if smaller)."""
    s = MOTION_STEP if min(y.shape) >= MOTION_STEP else 1
    h, w = y.shape[0] // s * s, y.shape[1] // s * s
    return y[:h, :w].reshape(h // s, s, w // s, s).mean(axis=(1, 3), dtype=np.float32)


def chunk_length(fps: Fraction, interval: int, seconds: float = CHUNK_SECONDS) -> int:
    """Frames per chunk: the whole number of keyframe intervals nearest *seconds* (at least one)."""
    iv = max(1, interval)
    return iv * max(1, round(seconds * float(fps) / iv))


def chunk_starts(frames: int, cuts: list[int], length: int, min_length: int = 2) -> list[int]:
    """First frames of the chunks: a chunk ends at a shot cut once it has *min_length* frames, and
    after *length* frames otherwise, unless fewer than *length* / 2 frames would be left after it
    (then it runs to the end or the next cut: at most 1.5 x *length*); a last chunk shorter than
    *min_length* joins the one before."""
    if length < 2:
        raise error("E116", f"a chunk needs at least 2 frames, not {length}")
    min_length = max(2, min_length)
    cut = set(cuts)
    starts = [0]
    for i in range(1, frames):
        n = i - starts[-1]
        if (n >= length and 2 * (frames - i) >= length) or (i in cut and n >= min_length):
            starts.append(i)
    if len(starts) > 1 and frames - starts[-1] < min_length:
        starts.pop()
    return starts


def split_budget(target_bits: float, starts: list[int], motion: list[float]) -> list[float]:
    """*target_bits* split across the chunks beginning at *starts*: chunk c gets a share in
    proportion to sum over its frames of (1 + motion_i / mean motion), half by length and half by
    the first pass's complexity (a still chunk gets half an even share per frame, a chunk twice as
    busy as the mean 1.5x)."""
    frames = len(motion)
    mean = float(np.mean(motion[1:])) if frames > 1 else 0.0
    ends = [*starts[1:], frames]
    w = [sum(1.0 + (m / mean if mean > 0 else 1.0) for m in motion[a:b]) for a, b in zip(starts, ends)]
    total = sum(w)
    return [target_bits * x / total for x in w]


@dataclasses.dataclass
class ChunkJob:
    """Everything one chunk's encode needs (picklable: it travels to a pool or Ray worker)."""

    index: int
    start: int
    pics: list[Picture]
    cfg: object  # cmvc.encoder.pipeline.EncoderConfig
    fps: Fraction
    colour: object  # cmvc.keyframes.Colour
    colour_primaries: int = 1
    transfer: int = 1
    threads: int = THREADS
    budget: float | None = None  # bits for rate control (None: cfg as it is)
    rc: dict | None = None  # keyword arguments of cmvc.encoder.rate_control.plan


@dataclasses.dataclass
class ChunkResult:
    index: int
    start: int
    frames: int
    data: bytes  # the chunk as a stream of its own
    keyframes: list[int]  # chunk-relative
    winner: dict
    settings: dict
    plan: str = ""  # rate control's choice, for the report
    budget: float | None = None  # the chunk's bits (rate control)
    seconds: dict = dataclasses.field(default_factory=dict)  # rate control's steps (RatePlan.timings), its total, the encode
    error: tuple | None = None  # (code, message, offset, path) of a CmvcError raised by the chunk's encode


def encode_chunk(job: ChunkJob, progress: Callable | None = None) -> ChunkResult:
    """Code one chunk (runs in any process): rate control for its budget if it has one, then
    :func:`cmvc.encoder.pipeline.encode`, with torch on ``job.threads`` threads."""
    from ..errors import CmvcError

    try:
        return _encode_chunk(job, progress)
    except CmvcError as e:  # returned, not raised: CmvcError does not survive pickling between processes
        return ChunkResult(job.index, job.start, len(job.pics), b"", [], {}, {}, budget=job.budget,
                           error=(e.code, e.message, e.offset, e.path))


def _encode_chunk(job: ChunkJob, progress: Callable | None = None) -> ChunkResult:
    import torch

    from .pipeline import encode

    old = torch.get_num_threads()
    torch.set_num_threads(job.threads)
    try:
        cfg = job.cfg
        line = ""
        seconds: dict = {}
        t0 = time.perf_counter()
        if job.budget is not None:
            from .rate_control import plan, quality_text

            rp = plan(job.pics, cfg, job.budget, colour=job.colour, **(job.rc or {}))
            seconds = {**rp.timings, "rate_control": time.perf_counter() - t0}
            cfg = rp.apply(cfg)
            est = "" if rp.score is None else f", estimated {(job.rc or {}).get('metric', 'ms-ssim')} {rp.score:.4f}"
            line = (f"{rp.codec} keyframes ({rp.strategy}), downscale {rp.downscale}, {rp.keyframes} keyframes "
                    f"(interval {rp.interval}), quality {quality_text(rp.quality)} ({len(rp.candidates)} candidates, "
                    f"{rp.trials} trial encodes; predicted {8 * rp.predicted_bytes} bits for a target of "
                    f"{job.budget:.0f}{est})")
        t1 = time.perf_counter()
        res = encode(job.pics, cfg, fps=job.fps, colour=job.colour, colour_primaries=job.colour_primaries,
                     transfer=job.transfer, progress=progress)
        seconds["encode"] = time.perf_counter() - t1
    finally:
        torch.set_num_threads(old)
    return ChunkResult(job.index, job.start, len(job.pics), res.data, res.keyframes, res.fit_stats.get("winner", {}),
                       res.settings, line, job.budget, seconds)


def assemble(results: list[ChunkResult], cfg) -> bytes:
    """One stream of the chunk streams *results* (in order), with ``cfg``'s captions and metadata
    units; a single chunk's stream is returned as it is."""
    from ..decode import DEFAULT_W_BITS
    from .pipeline import interp_params_unit, write_stream
    from ..keyframes import vvc
    from ..parse import parse
    from ..registry import CodecId, UnitType
    from ..syntax.interp import covered_segments, decode_segments
    from ..syntax.keyframe import ORDINAL_FIELDS
    from ..validate import keyframe_refs

    if len(results) == 1:
        return results[0].data
    kf: list[int] = []
    kunits: list = []
    q_lists: dict[int, list[int]] = {}
    ql_lists: dict[int, list[int]] = {}
    hashes: list = []
    sent: set[bytes] = set()
    first = profile = None
    w_bits = DEFAULT_W_BITS
    for r in results:
        ps = parse(r.data)
        sh = ps.sequence_header
        if first is None:
            first, profile = sh, ps.header.profile
        same = ("width", "height", "coded_width", "coded_height", "recon_profile", "recon_param", "models", "mode")
        diff = [f for f in same if getattr(sh, f) != getattr(first, f)]
        if diff or ps.header.profile != profile:
            raise error("E117", f"chunk {r.index} (frames {r.start}..{r.start + r.frames - 1}) differs from chunk 0 "
                                f"in {', '.join(diff) or 'profile'}")
        seg0 = len(kf)  # global index of the chunk's first segment (the one between two chunks has no inner frames)
        local = sh.keyframe_index
        for ref in keyframe_refs(ps):
            u = ref.body
            data = u.keyframe_data
            if u.codec_id == CodecId.VVC:
                au = vvc.with_start_code(data)
                kept = b"".join(nal for nut, nal in vvc.nal_units(au) if not (nut in vvc.PS_NUTS and nal in sent))
                sent |= {nal for nut, nal in vvc.nal_units(au) if nut in vvc.PS_NUTS}
                data = vvc.without_start_code(kept)
            field = ORDINAL_FIELDS.get(u.codec_id)
            params = u.codec_params if field is None else dataclasses.replace(u.codec_params, **{field: len(kunits)})
            kunits.append(dataclasses.replace(u, frame_index=r.start + u.frame_index, codec_params=params,
                                              keyframe_data=data))
        if kunits and kunits[0].codec_id != kunits[-1].codec_id:
            raise error("E117", f"chunk {r.index} codes its keyframes with {kunits[-1].codec_id.name}, chunk 0 with "
                                f"{kunits[0].codec_id.name}")
        for rec in ps.of_type(UnitType.INTERP_PARAMS):
            segs = covered_segments(rec.body)
            w_bits = rec.body.w_bits
            for s, (qi, ql) in zip(segs, decode_segments(rec.body, [local[s + 1] - local[s] - 1 for s in segs])):
                if qi is not None:
                    q_lists[seg0 + s] = qi
                if ql is not None:
                    ql_lists[seg0 + s] = ql
        for rec in ps.of_type(UnitType.FRAME_HASH):
            hashes.append(dataclasses.replace(rec.body, first_frame=r.start + rec.body.first_frame))
        kf += [r.start + k for k in local]
    total = results[-1].start + results[-1].frames
    sh = dataclasses.replace(first, frame_count=total, num_keyframes=len(kf), keyframe_index=kf)
    return write_stream(profile, sh, cfg, kunits, interp_params_unit(kf, q_lists, ql_lists, w_bits), hashes)


def assembly_saving(r: ChunkResult, cfg) -> int:
    """Bytes of a chunk coded like *r* that :func:`assemble` leaves out when it follows another: its
    stream header and sequence header (less what its keyframes add to the joined one), VVC parameter
    sets already sent, its interpolation-parameter unit's framing.  Measured by joining *r* to a copy
    of itself (VVC parameter sets do not depend on the quantiser or the keyframe count: the same
    bytes for 2-64 keyframes and QP 40-51 at one coded size and preset), so that a chunk's rate
    control can aim at its share of the joined stream, not of its own (docs/streaming-encode.md)."""
    twin = dataclasses.replace(r, index=r.index + 1, start=r.start + r.frames)
    bare = dataclasses.replace(cfg, captions=[], metadata=False)
    return max(0, 2 * len(r.data) - len(assemble([r, twin], bare)))


def later_budgets(budgets: list[float], bits0: int, saving_bits: int) -> list[float]:
    """The budgets of chunks 1.. once chunk 0 is coded (*bits0* bits of its *budgets[0]*): each grows
    by *saving_bits* (:func:`assembly_saving`), and what chunk 0 left unspent (or took over its
    budget) is shared among them in proportion to their budgets, so that the file, not only each
    chunk, lands near the target (a budget never falls below half of what it was).  Only chunk 0's
    result is used, so the budgets do not depend on how many chunks run at once."""
    rest = budgets[1:]
    total = sum(rest)
    left = budgets[0] - bits0
    return [max(b / 2, b + saving_bits + (left * b / total if total > 0 else 0.0)) for b in rest]


@dataclasses.dataclass
class FileResult:
    data: bytes
    keyframes: list[int]
    chunks: list[ChunkResult]
    frames: int
    info: object
    winner: dict
    settings: dict
    target_bits: float | None = None


def windows(path, starts: list[int], frames: int) -> Iterator[tuple[int, int, list[Picture]]]:
    """(chunk index, first frame, pictures) of each chunk, reading *path* once (one window held)."""
    from ..tools.video import iter_video

    ends = [*starts[1:], frames]
    it = iter_video(path, frames)
    for c, (a, b) in enumerate(zip(starts, ends)):
        pics = [next(it) for _ in range(b - a)]
        yield c, a, pics
        del pics



def ray_remote(fn, address: str):
    """*fn* as a Ray remote function on the cluster at *address* ('' or 'local': a local one)."""
    try:
        import ray
    except ImportError:
        raise error("E203", "--ray needs the 'ray' extra (pip install 'cmvc[ray]')") from None
    ray.init(address=None if address in ("", "local") else address, ignore_reinit_error=True, log_to_driver=False)
    return ray.remote(fn)

@contextlib.contextmanager
def _passive_wait():
    """While pool workers are started (they inherit it): OpenMP threads that sleep when idle, unless the
    user chose.  Two workers of --threads 2 on 2 cores, spinning (OpenMP's default), took 2.7x the
    time of --threads 1 (docs/streaming-encode.md)."""
    old = os.environ.get("OMP_WAIT_POLICY")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OMP_WAIT_POLICY", None)


class _Runner:
    """Runs chunk jobs in this process, on a process pool or on Ray; results by job index."""

    def __init__(self, workers: int = 1, ray_address: str | None = None) -> None:
        self.workers, self.ray = max(1, workers), ray_address
        self.pending: dict = {}
        self.done: dict[int, ChunkResult] = {}
        self.pool = None
        if ray_address is not None:
            self.remote = ray_remote(encode_chunk, ray_address)
            import ray
            if workers <= 1:
                self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        elif self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: forking a process whose torch/OpenMP thread pool runs can deadlock the child
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, job: ChunkJob, progress: Callable | None = None) -> None:
        while len(self.pending) >= self.workers:
            self.collect_one()
        if self.ray is not None:
            self.pending[self.remote.remote(job)] = job.index
        elif self.pool is not None:
            with _passive_wait():  # a submit may start a worker process
                self.pending[self.pool.submit(encode_chunk, job)] = job.index
        else:
            self._keep(encode_chunk(job, progress))

    def collect_one(self) -> None:
        if self.ray is not None:
            import ray

            ready, _ = ray.wait(list(self.pending), num_returns=1)
            self.pending.pop(ready[0])
            r = ray.get(ready[0])
        else:
            from concurrent.futures import FIRST_COMPLETED, wait
            from concurrent.futures.process import BrokenProcessPool

            fut = next(iter(wait(list(self.pending), return_when=FIRST_COMPLETED)[0]))
            self.pending.pop(fut)
            try:
                r = fut.result()
            except BrokenProcessPool as e:
                raise error("E212", f"a chunk encode process died ({e}); fewer --workers need less memory") from None
        self._keep(r)

    def _keep(self, r: ChunkResult) -> None:
        if r.error is not None:
            code, message, offset, path = r.error
            raise error(code, f"chunk {r.index} (from frame {r.start}): {message}", offset=offset, path=path)
        self.done[r.index] = r

    def wait(self, index: int) -> ChunkResult:
        while index not in self.done:
            self.collect_one()
        return self.done[index]

    def close(self) -> None:
        while self.pending:
            self.collect_one()
        if self.pool is not None:
            self.pool.shutdown()


CHUNKABLE_PROFILES = ("blend", "rife")


def encode_file(path, cfg, *, max_frames: int | None = None, workers: int = 1, ray_address: str | None = None,
                chunk_seconds: float = CHUNK_SECONDS, threads: int = THREADS,
                target_bits: float | Callable[[int, object], float] | None = None,
                rc: dict | None = None, progress: Callable | None = None,
                on_chunk: Callable[[ChunkResult, int], None] | None = None) -> FileResult:
    """Code the video file *path* with *cfg* in chunks (see the module docstring).  *rc*: keyword
    arguments of :func:`cmvc.encoder.rate_control.plan` (with *target_bits*); *progress*: the encoder's
    stage callback, used when a single chunk runs in this process; *on_chunk(result, chunks)*:
    called for each chunk once all are done.  *target_bits* may be a function of (frames, VideoInfo),
    called after the first pass."""
    from ..keyframes import Colour

    _check_options(workers, threads, chunk_seconds)
    sc = scan(path, max_frames)
    info = sc.info
    if sc.frames < 2:
        raise error("E103", f"a video needs at least 2 frames, got {sc.frames}")
    chunkable = (cfg.mode == "it2v" and cfg.profile in CHUNKABLE_PROFILES and cfg.codec != "hyperprior"
                 and not cfg.captioner)
    length = chunk_length(info.fps, cfg.interval, chunk_seconds)
    starts = chunk_starts(sc.frames, sc.cuts, length, max(2, cfg.interval)) if chunkable else [0]
    n = len(starts)
    if not chunkable and (workers > 1 or ray_address is not None):
        raise error("E116", "--workers/--ray need chunks: mode it2v, profile blend or rife, a keyframe codec other "
                            "than hyperprior, no --captioner")
    top = _checked_cfg(cfg, sc.frames)
    if target_bits is not None and rc is not None:
        from .trials import check_downscales

        check_downscales(info.width, info.height, tuple(rc.get("downscales") or (cfg.downscale,)))
    budgets: list[float | None] = [None] * n
    if callable(target_bits):
        target_bits = float(target_bits(sc.frames, info))
    if target_bits is not None:
        budgets = list(split_budget(target_bits - _caption_bits(top) if n > 1 else target_bits, starts, sc.motion))
    colour = Colour(info.matrix_coefficients, info.full_range)
    ends = [*starts[1:], sc.frames]

    def job(c: int, a: int, pics: list[Picture], rc_now: dict) -> ChunkJob:
        cc = top
        if n > 1:
            kfs = None if cfg.keyframes is None else max(2, round(cfg.keyframes * (ends[c] - starts[c]) / sc.frames))
            cc = dataclasses.replace(top, captions=[], metadata=False, keyframes=kfs, source_name="")
        return ChunkJob(c, a, pics, cc, Fraction(info.fps), colour, info.colour_primaries, info.transfer_characteristics,
                        threads, budgets[c], rc_now if budgets[c] is not None else None)

    def first_done(r0: ChunkResult) -> None:
        budgets[1:] = later_budgets(budgets, 8 * len(r0.data), 8 * assembly_saving(r0, top))

    results = _run_chunks(path, starts, sc.frames, job, workers, ray_address, rc, progress,
                          target_bits is not None, first_done)
    if on_chunk is not None:
        for r in results:
            on_chunk(r, n)
    data = assemble(results, top)
    kf = [r.start + k for r in results for k in r.keyframes]
    winner: dict = {}
    for r in results:
        for k, v in r.winner.items():
            winner[k] = winner.get(k, 0) + v
    settings = dict(results[0].settings, chunks=n, chunk_frames=length, workers=workers, threads=threads,
                    keyframes=len(kf))
    return FileResult(data, kf, results, sc.frames, info, winner, settings, target_bits)


def _check_options(workers: int, threads: int, chunk_seconds: float) -> None:
    if workers < 1:
        raise error("E116", f"--workers must be at least 1, not {workers}")
    if threads < 1:
        raise error("E116", f"--threads must be at least 1, not {threads}")
    if not chunk_seconds > 0:
        raise error("E116", f"--chunk-seconds must be positive, not {chunk_seconds}")


def _checked_cfg(cfg, frames: int):
    """*cfg* with its captions' open ends (-1) set to the last frame; E101 for captions or a keyframe
    count that the *frames* read cannot hold (caller errors, before any coding)."""
    captions = [dataclasses.replace(c, end=frames - 1 if c.end < 0 else c.end) for c in cfg.captions]
    for c in captions:
        if not 0 <= c.start <= c.end < frames:
            raise error("E101", f"caption frames {c.start}..{c.end}: need 0 <= start <= end <= {frames - 1} "
                                f"(the last of the {frames} frames read)")
    if cfg.keyframes is not None and cfg.keyframes > frames:
        raise error("E101", f"--keyframes {cfg.keyframes}: more keyframes than the {frames} frames read")
    return dataclasses.replace(cfg, captions=captions)


def _run_chunks(path, starts: list[int], frames: int, job: Callable, workers: int, ray_address: str | None,
                rc: dict | None, progress: Callable | None, budgeted: bool,
                on_first: Callable[[ChunkResult], None] = lambda r: None) -> list[ChunkResult]:
    """The chunks' results, in order: windows of *path* read once, each chunk's :class:`ChunkJob`
    (``job(index, first frame, pictures, rate-control options)``) run here, on a pool or on Ray.
    With a budget, chunk 0 is coded first and given to *on_first* before any other chunk's job is
    made, and where there is a choice of codecs or sizes, its rate control chooses them for all."""
    n = len(starts)
    # a single chunk runs here (nothing to share out); rate control's callbacks stay in this process
    runner = _Runner(workers, ray_address) if n > 1 else _Runner()
    rc_now = {k: v for k, v in (rc or {}).items() if n == 1 or k not in ("progress", "advance")}
    say = progress if progress is not None and n > 1 else (lambda stage, done, total: None)
    try:
        for c, a, pics in windows(path, starts, frames):
            jb = job(c, a, pics, rc_now)
            del pics
            runner.submit(jb, progress if n == 1 else None)
            del jb
            say("chunks", len(runner.done), n)
            if c == 0 and n > 1 and budgeted:
                r0 = runner.wait(0)
                if r0.error is None:
                    on_first(r0)  # the later chunks' budgets (later_budgets)
                    if len(rc_now.get("codecs") or ()) != 1 or len(rc_now.get("downscales") or ()) != 1:
                        # one keyframe codec and coded size for the stream: chunk 0's rate control chooses them
                        rc_now = dict(rc_now, codecs=(r0.settings["codec"],), downscales=(r0.settings["downscale"],))
        runner.close()
        say("chunks", n, n)
    finally:
        if runner.pool is not None:
            runner.pool.shutdown(cancel_futures=True)
    return [runner.done[i] for i in range(n)]


def _caption_bits(cfg) -> int:
    """Bits of the text units of *cfg*'s captions (the assembled stream's, not any chunk's)."""
    from .pipeline import _text

    return sum(8 * (len(_text(cfg, c.text)[2]) + 12) for c in cfg.captions)
