"""§7.2.4 AV1 keyframes: all keyframes of a stream form one AV1 coded video sequence.

Encoder: SVT-AV1 (through PyAV), one temporal unit per keyframe, hierarchical random-access
prediction by default (hidden alternate reference frames travel in the temporal unit that needs them
first and are shown later by show_existing_frame, so every temporal unit still shows one frame);
``low_delay=True`` gives the low-delay structure.  At a shot cut between two keyframes
(:func:`cmvc.keyframes.shot_starts`) the picture after it is forced to be a key frame (FFmpeg's
libsvtav1 honours an I picture type).  The temporal delimiter that starts each temporal unit is left
out (§7.2.4: implied).  Measurements: docs/experiments.md §2.2.

Decoder: dav1d (through PyAV), fed the temporal units in stream order; AV1 decoding is bit-exact by
the AV1 specification.  A decoded frame larger than the sequence (the encoder pads odd or tiny sizes)
is cropped to its top-left width x height region; a smaller one is E024.
"""
from __future__ import annotations

import errno
import os
from fractions import Fraction

import numpy as np

from ..errors import describe, error
from ..picture import Picture
from ..registry import CodecId
from ..syntax import Av1Params

CODEC_ID = CodecId.AV1
TEMPORAL_DELIMITER = b"\x12\x00"  # OBU_TEMPORAL_DELIMITER with obu_has_size_field = 1, obu_size 0


def with_temporal_delimiter(data: bytes) -> bytes:
    """§7.2.4: a temporal unit whose first OBU is not a temporal delimiter (obu_type 2) has it implied."""
    return data if data and (data[0] >> 3) & 15 == 2 else TEMPORAL_DELIMITER + data


OBU_SEQUENCE_HEADER = 1


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def f(self, n: int) -> int:
        v = 0
        for _ in range(n):
            if self.pos >= 8 * len(self.data):
                raise ValueError("short")
            v = (v << 1) | (self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
            self.pos += 1
        return v

    def uvlc(self) -> int:
        zeros = 0
        while not self.f(1):
            zeros += 1
            if zeros >= 32:
                return (1 << 32) - 1
        return self.f(zeros) + (1 << zeros) - 1


def max_frame_size(seq: bytes) -> tuple[int, int]:
    """(max_frame_width_minus_1 + 1, max_frame_height_minus_1 + 1) of a sequence_header_obu()
    payload (AV1 specification 5.5.1); ValueError if it ends early."""
    b = _Bits(seq)
    b.f(3)  # seq_profile
    b.f(1)  # still_picture
    if b.f(1):  # reduced_still_picture_header
        b.f(5)  # seq_level_idx[0]
    else:
        decoder_model_info = False
        delay_bits = 0
        if b.f(1):  # timing_info_present_flag
            b.f(32), b.f(32)  # num_units_in_display_tick, time_scale
            if b.f(1):  # equal_picture_interval
                b.uvlc()
            decoder_model_info = bool(b.f(1))
            if decoder_model_info:
                delay_bits = b.f(5) + 1
                b.f(32), b.f(5), b.f(5)
        initial_display_delay = b.f(1)
        for _ in range(b.f(5) + 1):  # operating points
            b.f(12)  # operating_point_idc
            if b.f(5) > 7:  # seq_level_idx
                b.f(1)  # seq_tier
            if decoder_model_info and b.f(1):
                b.f(delay_bits), b.f(delay_bits), b.f(1)
            if initial_display_delay and b.f(1):
                b.f(4)
    wbits, hbits = b.f(4) + 1, b.f(4) + 1
    return b.f(wbits) + 1, b.f(hbits) + 1


def declared_sizes(tu: bytes):
    """The maximum frame size of each sequence header OBU in a temporal unit (low-overhead format),
    read before the unit is decoded (§7.2); a header cut short ends the list (the decoder reports it)."""
    pos = 0
    while pos < len(tu):
        hdr = tu[pos]
        obu_type, ext, has_size = (hdr >> 3) & 15, (hdr >> 2) & 1, (hdr >> 1) & 1
        pos += 1 + ext
        size = len(tu) - pos
        if has_size:
            size, shift = 0, 0
            for _ in range(8):
                if pos >= len(tu):
                    return
                byte = tu[pos]
                pos += 1
                size |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        if obu_type == OBU_SEQUENCE_HEADER:
            try:
                yield max_frame_size(tu[pos:pos + size])
            except ValueError:
                return  # the decoder reports the damaged header
        pos += size


MIN_SIZE = 16
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its configuration at level 3 (info)


def _pad(p: Picture, w: int, h: int) -> Picture:
    cw, ch = w // 2, h // 2
    return Picture(np.pad(p.y, ((0, h - p.height), (0, w - p.width)), mode="edge"),
                   np.pad(p.u, ((0, ch - p.u.shape[0]), (0, cw - p.u.shape[1])), mode="edge"),
                   np.pad(p.v, ((0, ch - p.v.shape[0]), (0, cw - p.v.shape[1])), mode="edge"))


def encode(pictures, quality: int = 55, colour=None, preset: int = 6, low_delay: bool = False,
           starts: list[int] | None = None):
    """Code the keyframes as one AV1 sequence; *quality* is SVT-AV1's CRF (0..63, higher = fewer bits).
    *starts*: indices of pictures coded as key frames (no prediction across them); None: the shot
    cuts among the pictures (:func:`cmvc.keyframes.shot_starts`)."""
    import av

    if starts is None:
        from . import shot_starts

        starts = shot_starts(pictures)

    from ..tools.video import picture_to_frame

    try:
        enc = av.CodecContext.create("libsvtav1", "w")
    except Exception as e:
        raise error("E203", f"the SVT-AV1 encoder is not available in PyAV: {e}") from None
    w0, h0 = pictures[0].width, pictures[0].height
    w, h = max(MIN_SIZE, w0 + w0 % 2), max(MIN_SIZE, h0 + h0 % 2)
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base = Fraction(1, 25)
    enc.framerate = Fraction(25)
    params = ("pred-struct=1:lookahead=0:enable-overlays=0:keyint=0:scd=0:film-grain=0" if low_delay else
              "pred-struct=2:enable-overlays=0:scd=0:film-grain=0")
    enc.gop_size = 1 << 20  # one key frame: the sequence is never reset
    enc.options = {"crf": str(int(quality)), "preset": str(preset), "svtav1-params": params}
    packets: list[bytes] = []
    for i, p in enumerate(pictures):
        f = picture_to_frame(_pad(p, w, h) if (w, h) != (w0, h0) else p)
        f.pts = i
        if i in starts:
            f.pict_type = av.video.frame.PictureType.I  # FFmpeg's libsvtav1 codes it as a key frame
        packets += [bytes(x) for x in enc.encode(f)]
    packets += [bytes(x) for x in enc.encode(None)]
    if len(packets) != len(pictures):
        raise error("E203", f"SVT-AV1 produced {len(packets)} temporal units for {len(pictures)} keyframes")
    return [(Av1Params(temporal_unit_index=i, quality=int(quality)),
             pk[len(TEMPORAL_DELIMITER):] if pk.startswith(TEMPORAL_DELIMITER) else pk)  # implied (§7.2.4)
            for i, pk in enumerate(packets)]


class _Decoder:
    def __init__(self, sh, models=None):
        import av

        self.sh = sh
        try:
            self.ctx = av.CodecContext.create("libdav1d", "r")
        except Exception as e:
            raise error("E203", f"the dav1d decoder is not available in PyAV: {e}") from None
        from ..levels import keyframe_picture_limit

        self.limit = keyframe_picture_limit(sh.coded_width, sh.coded_height)  # §9.3, checked before dav1d allocates
        self.ctx.options = {"max_frame_delay": "1", "max_pixels": str(self.limit[0] * self.limit[1])}

    def decode(self, unit) -> Picture:
        import av

        from ..tools.video import frame_to_picture

        from . import max_pixels, too_large

        data = with_temporal_delimiter(unit.keyframe_data)
        for w, h in declared_sizes(data):  # §7.2: checked before decoding
            if w * h > max_pixels(self.sh):
                raise error("E024", too_large(unit, self.sh, "AV1 sequence header", (w, h)), offset=0)
        try:
            frames = list(self.ctx.decode(av.Packet(data)))
            if not frames:
                frames = list(self.ctx.decode(None))
        except av.error.FFmpegError as e:
            if e.errno == errno.ERANGE:  # dav1d's frame_size_limit (max_pixels)
                raise error("E024", too_large(unit, self.sh, "AV1 temporal unit"), offset=0) from None
            raise error("E024", f"keyframe {unit.frame_index}: AV1 temporal unit does not decode: {describe(e)}") from None
        if len(frames) != 1:
            raise error("E024", f"keyframe {unit.frame_index}: AV1 temporal unit gave {len(frames)} frames, expected 1")
        f = frames[0]
        if f.format.name != "yuv420p":
            raise error("E024", f"keyframe {unit.frame_index}: AV1 frame is {f.format.name}, expected 8-bit 4:2:0")
        if f.width < self.sh.coded_width or f.height < self.sh.coded_height:
            raise error("E024", f"keyframe {unit.frame_index}: AV1 frame {f.width}x{f.height} is smaller than "
                                f"{self.sh.coded_width}x{self.sh.coded_height}")
        if f.width > self.limit[0] or f.height > self.limit[1]:
            raise error("E024", f"keyframe {unit.frame_index}: AV1 frame {f.width}x{f.height} is larger than "
                                f"{self.limit[0]}x{self.limit[1]} (coded size + 64, §9.3)")
        p = frame_to_picture(f)
        cw, ch = (self.sh.coded_width + 1) // 2, (self.sh.coded_height + 1) // 2
        return Picture(p.y[: self.sh.coded_height, : self.sh.coded_width].copy(), p.u[:ch, :cw].copy(), p.v[:ch, :cw].copy())


def decoder(sh, models=None):
    return _Decoder(sh, models)
