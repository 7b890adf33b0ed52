"""Codec sub-commands: encode, decode, models, demo."""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
import time
from fractions import Fraction
from pathlib import Path

from ..errors import error
from .progress import Progress, rc_note


def _rc_line(prog: Progress, line: str, verbose: bool) -> None:
    """A rate-control candidate: printed with --verbose, shown after the rate-control bar otherwise."""
    if verbose:
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)
    else:
        prog.note("rate control", rc_note(line))


def _captions(args) -> list:
    from ..encoder.caption import Caption
    from ..registry import TextRole

    caps = []
    if getattr(args, "caption", None):
        caps.append(Caption(TextRole.GLOBAL, 0, -1, args.caption))
    if getattr(args, "captions", None):
        try:
            items = json.loads(Path(args.captions).read_text())
        except (OSError, ValueError) as e:
            raise error("E102", f"cannot read captions from {args.captions}: {e}") from None
        for it in items:
            try:
                caps.append(Caption(TextRole[it.get("role", "MOTION_CAPTION").upper()], int(it.get("start", 0)),
                                    int(it.get("end", -1)), str(it["text"])))
            except (KeyError, ValueError, AttributeError) as e:
                raise error("E101", f"bad caption entry {it!r}: {e}") from None
    return caps


QUALITY_RANGE = {"av1": (0, 63), "vvc": (0, 63), "avif": (0, 100), "webp": (0, 100), "hyperprior": (1, 8)}
DEVICE_NAMES = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")


def _bad(option: str, value, why: str):
    return error("E101", f"{option} {value}: {why}")


def check_encode_args(args) -> None:
    """Every check of the encode options that needs no input frames, before anything is read or coded
    (E101; exit 2).  :func:`check_output` and :func:`cmvc.encoder.chunking.encode_file` (frame counts) do the rest."""
    from ..syntax.interp import MAX_W_BITS

    def positive(option: str, value, integer: bool = False) -> None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise _bad(option, value, f"must be a {'whole ' if integer else ''}number above 0")

    positive("--bpp", args.bpp)
    positive("--kbps", args.kbps)
    for option, value in (("--frames", args.frames), ("--interval", args.interval), ("--downscale", args.downscale)):
        positive(option, value, True)
    if args.keyframes is not None and args.keyframes < 2:
        raise _bad("--keyframes", args.keyframes, "an IT2V stream needs at least 2 keyframes")
    if not 1 <= args.w_bits <= MAX_W_BITS:
        raise _bad("--w-bits", args.w_bits, f"must be 1..{MAX_W_BITS} (spec §5.6)")
    if not (math.isfinite(args.lam) and args.lam >= 0):
        raise _bad("--lam", args.lam, "must be a finite number, 0 or more")
    if not 0 <= args.seed < 1 << 64:
        raise _bad("--seed", args.seed, "must be 0..2^64-1 (rng_seed, spec §5.2)")
    if not DEVICE_NAMES.match(args.device):
        raise error("E113", f"--device {args.device}: must be cpu, cuda, cuda:N, mps or auto")
    if args.quality is not None:
        codecs = [args.codec] if args.codec else ["av1", "vvc"]
        for c in codecs:
            lo, hi = QUALITY_RANGE.get(c, (None, None))
            if lo is None:
                raise _bad("--quality", args.quality, f"the {c} keyframe codec has no quality setting")
            if not lo <= args.quality <= hi:
                raise _bad("--quality", args.quality, f"{c} takes {lo}..{hi}")
    if args.caption is not None and not args.caption.strip():
        raise _bad("--caption", repr(args.caption), "an empty caption (leave the option out for none)")
    if args.codec == "hyperprior" and not args.hyperprior_checkpoint:
        raise error("E101", "--codec hyperprior needs --hyperprior-checkpoint PATH")
    for option in ("hyperprior_checkpoint", "sd_model", "t2v_model", "captions"):
        path = getattr(args, option, None)
        if path and not Path(path).exists():
            raise error("E102", f"--{option.replace('_', '-')} {path}: no such file or directory")
    if args.input != "-" and not Path(args.input).is_file():
        raise error("E102", f"{args.input}: {'is a directory' if Path(args.input).is_dir() else 'no such file'}")


def check_output(path: str) -> None:
    """E104 unless *path* ('-': standard output) can be written: not a directory, and a file can be
    created beside it (tried, then removed); checked before any long work."""
    import os
    import tempfile

    if path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise error("E104", f"{path} is a directory; give a file name")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise error("E104", f"cannot write {path}: {parent} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".cmvc-probe-", dir=parent)
    except OSError as e:
        raise error("E104", f"cannot write {path}: {e.strerror or e}") from None
    os.close(fd)
    os.unlink(probe)


def cmd_encode(args) -> int:
    """``cmvc encode``: check the options, build the configuration, code the file in chunks (rate control
    per chunk with --bpp/--kbps), write the stream atomically, report."""
    check_encode_args(args)
    check_output(args.output)
    from ..encoder.chunking import CHUNK_SECONDS, encode_file

    cfg = _encoder_config(args)
    cfg, rc = _rate_control_options(args, cfg)
    prog = Progress()
    if rc is not None:  # used when the video is one chunk (coded in this process)
        rc.update(progress=lambda m: _rc_line(prog, m, args.verbose), advance=lambda k, n: prog("rate control", k, n))

    def budget(frames: int, info) -> float:
        if args.bpp is not None:
            return args.bpp * info.width * info.height * frames
        return args.kbps * 1000 * frames / float(info.fps)

    def chunk_done(r, n: int) -> None:
        if r.plan:
            print(f"rate control{f' (chunk {r.index + 1}/{n}, frames {r.start}..{r.start + r.frames - 1})' if n > 1 else ''}"
                  f": {r.plan}", file=sys.stderr)
        if args.verbose and r.seconds:  # where the time went (docs/encoder.md, "Rate control by a model")
            print("time: " + ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in r.seconds.items()), file=sys.stderr)

    res = encode_file(args.input, cfg, max_frames=args.frames, workers=args.workers, ray_address=args.ray,
                      chunk_seconds=args.chunk_seconds if args.chunk_seconds is not None else CHUNK_SECONDS,
                      threads=args.threads, target_bits=budget if rc is not None else None, rc=rc, progress=prog,
                      on_chunk=chunk_done)
    prog.close()
    _write_stream(args.output, res.data)
    _encode_report(args, res, bool(cfg.captions))
    return 0


def _encoder_config(args):
    """The :class:`~cmvc.encoder.pipeline.EncoderConfig` of the encode options."""
    from ..encoder.pipeline import EncoderConfig

    return EncoderConfig(keyframes=args.keyframes, interval=args.interval, strategy=args.strategy or "feature",
                         feature=args.features, codec=args.codec or "av1", quality=args.quality, profile=args.profile,
                         rife_scale=args.rife_scale, w_bits=args.w_bits, fit=args.fit or "exhaustive", lam=args.lam,
                         captions=_captions(args),  # a caption's end of -1 is the last frame (set by encode_file)
                         seed=args.seed, source_name=Path(args.input).name, write_hash=args.hash != "none",
                         hash_type=args.hash, unit_crc=not args.no_crc, keyframe_group=not args.no_keyframe_group,
                         downscale=args.downscale or 1, metadata=args.metadata,
                         hyperprior_checkpoint=args.hyperprior_checkpoint, mode=args.mode, sd_model=args.sd_model,
                         t2v_model=args.t2v_model, preset=args.preset, captioner=args.captioner,
                         device=_device(args.device), vvc_preset=args.vvc_preset or "slow",
                         text_lm=getattr(args, "text_lm", None))


def _rate_control_options(args, cfg):
    """(*cfg* with the --rc-preset's vvenc preset, keyword arguments of
    :func:`cmvc.encoder.rate_control.plan`), or (*cfg*, None) without --bpp/--kbps."""
    if args.bpp is None and args.kbps is None:
        return cfg, None
    from ..encoder.rate_control import RC_PRESETS

    sp = RC_PRESETS[args.rc_preset]
    if args.rc_exhaustive and sp.method != "search":
        sp = RC_PRESETS["exhaustive"]
    cfg = dataclasses.replace(cfg, vvc_preset=args.vvc_preset or sp.vvc_preset, fit=args.fit or sp.fit or cfg.fit)
    scorer = None
    if args.rc_metric == "vmaf":
        from .metrics import vmaf_scorer as scorer
    opts = sp.plan_options()
    if args.codec:
        opts.update(fallback_codecs=())
    if args.rc_exhaustive:
        opts.update(prune=False)
    rc = dict(downscales=(args.downscale,) if args.downscale else sp.downscales, metric=args.rc_metric,
              scorer=scorer, strategies=(args.strategy,) if args.strategy else sp.strategies,
              codecs=(args.codec,) if args.codec else sp.codecs, **opts)
    return cfg, rc


def _write_stream(output: str, data: bytes) -> None:
    """The stream to *output* atomically, or to standard output for ``-``."""
    from .fileio import write_atomic

    if output == "-":  # the stream on standard output; the report goes to standard error
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomic(output, data)


def _encode_report(args, res, has_captions: bool) -> None:
    """The encode's report (JSON with --json), on standard output unless the stream is there."""
    from ..accounting import account
    from ..parse import parse

    target = res.target_bits
    acc = account(parse(res.data))
    r = acc["rate"]
    report = {"output": args.output, "bytes": len(res.data), "bpp": r["bpp"], "kbps": r["kbps"],
              "R_k_bits": acc["totals"]["R_k"], "R_m_bits": acc["totals"]["R_m"], "overhead_bits": acc["totals"]["overhead"],
              "keyframes": res.keyframes, "fit": res.winner, "settings": res.settings,
              "chunks": [{"start": c.start, "frames": c.frames, "bytes": len(c.data), "budget_bits": c.budget,
                          "seconds": c.seconds} for c in res.chunks]}
    if target is not None:
        report["target_bits"] = target
        report["achieved_vs_target"] = 8 * len(res.data) / target
        if 8 * len(res.data) > target:  # below the fewest bits rate control can reach: coded at those
            report["warning"] = (f"the target ({target:.0f} bits) is below the fewest bits rate control reached "
                                 f"for this clip ({8 * len(res.data)} bits): the stream is over the target")
    if not has_captions:
        report["captions"] = "none (no --caption/--captions given; the V2T captioner comes with the generative extra)"
    out = sys.stderr if args.output == "-" else sys.stdout
    if "warning" in report:
        print(f"encode: warning: {report['warning']}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2), file=out)
        return
    print(f"{args.output}: {len(res.data)} bytes, {r['bpp']:.5f} bpp, {r['kbps']:.2f} kbps; "
          f"{len(res.keyframes)} keyframes {res.keyframes}; R_k {acc['totals']['R_k']} bits, "
          f"R_m {acc['totals']['R_m']} bits, overhead {acc['totals']['overhead']} bits", file=out)
    if target is not None:
        print(f"target {target:.0f} bits, achieved {8 * len(res.data)} bits ({report['achieved_vs_target']:.2f}x)",
              file=out)
    if not has_captions:
        print("captions: none given (use --caption/--captions)", file=out)


def cmd_decode(args) -> int:
    """Decode as the frames come (spec §7.1): each frame goes to the output (``OUT.partial``, renamed at
    the end; ``-``: Y4M on stdout) and to --md5 / --verify as soon as it is made."""
    from ..decode import decode_frames, resolve_device
    from ..registry import UnitType
    from .fileio import read_input
    from .video import open_writer, output_kind

    if args.device not in ("cpu", "cuda", "auto"):
        resolve_device(args.device)  # E113 (cuda:N: E210 if absent), before anything is read
    if args.output:
        output_kind(args.output)  # E114 for an extension no writer has, before anything is decoded
    data = read_input(args.input)
    from tqdm import tqdm

    t0 = time.perf_counter()
    frames = decode_frames(data, verify=args.verify, sd_model=args.sd_model, t2v_model=args.t2v_model,
                           device=args.device)
    sh = frames.stream.sequence_header
    if args.verify and not frames.stream.of_type(UnitType.FRAME_HASH):  # say so before decoding, not after
        raise error("E101", "the stream has no frame hash unit to verify against")
    to_stdout = args.output == "-"
    md5_out = sys.stderr if to_stdout else sys.stdout  # stdout carries the video
    writer = None
    if args.output:
        writer = open_writer(args.output, sh.width, sh.height, Fraction(sh.frame_rate_num, sh.frame_rate_den),
                             sh.matrix_coefficients, sh.colour_flags.full_range_flag)
    n = 0
    try:
        with tqdm(total=sh.frame_count, desc="decode", unit="frame", disable=None, file=sys.stderr, leave=False) as bar:
            for pic in frames:
                if writer is not None:
                    writer.write(pic)
                if args.md5:
                    print(f"{n:6d} {pic.md5().hex()}", file=md5_out)
                n += 1
                bar.update(1)
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:  # an error part way: no output file, no .partial left
            writer.abort()
    seconds = time.perf_counter() - t0
    if args.verify:
        print(f"verify: {frames.hash_checked} frame hashes match", file=sys.stderr)
        for m in frames.hash_differs:
            print(f"verify: warning: {m}", file=sys.stderr)
        if frames.hash_differs:
            print("verify: the digests above cover frames of a tolerance-defined process (spec §7.9): this "
                  "decoder's float arithmetic (platform, thread count) differs from the encoder's; conformance "
                  "is judged against a reference output within the tolerance of §11.1", file=sys.stderr)
    if args.output and not to_stdout:
        print(f"{args.output}: {n} frames {sh.width}x{sh.height}", file=sys.stderr)
    print(f"decoded {n} frames in {seconds:.2f} s ({n / max(seconds, 1e-9):.1f} "
          "frames/s, including model loading and warm-up)", file=sys.stderr)
    return 0


def _device(name: str) -> str:
    if not DEVICE_NAMES.match(name):
        raise _bad("--device", name, "must be cpu, cuda, cuda:N, mps or auto")
    from ..generative import device

    return device(name)


def cmd_text(args) -> int:
    """stdin -> stdout: ``cmvc text encode`` writes the coded caption, ``decode`` the UTF-8 text."""
    from .. import text

    data = sys.stdin.buffer.read()
    if args.action == "encode":
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise error("E102", f"stdin is not UTF-8: {e}") from None
        out = text.encode(s)
        if args.stats:
            print(f"{len(data)} bytes of UTF-8 -> {len(out)} bytes ({8 * len(out) / max(1, len(s)):.2f} bits/char)",
                  file=sys.stderr)
        sys.stdout.buffer.write(out)
    else:
        sys.stdout.buffer.write(text.decode(data).encode("utf-8"))
    sys.stdout.buffer.flush()
    return 0


def cmd_models(args) -> int:
    from ..zoo import TOOLS, ZOO, installed_path, weights_path

    if args.action == "add":
        from ..zoo import add_model

        for path in args.names:
            print(f"{path}: stored as {add_model(path)}")
        return 0
    if args.action == "list":
        for m in [*ZOO.values(), *TOOLS.values()]:
            path = installed_path(m.name)
            kind = "evaluation tool" if m.name in TOOLS else "stream model"
            print(f"{m.name}  sha256 {m.sha256}  {'installed' if path.exists() else 'not installed'}  {kind}: {m.description}")
            print(f"    source: {m.source} ({m.license})")
        return 0
    for name in args.names or [n for n, m in ZOO.items() if m.fetch_by_default]:
        print(f"{name}: {weights_path(name)}")
    return 0


def add_encode_args(s: argparse.ArgumentParser) -> None:
    from ..encoder.chunking import THREADS
    from ..encoder.fit import FIT_METHODS
    from ..encoder.keyframe_select import STRATEGIES

    s.add_argument("--frames", type=int, help="code only the first N frames")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--bpp", type=float, help="target bits per pixel (rate control)")
    g.add_argument("--kbps", type=float, help="target kilobits per second (rate control)")
    g.add_argument("--keyframes", type=int, help="number of keyframes")
    g.add_argument("--interval", type=int, default=8, help="a keyframe every N frames (default 8)")
    s.add_argument("--profile", choices=["blend", "rife", "sd_lora"], default="rife", help="reconstruction profile")
    s.add_argument("--codec", choices=["av1", "vvc", "avif", "webp", "png", "hyperprior"], default=None,
                   help="keyframe codec: av1 (SVT-AV1 sequence; the default), vvc (vvenc sequence, reaches lower "
                        "rates); with --bpp/--kbps the --rc-preset's unless one is named")
    s.add_argument("--quality", type=int, help="AV1 CRF 0..63 (default 50), VVC QP 0..63 (default 45) or AVIF/WebP quality 0..100")
    s.add_argument("--strategy", choices=STRATEGIES, default=None,
                   help="keyframe selection (default: Eq. 1 'feature'; with --bpp/--kbps rate control compares "
                        "the --rc-preset's: 'feature' and 'uniform', with the searches 'interp' too); 'interp' places keyframes by dynamic programming on the "
                        "interpolation error of the frames between them")
    s.add_argument("--features", default="thumbnail", help="thumbnail (offline default) or clip:ARCH:CHECKPOINT")
    s.add_argument("--fit", choices=FIT_METHODS, default=None,
                   help="w fitting method (paper Eq. 7-8: gd; default exhaustive, with --bpp/--kbps the --rc-preset's: "
                        "descend for model)")
    s.add_argument("--lam", type=float, default=1000.0, help="lambda of D + lambda R")
    s.add_argument("--w-bits", type=int, default=4, help="quantiser precision of w")
    s.add_argument("--rife-scale", type=int, default=0, choices=[0, 1, 2], help="RIFE flow downscale exponent")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--downscale", type=int, default=None,
                   help="code at 1/N of the size (default: chosen by rate control, else 1)")
    s.add_argument("--rc-metric", choices=["ms-ssim", "psnr", "vmaf"], default="ms-ssim",
                   help="quality estimate by which rate control compares operating points (ms-ssim, psnr: "
                        "sampled inner frames; vmaf: every frame reconstructed and scored by libvmaf, slower)")
    s.add_argument("--rc-exhaustive", action="store_true",
                   help="rate control searches every keyframe codec x coded size x strategy of the --rc-preset (a "
                        "searching one, exhaustive unless one is named), each keyframe interval walk from the smallest "
                        "that fits")
    s.add_argument("--rc-preset", choices=["model", "exhaustive", "full", "fast"], default="model",
                   help="how rate control chooses codec, coded size, keyframes and quantiser unless "
                        "--codec/--strategy/--downscale name them: model (a first pass and a rate model "
                        "fitted by a few trial encodes rank the candidates; 8-14 of them, chosen from that ranking "
                        "and the scores before them, are encoded at vvenc medium and scored, the best settled at "
                        "slow; weights fitted by descend: the default), exhaustive (every search of full, unpruned: "
                        "the slow reference), full (AV1 and VVC keyframes, strategies feature, uniform and interp, "
                        "pruned searches) or fast (VVC at preset medium, feature and uniform); docs/encoder.md")
    s.add_argument("--vvc-preset", choices=["faster", "fast", "medium", "slow", "slower"], default=None,
                   help="vvenc preset of VVC keyframes (default slow, or the --rc-preset's)")
    s.add_argument("--verbose", action="store_true", help="report every operating point rate control tries")
    s.add_argument("--metadata", action="store_true", help="write encoder/source metadata units")
    s.add_argument("--hyperprior-checkpoint", help="CompressAI bmshj2018-hyperprior weights (codec hyperprior)")
    s.add_argument("--mode", choices=["it2v", "tt2v"], default="it2v")
    s.add_argument("--sd-model", help="diffusers Stable Diffusion directory (profile sd_lora)")
    s.add_argument("--t2v-model", help="diffusers text-to-video pipeline directory (mode tt2v)")
    s.add_argument("--preset", type=int, choices=[0, 1, 2], default=0,
                   help="sd_lora/tt2v steps: 0 = paper (100 LoRA steps, 50 sampling steps), 1 = 20/10, 2 = 4/3")
    s.add_argument("--captioner", help="transformers image-to-text model (path or hub id): adds captions")
    s.add_argument("--device", default="cpu", help="cpu, cuda or auto: where RIFE and HYPERPRIOR run (fit, rate control)")
    s.add_argument("--workers", type=int, default=1,
                   help="chunks coded in parallel on a process pool of N workers (default 1: in this process); "
                        "the bytes do not depend on N")
    s.add_argument("--ray", metavar="ADDRESS",
                   help="code the chunks on a Ray cluster ('local' starts one here); at most --workers chunks in "
                        "flight if given, else one per CPU of the cluster")
    s.add_argument("--chunk-seconds", type=float, default=None,
                   help="length of an independently coded chunk when no shot cut comes first (default 4; "
                        "a whole number of keyframe intervals)")
    s.add_argument("--threads", type=int, default=THREADS,
                   help=f"torch threads per chunk (default {THREADS}); the bytes are the same for any --workers at "
                        "equal --threads")
    s.add_argument("--hash", choices=["span", "frame", "none"], default="span",
                   help="frame hashes: one MD5 for all frames (16 bytes), one per frame, or none")
    s.add_argument("--no-crc", action="store_true",
                   help="units without their CRC-32 (4 bytes each; the file header keeps its CRC)")
    s.add_argument("--no-keyframe-group", action="store_true",
                   help="one keyframe unit per keyframe (format 1.1) instead of keyframe groups (spec §4.9)")
    s.add_argument("--caption", help="a global caption")
    s.add_argument("--captions", help="JSON list of {role, start, end, text}")
    s.add_argument("--text-lm", metavar="NAME_OR_PATH",
                   help="also try CMVC_L1 (spec §8.12) per caption with this text model: smollm2-135m-l1 (fetched and "
                        "derived once, needs gguf) or a CMLM file; the stream declares it (format 1.5)")


def register(sub) -> None:
    s = sub.add_parser("encode", help="encode a video into a CMVC stream")
    s.add_argument("input")
    s.add_argument("-o", "--output", required=True, help="the stream file ('-': standard output)")
    s.add_argument("--json", action="store_true")
    add_encode_args(s)
    s.set_defaults(func=cmd_encode)

    s = sub.add_parser("decode", help="decode a CMVC stream to Y4M, MP4, Matroska or PNG frames, as the frames come")
    s.add_argument("input")
    s.add_argument("-o", "--output", help="OUT.y4m, OUT.yuv, OUT.mp4, OUT.mov, OUT.mkv, a directory for PNG frames "
                                          "(no extension, .png-dir or an existing one), or - for Y4M on stdout; "
                                          "written as OUT.partial and renamed at the end")
    s.add_argument("--verify", action="store_true", help="check decoded frames against the frame hash unit")
    s.add_argument("--md5", action="store_true", help="print the MD5 of every decoded frame")
    s.add_argument("--sd-model", help="Stable Diffusion directory for SD_LORA streams")
    s.add_argument("--t2v-model", help="text-to-video pipeline directory for TT2V streams")
    s.add_argument("--device", default="cpu", help="where the RIFE and HYPERPRIOR networks run: cpu, cuda or auto "
                                                   "(cuda if torch sees one)")
    s.set_defaults(func=cmd_decode)

    s = sub.add_parser("text", help="code one caption: stdin -> stdout (CMVC-T1)")
    s.add_argument("action", choices=["encode", "decode"])
    s.add_argument("--stats", action="store_true", help="print sizes to stderr")
    s.set_defaults(func=cmd_text)

    s = sub.add_parser("models", help="list or fetch model weights")
    s.add_argument("action", choices=["list", "fetch", "add"], help="add: put weights files into the model store")
    s.add_argument("names", nargs="*", help="fetch: default every stream model; evaluation tools (dists-v0.1) by name")
    s.set_defaults(func=cmd_models)

    from . import bench, conformance, demo

    demo.register(sub)
    conformance.register(sub)
    bench.register(sub)
