"""§7.2.5 VVC keyframes: all keyframes of a stream form one VVC bitstream, access units in decoding order.

VVC's coarsest quantiser (QP 63) is far coarser than AV1's, so VVC keyframes reach rates AV1 ones
cannot (docs/experiments.md §2.1).

Encoder: vvenc through imageio-ffmpeg's ffmpeg (PyAV has no vvenc), random access with a
hierarchical GOP of 16 pictures, 10-bit internally (the 8-bit samples are given as ``x << 2``),
preset ``slow`` by default (``EncoderConfig.vvc_preset``; the vvenc peer of the benchmarks uses the
same), ``HrdParametersPresent=0`` (CMVC has its own timing).  The elementary stream is split into
access units with PyAV's VVC parser; the access unit delimiters are dropped (each keyframe unit
delimits its access unit), and so is the first start code of each access unit (§7.2.5: implied).
At a shot cut between two keyframes (:func:`cmvc.keyframes.shot_starts`) the keyframes after it are
coded as a new coded video sequence that begins with an IDR picture, with its own QP; its SPS and
PPS, equal to the first sequence's, are left out (they stay available to the decoder).  vvenc 1.15
sometimes returns no pictures without an error for some inputs and intra periods: the encoder then
retries with longer periods, each still a single intra picture.

Decoder: FFmpeg's native VVC decoder (through PyAV), fed the access units in stream order; its output
pictures, in output order, are the keyframes.  VVC decoding is exact, so this codec is bit-exact.
Output samples of bit depth 10 become 8-bit by ``Min(255, (x + 2) >> 2)``.
"""
from __future__ import annotations

import errno
import math
import os
import subprocess
import tempfile
from collections.abc import Sequence

import numpy as np

from ..errors import describe, error
from ..picture import Picture
from ..registry import CodecId
from ..syntax import VvcParams
from . import too_large

CODEC_ID = CodecId.VVC
MIN_SIZE = 32  # vvenc refuses some smaller pictures (e.g. 16x16, 40x8); the decoder crops the padding
PRESET = "slow"  # also the preset of the vvenc peer in the benchmarks (equal effort); see above
PRESETS = ("faster", "fast", "medium", "slow", "slower")  # vvenc's presets (EncoderConfig.vvc_preset)
PARAMS = "GOPSize=16:HrdParametersPresent=0"  # see the module docstring
AUD_NUT = 20  # nal_unit_type of an access unit delimiter (VVC Table 5)
PS_NUTS = (14, 15, 16)  # VPS, SPS, PPS (VVC Table 5)
START_CODE = b"\x00\x00\x00\x01"  # zero_byte and start_code_prefix_one_3bytes (VVC Annex B)
RETRIES = 4  # intra periods tried (see the module docstring)


def _pad(p: Picture, w: int, h: int) -> Picture:
    cw, ch = w // 2, h // 2
    return Picture(np.pad(p.y, ((0, h - p.height), (0, w - p.width)), mode="edge"),
                   np.pad(p.u, ((0, ch - p.u.shape[0]), (0, cw - p.u.shape[1])), mode="edge"),
                   np.pad(p.v, ((0, ch - p.v.shape[0]), (0, cw - p.v.shape[1])), mode="edge"))


def nal_units(au: bytes) -> list[tuple[int, bytes]]:
    """(nal_unit_type, NAL unit with its start code) for each NAL unit of an Annex B byte string.

    A start code is ``00 00 01`` with any number of leading zero bytes (emulation prevention keeps
    the pattern out of NAL unit payloads); the zero bytes before a start code belong to it."""
    starts = []
    i = au.find(b"\x00\x00\x01")
    while i >= 0:
        s = i
        while s > 0 and au[s - 1] == 0 and (not starts or s - 1 > starts[-1][1]):
            s -= 1
        starts.append((s, i + 3))
        i = au.find(b"\x00\x00\x01", i + 3)
    out = []
    for k, (s, body) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(au)
        nut = au[body + 1] >> 3 if body + 1 < end else -1
        out.append((nut, au[s:end]))
    return out


def with_start_code(data: bytes) -> bytes:
    """§7.2.5: keyframe_data whose second byte is not 0 begins with a NAL unit header (its
    nuh_temporal_id_plus1 is at least 1), not with a start code; the start code is implied."""
    return START_CODE + data if len(data) >= 2 and data[1] != 0 else data


def without_start_code(au: bytes) -> bytes:
    """The access unit without its first NAL unit's start code (and any zero bytes before it)."""
    i = au.find(b"\x00\x00\x01")
    return au[i + 3:] if i >= 0 and not any(au[:i]) else au


def access_units(stream: bytes) -> list[bytes]:
    """The access units of an Annex B VVC elementary stream (PyAV's parser), delimiters removed."""
    import av

    parser = av.CodecContext.create("vvc", "r")
    aus = [bytes(p) for p in parser.parse(stream)] + [bytes(p) for p in parser.parse(None)]
    return [b"".join(nal for nut, nal in nal_units(au) if nut != AUD_NUT) for au in aus]


def encode(pictures, quality: int | Sequence[int] = 45, colour=None, preset: str = PRESET, params: str | None = PARAMS,
           starts: Sequence[int] | None = None):
    """Code the keyframes as one VVC bitstream; *quality* is vvenc's QP (0..63, higher = fewer bits),
    or one QP per coded video sequence (the last one repeated for any further sequences): a shot
    may get a finer quantiser than another (rate control spends a budget's rest so, see
    :func:`cmvc.encoder.rate_control.plan`).

    *starts*: indices of pictures that begin a new coded video sequence (an IDR picture: no
    prediction across it); None: the shot cuts among the pictures (:func:`shot_starts`).  A
    parameter set equal to one already sent is not repeated (it stays available to the decoder).
    See the module docstring for what this gains."""
    if preset not in PRESETS:
        raise error("E101", f"unknown vvenc preset {preset!r} ({', '.join(PRESETS)})")
    if starts is None:
        from . import shot_starts

        starts = shot_starts(pictures)
    runs = [0, *sorted(i for i in set(starts) if 0 < i < len(pictures)), len(pictures)]
    out: list = []
    sent: set[bytes] = set()
    qps = [int(quality)] if isinstance(quality, (int, np.integer)) else [int(q) for q in quality]
    for k, (a, b) in enumerate(zip(runs, runs[1:])):
        q = qps[min(k, len(qps) - 1)]
        aus = _encode_run(pictures[a:b], q, preset, params)
        first = b"".join(nal for nut, nal in nal_units(aus[0]) if not (nut in PS_NUTS and nal in sent))
        sent |= {nal for nut, nal in nal_units(aus[0]) if nut in PS_NUTS}
        out += [(VvcParams(access_unit_index=len(out) + i, quality=q), without_start_code(au))
                for i, au in enumerate([first, *aus[1:]])]
    return out


def _encode_run(pictures, quality: int, preset: str, params: str | None) -> list[bytes]:
    """The access units (with start codes, delimiters removed) of one coded video sequence."""
    w0, h0 = pictures[0].width, pictures[0].height
    w, h = max(MIN_SIZE, w0 + w0 % 2), max(MIN_SIZE, h0 + h0 % 2)
    raw = bytearray()
    for p in pictures:
        q = _pad(p, w, h) if (w, h) != (w0, h0) else p
        for plane in q.planes():
            raw += (plane.astype("<u2") << 2).tobytes()
    first = math.ceil(len(pictures) / 25) + 1  # seconds at 25 pictures/s: one intra picture
    for period in range(first, first + RETRIES):
        stream = _vvenc(bytes(raw), w, h, quality, preset, period, params)
        aus = access_units(stream)
        if len(aus) == len(pictures):
            return aus
    raise error("E203", f"vvenc produced {len(aus)} access units for {len(pictures)} keyframes "
                        f"(intra periods {first}..{first + RETRIES - 1} s tried)")


def _vvenc(raw: bytes, w: int, h: int, quality: int, preset: str, period: int, params: str | None) -> bytes:
    """The elementary stream vvenc makes of 10-bit 4:2:0 *raw* pictures (empty if it made none)."""
    from ..tools.metrics import ffmpeg_exe

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "kf.266")
        try:
            p = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo",
                                "-pix_fmt", "yuv420p10le", "-s", f"{w}x{h}", "-r", "25", "-i", "-",
                                "-c:v", "libvvenc", "-qp", str(int(quality)), "-preset", preset,
                                "-period", str(period), *(["-vvenc-params", params] if params else []),
                                "-f", "vvc", out], input=raw, capture_output=True)
        except OSError as e:
            raise error("E203", f"ffmpeg cannot run: {e}") from None
        if p.returncode or not os.path.exists(out):
            raise error("E203", f"vvenc (ffmpeg libvvenc) failed: {p.stderr.decode(errors='replace').strip()[-300:]}")
        with open(out, "rb") as f:
            return f.read()


def to_8bit(x: np.ndarray) -> np.ndarray:
    """§7.2.5: a 10-bit sample x becomes Min(255, (x + 2) >> 2)."""
    return np.minimum(255, (x.astype(np.uint16) + 2) >> 2).astype(np.uint8)


class _Decoder:
    """Output-order decoder: :meth:`output` takes one access unit and returns the pictures the VVC
    decoder outputs (in output order, possibly none); :meth:`flush` returns the rest."""

    def __init__(self, sh, models=None):
        import av

        self.sh = sh
        try:
            self.ctx = av.CodecContext.create("vvc", "r")
        except Exception as e:
            raise error("E203", f"the VVC decoder is not available in PyAV: {e}") from None
        self.ctx.thread_count = 1  # pictures come out as soon as the output process allows
        from ..levels import keyframe_picture_limit

        self.limit = keyframe_picture_limit(sh.coded_width, sh.coded_height)  # §9.3, checked before allocation
        self.ctx.options = {"max_pixels": str(self.limit[0] * self.limit[1])}

    def _picture(self, f, what: str) -> Picture:
        name = f.format.name
        if name not in ("yuv420p", "yuv420p10le"):
            raise error("E024", f"{what}: VVC picture is {name}, expected 4:2:0 of bit depth 8 or 10")
        if f.width < self.sh.coded_width or f.height < self.sh.coded_height:
            raise error("E024", f"{what}: VVC picture {f.width}x{f.height} is smaller than "
                                f"{self.sh.coded_width}x{self.sh.coded_height}")
        if f.width > self.limit[0] or f.height > self.limit[1]:
            raise error("E024", f"{what}: VVC picture {f.width}x{f.height} is larger than "
                                f"{self.limit[0]}x{self.limit[1]} (coded size + 64, §9.3)")
        planes = []
        for i, plane in enumerate(f.planes):
            ww, hh = (self.sh.coded_width, self.sh.coded_height) if i == 0 else \
                ((self.sh.coded_width + 1) // 2, (self.sh.coded_height + 1) // 2)
            if name == "yuv420p":
                a = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:hh, :ww].copy()
            else:
                a = to_8bit(np.frombuffer(plane, "<u2").reshape(-1, plane.line_size // 2)[:hh, :ww])
            planes.append(a)
        return Picture(*planes)

    def _run(self, packet, what: str, unit=None) -> list[Picture]:
        import av

        try:
            frames = list(self.ctx.decode(packet))
        except av.error.FFmpegError as e:
            if e.errno == errno.ENOMEM and unit is not None:  # max_pixels exceeded (FFmpeg's size check)
                raise error("E024", too_large(unit, self.sh, "VVC access unit"), offset=0) from None
            raise error("E024", f"{what}: VVC access unit does not decode: {describe(e)}") from None
        return [self._picture(f, what) for f in frames]

    def output(self, unit) -> list[Picture]:
        import av

        if not unit.keyframe_data:
            raise error("E024", f"keyframe {unit.frame_index}: empty VVC access unit")
        return self._run(av.Packet(with_start_code(unit.keyframe_data)), f"keyframe {unit.frame_index}", unit)

    def flush(self) -> list[Picture]:
        return self._run(None, "end of the VVC bitstream")


def decoder(sh, models=None):
    return _Decoder(sh, models)
