"""Conventional codecs as peers, through imageio-ffmpeg's ffmpeg: encode a Y4M, measure the
elementary-stream bits, decode back to 8-bit 4:2:0 pictures."""
from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import tempfile
from fractions import Fraction

from ..errors import error
from ..picture import Picture
from .metrics import ffmpeg_exe
from .video import read_video, write_y4m


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str  # e.g. "vvenc-qp63"
    codec: str
    args: tuple[str, ...]
    fmt: str  # raw elementary stream muxer
    ext: str


def vvenc(qp: int, period_s: int = 64) -> Peer:
    """vvenc at the preset CMVC's VVC keyframes use (equal effort, :data:`cmvc.keyframes.vvc.PRESET`)."""
    from ..keyframes.vvc import PRESET

    return Peer(f"vvenc-qp{qp}", "libvvenc", ("-qp", str(qp), "-preset", PRESET, "-period", str(period_s),
                                              "-pix_fmt", "yuv420p10le"), "vvc", "266")


def x265(qp: int = 51) -> Peer:
    return Peer(f"x265-qp{qp}", "libx265", ("-x265-params", f"qp={qp}:keyint=1000:log-level=error", "-preset", "medium"),
                "hevc", "265")


def x264(qp: int = 51) -> Peer:
    return Peer(f"x264-qp{qp}", "libx264", ("-qp", str(qp), "-g", "1000", "-preset", "medium"), "h264", "264")


def svtav1(crf: int = 63) -> Peer:
    return Peer(f"svtav1-crf{crf}", "libsvtav1", ("-crf", str(crf), "-preset", "6", "-g", "1000",
                                                  "-svtav1-params", "scd=0"), "obu", "obu")


def run_peer(peer: Peer, pics: list[Picture], fps: Fraction) -> tuple[int, list[Picture]]:
    """(bits of the elementary stream, decoded pictures)."""
    ff = ffmpeg_exe()
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src.y4m")
        write_y4m(src, pics, fps)
        out = os.path.join(d, f"out.{peer.ext}")
        period = ["-period", str(max(1, math.ceil(len(pics) / float(fps)) + 1))] if peer.codec == "libvvenc" else []
        args = list(peer.args)
        if peer.codec == "libvvenc":
            i = args.index("-period")
            args[i + 1:i + 2] = [period[1]]
        p = subprocess.run([ff, "-hide_banner", "-loglevel", "error", "-y", "-i", src, "-c:v", peer.codec, *args,
                            "-f", peer.fmt, out], capture_output=True, text=True)
        if p.returncode or not os.path.exists(out):
            raise error("E203", f"{peer.name}: ffmpeg failed: {p.stderr.strip()[-300:]}")
        bits = 8 * os.path.getsize(out)
        dec = os.path.join(d, "dec.y4m")
        p = subprocess.run([ff, "-hide_banner", "-loglevel", "error", "-y", "-f", peer.fmt, "-i", out,
                            "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "-strict", "-1", dec], capture_output=True, text=True)
        if p.returncode:
            raise error("E203", f"{peer.name}: decoding failed: {p.stderr.strip()[-300:]}")
        decoded, _ = read_video(dec)
    if len(decoded) != len(pics):
        raise error("E203", f"{peer.name}: decoded {len(decoded)} frames, expected {len(pics)}")
    return bits, decoded
