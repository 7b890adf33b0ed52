"""Video files in and out (PyAV): read any format PyAV reads as 8-bit 4:2:0; write Y4M, MP4, PNG frames."""
from __future__ import annotations

import dataclasses
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import error
from ..picture import Picture

# PyAV colorspace / range enums to H.273 code points
_MATRIX_BY_NAME = {"ITU709": 1, "BT709": 1, "ITU601": 6, "SMPTE170M": 6, "BT470BG": 5, "BT2020": 9, "BT2020_NCL": 9}


@dataclasses.dataclass
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    matrix_coefficients: int = 1
    colour_primaries: int = 1
    transfer_characteristics: int = 1
    full_range: bool = False
    source_format: str = ""


def _plane(plane, width: int, height: int) -> np.ndarray:
    a = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return a[:height, :width].copy()


def frame_to_picture(frame) -> Picture:
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    w, h = frame.width, frame.height
    cw, ch = (w + 1) // 2, (h + 1) // 2
    return Picture(_plane(frame.planes[0], w, h), _plane(frame.planes[1], cw, ch), _plane(frame.planes[2], cw, ch))


def picture_to_frame(pic: Picture):
    import av

    f = av.VideoFrame(pic.width, pic.height, "yuv420p")
    for plane, data in zip(f.planes, pic.planes()):
        buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        buf[: data.shape[0], : data.shape[1]] = data
    return f


def iter_video(path: str | os.PathLike, max_frames: int | None = None, start: int = 0,
               info_out: list | None = None) -> Iterator[Picture]:
    """The frames of a video file as 8-bit 4:2:0 pictures, one at a time (decoded lazily by PyAV:
    memory holds one frame, whatever the file's length); frames before *start* are decoded and
    dropped, at most *max_frames* are given.  The file's :class:`VideoInfo` is appended to
    *info_out* (if given) before the first picture is yielded."""
    import av

    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as e:  # FFmpeg's errno (e.g. 1094995529) says nothing: its words do
        why = ("not a video file FFmpeg can read" if isinstance(e, av.error.InvalidDataError)
               else getattr(e, "strerror", None) or str(e))
        raise error("E102", f"cannot open {path}: {why}") from None
    with container:
        if not container.streams.video:
            raise error("E103", f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        given = 0
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i < start:
                    continue
                if given == 0 and info_out is not None:
                    cs = str(getattr(frame, "colorspace", "")).split(".")[-1].upper()
                    rng = str(getattr(frame, "color_range", "")).split(".")[-1].upper()
                    info_out.append(VideoInfo(frame.width, frame.height, Fraction(fps), _MATRIX_BY_NAME.get(cs, 1),
                                              full_range=rng in ("JPEG", "2") or frame.format.name.startswith("yuvj"),
                                              source_format=frame.format.name))
                yield frame_to_picture(frame)
                given += 1
                if max_frames and given >= max_frames:
                    break
        except av.error.FFmpegError as e:
            raise error("E102", f"cannot decode {path}: {e}") from None


def read_video(path: str | os.PathLike, max_frames: int | None = None, start: int = 0) -> tuple[list[Picture], VideoInfo]:
    """Decode a video file to 8-bit 4:2:0 pictures (converted once by swscale if the source is not 4:2:0);
    every frame is held: :func:`iter_video` gives them one at a time."""
    found: list[VideoInfo] = []
    pics = list(iter_video(path, max_frames, start, found))
    if not found:
        raise error("E103", f"{path} has no frames")
    return pics, found[0]


# ---------------------------------------------------------------- writers (streaming)
#: Output kinds by extension (``cmvc decode -o``); a path without an extension, ending in ``.png-dir``
#: or naming an existing directory is a directory of PNG frames.
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
RAW = {".y4m": "y4m", ".yuv": "yuv"}


def output_kind(path: str | os.PathLike) -> str:
    """``y4m``, ``yuv``, ``mp4``, ``mov``, ``matroska`` or ``png-dir`` for an output path (``-``: Y4M
    on stdout); another extension is E114."""
    p = str(path)
    if p == "-":
        return "y4m"
    if p.endswith(".png-dir") or Path(p).is_dir():
        return "png-dir"
    ext = Path(p).suffix.lower()
    if not ext:
        return "png-dir"
    if ext in RAW:
        return RAW[ext]
    if ext in CONTAINERS:
        return CONTAINERS[ext]
    raise error("E114", f"cannot write {p}: no writer for {ext} (use .y4m, .yuv, .mp4, .m4v, .mov, .mkv, "
                        "a directory for PNG frames, or - for Y4M on stdout)")


class VideoWriter:
    """Writes pictures one at a time (:meth:`write`), then :meth:`close`; :meth:`abort` drops what was
    written.  Made by :func:`open_writer`."""

    def write(self, pic: Picture) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def abort(self) -> None:
        self.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


class Y4mWriter(VideoWriter):
    """YUV4MPEG2 (4:2:0, the sequence's range) to a binary file object; the header is written first."""

    def __init__(self, f, width: int, height: int, fps: Fraction, full_range: bool = False, raw: bool = False) -> None:
        self.f = f
        self.size = (width, height)
        if not raw:
            f.write(f"YUV4MPEG2 W{width} H{height} F{fps.numerator}:{fps.denominator} Ip A1:1 C420jpeg "
                    f"XCOLORRANGE={'FULL' if full_range else 'LIMITED'}\n".encode())
        self.frame = b"" if raw else b"FRAME\n"

    def write(self, pic: Picture) -> None:
        self.f.write(self.frame + b"".join(np.ascontiguousarray(plane).tobytes() for plane in pic.planes()))

    def close(self) -> None:
        self.f.flush()


class ContainerWriter(VideoWriter):
    """H.264 (libx264, CRF 12, 4:2:0) in an MP4, MOV or Matroska container (PyAV).  H.264 needs even
    sizes: an odd picture gets its last row / column repeated."""

    def __init__(self, path: str, fmt: str, width: int, height: int, fps: Fraction, crf: int = 12) -> None:
        import av

        try:
            self.c = av.open(path, "w", format=fmt)
            self.s = self.c.add_stream("libx264", rate=fps)
        except (av.error.FFmpegError, ValueError) as e:
            raise error("E211", f"cannot write {fmt} through PyAV: {e}") from None
        self.s.width, self.s.height = width + width % 2, height + height % 2
        self.s.pix_fmt = "yuv420p"
        self.s.options = {"crf": str(crf), "preset": "medium"}

    def write(self, p: Picture) -> None:
        if p.width % 2 or p.height % 2:
            p = Picture(np.pad(p.y, ((0, p.height % 2), (0, p.width % 2)), mode="edge"), p.u, p.v)
        for pkt in self.s.encode(picture_to_frame(p)):
            self.c.mux(pkt)

    def close(self) -> None:
        for pkt in self.s.encode():
            self.c.mux(pkt)
        self.c.close()

    def abort(self) -> None:
        self.c.close()


class PngDirWriter(VideoWriter):
    """One RGB PNG per frame (``00000.png``, ...), converted by the sequence's matrix and range."""

    def __init__(self, path: str | os.PathLike, matrix: int = 1, full_range: bool = False) -> None:
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.matrix, self.full_range = matrix, full_range
        self.n = 0

    def write(self, pic: Picture) -> None:
        from PIL import Image

        from ..colour import picture_to_rgb8

        Image.fromarray(picture_to_rgb8(pic, self.matrix, self.full_range)).save(self.dir / f"{self.n:05d}.png")
        self.n += 1

    def close(self) -> None:
        pass


_FRAME_NAME = re.compile(r"\d{5,}\.png")


def partial_path(target: str | os.PathLike) -> Path:
    """The temporary name of an output while it is written: ``TARGET.partial`` beside it (a file, or a
    directory for PNG frames).  The name is fixed, so a run killed part way leaves one such file,
    which the next run for the same output removes."""
    t = Path(target)
    return t.with_name(t.name + ".partial")


def _remove(p: Path) -> None:
    import shutil

    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


class AtomicWriter(VideoWriter):
    """A writer of ``TARGET.partial`` that becomes *target* on :meth:`close` (renamed) and is removed
    on :meth:`abort`.  An existing directory of PNG frames is replaced only if it holds nothing but
    frames (``NNNNN.png``) of an earlier decode (E114 otherwise)."""

    def __init__(self, target: Path, inner_factory) -> None:
        self.target = target
        self.tmp = partial_path(target)
        _remove(self.tmp)  # left by a run that was killed
        self.inner = inner_factory(str(self.tmp))

    def write(self, pic: Picture) -> None:
        self.inner.write(pic)

    def close(self) -> None:
        self.inner.close()
        if self.target.is_dir() and not self.target.is_symlink():
            _remove(self.target)  # checked by open_writer: frames of an earlier decode only
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        try:
            self.inner.abort()
        finally:
            _remove(self.tmp)


def open_writer(path: str | os.PathLike, width: int, height: int, fps: Fraction, matrix: int = 1,
                full_range: bool = False, stdout=None) -> VideoWriter:
    """A streaming writer for *path* by its kind (:func:`output_kind`): Y4M, raw I420 (``.yuv``), H.264
    in MP4 / MOV / Matroska, or a directory of PNG frames; ``-`` is Y4M on *stdout* (default
    ``sys.stdout.buffer``).  Files are written as ``PATH.partial`` and renamed at :meth:`close`.
    Every check that can fail (E114) is made here, before any frame is decoded."""
    import sys

    kind = output_kind(path)
    if str(path) == "-":
        return Y4mWriter(stdout or sys.stdout.buffer, width, height, fps, full_range)
    target = Path(path)
    if kind == "png-dir":
        if target.exists() and not target.is_dir():
            raise error("E114", f"cannot write PNG frames into {target}: it is a file")
        if target.is_dir():
            other = [e.name for e in target.iterdir() if not _FRAME_NAME.fullmatch(e.name)]
            if other:
                raise error("E114", f"{target} holds files other than PNG frames ({other[0]}, ...): name a new or "
                                    "empty directory")
    elif target.is_dir():
        raise error("E114", f"cannot write {kind} to {target}: it is a directory")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise error("E114", f"cannot create the directory of {target}: {e.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise error("E114", f"cannot write into {parent}: permission denied")

    def inner(tmp: str) -> VideoWriter:
        if kind == "png-dir":
            return PngDirWriter(tmp, matrix, full_range)
        if kind in ("y4m", "yuv"):
            return _FileWriter(tmp, lambda f: Y4mWriter(f, width, height, fps, full_range, raw=kind == "yuv"))
        return ContainerWriter(tmp, kind, width, height, fps)

    try:
        return AtomicWriter(target, inner)
    except OSError as e:
        raise error("E114", f"cannot write {target}: {e.strerror}") from None


class _FileWriter(VideoWriter):
    """A writer over a file it opens and closes."""

    def __init__(self, path: str, make) -> None:
        self.f = open(path, "wb")
        self.w = make(self.f)

    def write(self, pic: Picture) -> None:
        self.w.write(pic)

    def close(self) -> None:
        self.w.close()
        self.f.close()

    def abort(self) -> None:
        self.f.close()


def write_frames(path: str | os.PathLike, pics: Iterable[Picture], width: int, height: int, fps: Fraction,
                 matrix: int = 1, full_range: bool = False) -> int:
    """Write *pics* (any iterable, consumed one at a time) to *path* (:func:`open_writer`); the number
    of frames written.  On an error the partial output is removed and the error raised."""
    n = 0
    with open_writer(path, width, height, fps, matrix, full_range) as w:
        for p in pics:
            w.write(p)
            n += 1
    return n


def _size(pics: Iterable[Picture]):
    it = iter(pics)
    first = next(it)
    import itertools

    return first.width, first.height, itertools.chain([first], it)


def write_y4m(path: str | os.PathLike, pics: Iterable[Picture], fps: Fraction, full_range: bool = False) -> None:
    w, h, pics = _size(pics)
    with open(path, "wb") as f:
        y = Y4mWriter(f, w, h, fps, full_range)
        for p in pics:
            y.write(p)


def write_mp4(path: str | os.PathLike, pics: Iterable[Picture], fps: Fraction, crf: int = 12) -> None:
    w, h, pics = _size(pics)
    c = ContainerWriter(str(path), "mp4", w, h, fps, crf)
    for p in pics:
        c.write(p)
    c.close()


def write_png_dir(path: str | os.PathLike, pics: Iterable[Picture], matrix: int = 1, full_range: bool = False) -> None:
    d = PngDirWriter(path, matrix, full_range)
    for p in pics:
        d.write(p)


def write_video(path: str | os.PathLike, pics: Iterable[Picture], fps: Fraction, matrix: int = 1,
                full_range: bool = False) -> None:
    """By kind (:func:`output_kind`), through ``PATH.partial``: .y4m, .yuv, .mp4/.m4v/.mov/.mkv, or a
    directory (no extension, .png-dir, an existing directory) of PNG frames."""
    w, h, pics = _size(pics)
    write_frames(path, pics, w, h, fps, matrix, full_range)
