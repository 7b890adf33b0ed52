"""The Python API for the three jobs: encode a file, decode a stream, validate a stream.

Importable from the package: ``cmvc.encode_file``, ``cmvc.validate_file`` (and ``cmvc.decode_frames``
where the streaming decoder provides it).  Errors are :class:`cmvc.errors.CmvcError` with the stable
codes of spec §10.8 (E1xx: caller errors).
"""
from __future__ import annotations

import dataclasses
import math
import os
from fractions import Fraction
from typing import BinaryIO, Callable

from .errors import error


def encode_file(path: str | os.PathLike, out: str | os.PathLike | None = None, *, bits: float | None = None,
                bpp: float | None = None, kbps: float | None = None, rc_preset: str = "model",
                rc_metric: str = "ms-ssim", frames: int | None = None,
                progress: Callable[[str, int, int], None] | None = None, **options):
    """Encode the video file *path* (anything FFmpeg reads) and write the stream to *out* atomically
    (None: not written).  Returns the :class:`cmvc.encoder.pipeline.EncodeResult` (``.data`` is the stream).

    *options* are :class:`cmvc.encoder.pipeline.EncoderConfig` fields (``codec="vvc"``, ``quality=45``,
    ``interval=8``, ``profile="blend"``, ...); the defaults are ``cmvc encode``'s.  With a target
    (*bits* for the whole clip, *bpp* or *kbps*) rate control chooses the operating point as
    ``cmvc encode --bpp`` does: by the method and among the codecs, strategies and coded sizes of
    *rc_preset* (:data:`cmvc.encoder.rate_control.RC_PRESETS`; ``model``, the default, models the clip
    and scores a few candidates; ``exhaustive``, ``full`` and ``fast`` search, much slower), unless *options* name ``codec``, ``strategy`` or ``downscale``.  *frames*: encode only the first frames.  *progress(stage, done, total)*: called
    as the encoder works.

    The clip is read into memory and coded as one piece, its decoded pictures in the result.
    ``cmvc encode`` reads lazily and codes chunks of 4 s (:func:`cmvc.encoder.chunking.encode_file`,
    docs/streaming-encode.md): for videos longer than that, use it; its stream then differs from
    this one's.  Torch runs on the caller's threads (``torch.set_num_threads``; ``cmvc encode``
    gives each chunk ``--threads``, default 2): the frame hashes depend on their number.
    """
    from .encoder.pipeline import EncoderConfig, encode
    from .keyframes import Colour
    from .tools.fileio import write_atomic
    from .tools.video import read_video

    fields = {f.name for f in dataclasses.fields(EncoderConfig)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise error("E101", f"unknown encoder option {', '.join(unknown)} (EncoderConfig fields: {', '.join(sorted(fields))})")
    if sum(x is not None for x in (bits, bpp, kbps)) > 1:
        raise error("E101", "give at most one of bits, bpp and kbps")
    for name, value in (("bits", bits), ("bpp", bpp), ("kbps", kbps)):
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise error("E101", f"{name} {value!r}: must be a number above 0")
    if frames is not None and not (isinstance(frames, int) and frames > 0):
        raise error("E101", f"frames {frames!r}: must be a whole number above 0 (None: every frame)")
    pics, info = read_video(path, max_frames=frames)
    cfg = EncoderConfig(**{"source_name": os.path.basename(path), **options})
    colour = Colour(info.matrix_coefficients, info.full_range)
    if bpp is not None:
        bits = bpp * info.width * info.height * len(pics)
    elif kbps is not None:
        bits = kbps * 1000 * len(pics) / float(info.fps)
    if bits is not None:
        cfg = _rate_controlled(pics, cfg, bits, rc_preset, rc_metric, colour, options)
    res = encode(pics, cfg, fps=Fraction(info.fps), colour=colour, progress=progress)
    if out is not None:
        write_atomic(out, res.data)
    return res


def _rate_controlled(pics, cfg, bits: float, preset: str, metric: str, colour, options: dict):
    """*cfg* at the operating point rate control plans for *bits* (not normative: docs/encoder.md)."""
    from .encoder.rate_control import RC_PRESETS, plan

    if preset not in RC_PRESETS:
        raise error("E101", f"unknown rate-control preset {preset!r} ({', '.join(RC_PRESETS)})")
    sp = RC_PRESETS[preset]
    scorer = None
    if metric == "vmaf":
        from .tools.metrics import vmaf_scorer as scorer
    cfg = dataclasses.replace(cfg, vvc_preset=options.get("vvc_preset", sp.vvc_preset),
                              fit=options.get("fit", sp.fit or cfg.fit))
    rp = plan(pics, cfg, bits, metric=metric, scorer=scorer, colour=colour,
              **{**sp.plan_options(), **({"fallback_codecs": ()} if "codec" in options else {})},
              downscales=(cfg.downscale,) if "downscale" in options else sp.downscales,
              strategies=(cfg.strategy,) if "strategy" in options else sp.strategies,
              codecs=(cfg.codec,) if "codec" in options else sp.codecs)
    return rp.apply(cfg)


def validate_file(source: str | os.PathLike | bytes | BinaryIO):
    """Check a stream against every rule of spec chapters 4-6 that needs no pixels (§6.5).

    *source*: a path, the stream's bytes or a binary file.  Returns a :class:`cmvc.validate.Report`:
    ``.valid``, ``.errors`` (each with ``.code``, ``.offset``, ``.path`` and the message, in stream
    order) and ``.stream`` (the parsed units).  A path that cannot be read raises E102.
    """
    import io

    from .validate import validate

    if isinstance(source, (bytes, bytearray, memoryview)):
        return validate(io.BytesIO(bytes(source)))
    if isinstance(source, (str, os.PathLike)):
        try:
            f = open(source, "rb")
        except OSError as e:
            raise error("E102", f"cannot read {source}: {e.strerror}") from None
        with f:
            return validate(f)
    return validate(source)
