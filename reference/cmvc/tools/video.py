"""Video files in and out (PyAV): read any format PyAV reads as 8-bit 4:2:0; write Y4M, MP4, PNG frames."""
from __future__ import annotations

import dataclasses
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterable

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


def read_video(path: str | os.PathLike, max_frames: int | None = None, start: int = 0) -> tuple[list[Picture], VideoInfo]:
    """Decode a video file to 8-bit 4:2:0 pictures (converted once by swscale if the source is not 4:2:0)."""
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
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        pics: list[Picture] = []
        info = None
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i < start:
                    continue
                if info is None:
                    cs = str(getattr(frame, "colorspace", "")).split(".")[-1].upper()
                    rng = str(getattr(frame, "color_range", "")).split(".")[-1].upper()
                    info = VideoInfo(frame.width, frame.height, Fraction(fps), _MATRIX_BY_NAME.get(cs, 1),
                                     full_range=rng in ("JPEG", "2") or frame.format.name.startswith("yuvj"),
                                     source_format=frame.format.name)
                pics.append(frame_to_picture(frame))
                if max_frames and len(pics) >= max_frames:
                    break
        except av.error.FFmpegError as e:
            raise error("E102", f"cannot decode {path}: {e}") from None
    if info is None:
        raise error("E103", f"{path} has no frames")
    return pics, info


def write_y4m(path: str | os.PathLike, pics: Iterable[Picture], fps: Fraction, full_range: bool = False) -> None:
    pics = list(pics)
    w, h = pics[0].width, pics[0].height
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps.numerator}:{fps.denominator} Ip A1:1 C420jpeg "
                f"XCOLORRANGE={'FULL' if full_range else 'LIMITED'}\n".encode())
        for p in pics:
            f.write(b"FRAME\n")
            for plane in p.planes():
                f.write(np.ascontiguousarray(plane).tobytes())


def write_mp4(path: str | os.PathLike, pics: Iterable[Picture], fps: Fraction, crf: int = 12) -> None:
    import av

    pics = list(pics)
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height = pics[0].width + pics[0].width % 2, pics[0].height + pics[0].height % 2
        s.pix_fmt = "yuv420p"
        s.options = {"crf": str(crf), "preset": "medium"}
        for p in pics:
            if p.width % 2 or p.height % 2:  # H.264 needs even sizes: repeat the last row/column
                p = Picture(np.pad(p.y, ((0, p.height % 2), (0, p.width % 2)), mode="edge"), p.u, p.v)
            for pkt in s.encode(picture_to_frame(p)):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def write_png_dir(path: str | os.PathLike, pics: Iterable[Picture], matrix: int = 1, full_range: bool = False) -> None:
    from PIL import Image

    from ..colour import picture_to_rgb8

    Path(path).mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(pics):
        Image.fromarray(picture_to_rgb8(p, matrix, full_range)).save(Path(path) / f"{i:05d}.png")


def write_video(path: str | os.PathLike, pics: list[Picture], fps: Fraction, matrix: int = 1, full_range: bool = False) -> None:
    """By extension: .y4m, .mp4/.mkv, or a directory (no extension or .png-dir) of PNG frames."""
    p = str(path)
    if p.endswith(".y4m"):
        write_y4m(p, pics, fps, full_range)
    elif p.endswith((".mp4", ".mkv", ".mov")):
        write_mp4(p, pics, fps)
    else:
        write_png_dir(p, pics, matrix, full_range)
