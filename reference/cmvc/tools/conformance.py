"""``cmvc conformance``: check a decoder against the conformance suite, and measure its coverage.

Internal mode uses this package.  ``--decoder "CMD {in} {out}"`` runs any decoder: it must write
the decoded frames to {out} as Y4M (or raw I420 when {out} ends in .yuv), exit 0 on valid streams
and non-zero on invalid ones; if it prints an error code (``E0nn``) that code is checked too.
``--known-failures FILE`` lists test names expected to fail (one a line); a listed test that
passes fails the run, so the list cannot go stale.
"""
from __future__ import annotations

import dataclasses
import json
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ERROR_CODES, CmvcError


def suite_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "conformance"


def read_frames(path: Path, width: int, height: int, frames: int) -> list[tuple[np.ndarray, ...]]:
    """Frames from a Y4M or raw I420 file, without any conversion."""
    data = path.read_bytes()
    cw, ch = (width + 1) // 2, (height + 1) // 2
    fsize = width * height + 2 * cw * ch
    chunks = []
    if data.startswith(b"YUV4MPEG2"):
        pos = data.index(b"\n") + 1
        while pos < len(data):
            nl = data.index(b"\n", pos)
            if not data[pos:nl].startswith(b"FRAME"):
                raise ValueError("bad Y4M frame header")
            chunks.append(data[nl + 1: nl + 1 + fsize])
            pos = nl + 1 + fsize
    else:
        chunks = [data[i:i + fsize] for i in range(0, len(data), fsize)]
    out = []
    for c in chunks:
        if len(c) != fsize:
            raise ValueError("truncated frame")
        a = np.frombuffer(c, np.uint8)
        out.append((a[:width * height].reshape(height, width), a[width * height:width * height + cw * ch].reshape(ch, cw),
                    a[width * height + cw * ch:].reshape(ch, cw)))
    return out


def md5_planes(planes) -> str:
    import hashlib

    h = hashlib.md5()
    for p in planes:
        h.update(np.ascontiguousarray(p).tobytes())
    return h.hexdigest()


@dataclasses.dataclass
class Result:
    name: str
    ok: bool
    detail: str


def _check_output(item: dict, frames, root: Path) -> tuple[bool, str]:
    exp = item["expect"]
    if len(frames) != item["frames"]:
        return False, f"{len(frames)} frames, expected {item['frames']}"
    if "frame_md5" in exp:
        for i, f in enumerate(frames):
            if md5_planes(f) != exp["frame_md5"][i]:
                return False, f"frame {i}: MD5 differs"
        return True, f"{len(frames)} frame MD5s match"
    ref = read_frames(root / exp["reference"], *item["size"], item["frames"])
    tol = exp["tolerance"]  # spec 11.1, per stream (RIFE's depends on recon_param)
    worst, frac = 0, 0.0
    for f, r in zip(frames, ref):
        d = np.concatenate([np.abs(a.astype(int) - b.astype(int)).ravel() for a, b in zip(f, r)])
        worst, frac = max(worst, int(d.max())), max(frac, float(np.mean(d > 0)))
    ok = worst <= tol["max_abs"] and frac <= tol["max_fraction"]
    return ok, f"within tolerance (max |diff| {worst}, {100 * frac:.4f}% samples differ)" if ok else \
        f"outside tolerance: max |diff| {worst}, {100 * frac:.3f}% samples differ"


def run_internal(item: dict, root: Path) -> tuple[bool, str]:
    from ..decode import decode
    from ..validate import validate

    data = (root / item["file"]).read_bytes()
    exp = item["expect"]
    if not item["valid"]:
        rep = validate(data)
        err = rep.errors[0] if rep.errors else None
        if err is None and exp["stage"] == "decode":
            try:
                decode(data, verify=True)
            except CmvcError as e:
                err = e
        if err is None:
            return False, f"accepted; expected {exp['error']}"
        ok = err.code == exp["error"] and err.offset == exp["offset"]
        return ok, f"{err.code} at byte {err.offset}" + ("" if ok else f"; expected {exp['error']} at byte {exp['offset']}")
    if exp.get("decode") is False:
        rep = validate(data)
        return rep.valid, "valid (validation only)" if rep.valid else f"rejected: {rep.errors[0]}"
    try:
        pics = decode(data).pictures
    except CmvcError as e:
        return False, f"rejected: {e}"
    return _check_output(item, [p.planes() for p in pics], root)


def run_external(cmd: str, item: dict, root: Path) -> tuple[bool, str]:
    exp = item["expect"]
    if item["valid"] and exp.get("decode") is False:
        return True, "skipped (validation-only stream)"
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.y4m"
        argv = [a.replace("{in}", str(root / item["file"])).replace("{out}", str(out)) for a in shlex.split(cmd)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        if not item["valid"]:
            if p.returncode == 0:
                return False, f"exit 0; expected rejection with {exp['error']}"
            m = re.search(r"\bE0\d\d\b", p.stderr + p.stdout)
            if m and m.group(0) != exp["error"]:
                return False, f"rejected with {m.group(0)}; expected {exp['error']}"
            return True, f"rejected ({m.group(0) if m else 'no code printed'})"
        if p.returncode != 0:
            return False, f"exit {p.returncode}: {p.stderr.strip()[-200:]}"
        return _check_output(item, read_frames(out, *item["size"], item["frames"]), root)


def run(root: Path, decoder: str | None = None, known: set[str] | None = None,
        only: str | None = None) -> list[Result]:
    manifest = json.loads((root / "manifest.json").read_text())
    results = []
    for item in manifest["streams"]:
        if only and not re.search(only, item["name"]):
            continue
        try:
            ok, detail = run_external(decoder, item, root) if decoder else run_internal(item, root)
        except Exception as e:  # an external decoder's crash is a failure, not ours
            ok, detail = False, f"{type(e).__name__}: {e}"
        if known and item["name"] in known:
            ok, detail = (not ok), ("known failure" if not ok else "listed as a known failure but passes: remove it")
        results.append(Result(item["name"], ok, detail))
    return results


# ---------------------------------------------------------------- coverage
BOUNDARIES = {
    "min-size (1x1)": lambda sh, ps: sh.width == 1 and sh.height == 1,
    "max picture size of its level": lambda sh, ps: sh.width * sh.height == ps.level.max_picture_size,
    "2 frames": lambda sh, ps: sh.frame_count == 2,
    "odd width and height": lambda sh, ps: sh.width % 2 == 1 and sh.height % 2 == 1,
    "coded size smaller than output": lambda sh, ps: (sh.coded_width, sh.coded_height) != (sh.width, sh.height),
    "empty segments (adjacent keyframes)": lambda sh, ps: any(b - a == 1 for a, b in zip(sh.keyframe_index, sh.keyframe_index[1:])),
    "unknown skippable unit": lambda sh, ps: any(not u.known for u in ps.units),
    "empty padding unit": lambda sh, ps: any(u.unit_type == 7 and u.payload_size == 0 for u in ps.units),
    "w_bits = 1": lambda sh, ps: any(u.body.w_bits == 1 for u in ps.of_type(4)),
    "w_bits = 12": lambda sh, ps: any(u.body.w_bits == 12 for u in ps.of_type(4)),
    "empty text": lambda sh, ps: any(u.body.num_tokens == 0 for u in ps.of_type(3)),
    "keyframe caption": lambda sh, ps: any(u.body.role == 1 for u in ps.of_type(3)),
    "non-integer frame rate": lambda sh, ps: sh.frame_rate_den != 1,
    "full range": lambda sh, ps: sh.colour_flags.full_range_flag,
    "RIFE flow downscale (recon_param > 0)": lambda sh, ps: sh.recon_param > 0,
}


def coverage(root: Path) -> dict:
    """What the suite exercises, measured from the syntax definitions, registries and error codes."""
    import dataclasses as dc

    from ..parse import parse
    from ..registry import REGISTRIES
    from ..syntax import CODEC_PARAMS
    from . import specgen

    manifest = json.loads((root / "manifest.json").read_text())
    want_fields: set[str] = set()
    for cls in specgen.STRUCTURES:
        if cls.__name__ in ("FileHeader", "Unit"):
            continue
        for f in dc.fields(cls):
            want_fields.add(f"{specgen.SYNTAX_NAMES[cls.__name__]}.{f.name}")
    seen_fields: set[str] = set()
    seen_values: dict[str, set] = {e.__name__: set() for _, e in REGISTRIES}
    seen_values["Level"] = set()
    seen_bounds: set[str] = set()
    param_struct = {cid: specgen.SYNTAX_NAMES[st.dc_type.__name__] for cid, st in CODEC_PARAMS.items()}
    for item in manifest["streams"]:
        if not item["valid"]:
            continue
        ps = parse((root / item["file"]).read_bytes())
        seen_values["Profile"].add(ps.header.profile)
        seen_values["Level"].add(ps.header.level)
        sh = ps.sequence_header
        for u in ps.units:
            if u.known:
                seen_values["UnitType"].add(u.unit_type)
            if u.body is None:
                continue
            sname = specgen.SYNTAX_NAMES[type(u.body).__name__]
            for path in u.field_offsets:
                parts = re.sub(r"\[\d+\]", "", path).split(".")
                if parts[0] == "codec_params" and len(parts) > 1:
                    seen_fields.add(f"{param_struct[u.body.codec_id]}.{parts[1]}")
                    seen_fields.add(f"{sname}.codec_params")
                elif parts[0] == "models" and len(parts) > 1:
                    seen_fields.add(f"model_entry.{parts[1]}")
                    seen_fields.add(f"{sname}.models")
                else:
                    seen_fields.add(f"{sname}.{parts[0]}")
            body = u.body
            for attr, reg in (("mode", "Mode"), ("recon_profile", "ReconProfile"), ("chroma_format", "ChromaFormat"),
                              ("codec_id", "CodecId"), ("role", "TextRole"), ("coding_method", "TextMethod"),
                              ("param_coding", "ParamCoding"), ("hash_type", "HashType")):
                if hasattr(body, attr):
                    seen_values[reg].add(int(getattr(body, attr)))
            for m in getattr(body, "models", []) or []:
                seen_values["ModelRole"].add(int(m.role))
        for name, test in BOUNDARIES.items():
            try:
                if test(sh, ps):
                    seen_bounds.add(name)
            except AttributeError:
                pass
    from ..levels import LEVELS

    want_values = {e.__name__: {int(m) for m in e} for _, e in REGISTRIES}
    want_values["Level"] = set(LEVELS)
    stream_codes = {c for c, e in ERROR_CODES.items() if e.fault == "stream" and e.name != "MISSING_END_OF_STREAM"}
    seen_codes = {i["expect"]["error"] for i in manifest["streams"] if not i["valid"]}
    items = {
        "syntax elements": (len(want_fields & seen_fields), len(want_fields), sorted(want_fields - seen_fields)),
        "registered values": (sum(len(want_values[k] & seen_values[k]) for k in want_values),
                              sum(len(v) for v in want_values.values()),
                              sorted(f"{k}={v}" for k in want_values for v in want_values[k] - seen_values[k])),
        "boundaries": (len(seen_bounds), len(BOUNDARIES), sorted(set(BOUNDARIES) - seen_bounds)),
        "error codes": (len(stream_codes & seen_codes), len(stream_codes), sorted(stream_codes - seen_codes)),
    }
    done = sum(v[0] for v in items.values())
    total = sum(v[1] for v in items.values())
    return {"items": items, "percent": 100.0 * done / total}


def check_args(args, root: Path) -> None:
    """E101/E102 for arguments the suite cannot run with, before any stream is decoded."""
    from ..errors import error

    if not (root / "manifest.json").is_file():
        raise error("E102", f"{root}: not a conformance suite (no manifest.json)")
    if args.only is not None:
        try:
            re.compile(args.only)
        except re.error as e:
            raise error("E101", f"--only {args.only!r}: not a regular expression ({e})") from None
    if args.known_failures is not None and not Path(args.known_failures).is_file():
        raise error("E102", f"--known-failures {args.known_failures}: no such file")
    if args.decoder:
        try:
            argv = shlex.split(args.decoder)
        except ValueError as e:
            raise error("E101", f"--decoder {args.decoder!r}: {e}") from None
        if not any("{in}" in a for a in argv) or not any("{out}" in a for a in argv):
            raise error("E101", f"--decoder {args.decoder!r}: the command needs {{in}} (the stream) "
                                f"and {{out}} (its frames)")


def cmd_conformance(args) -> int:
    root = Path(args.dir) if args.dir else suite_dir()
    check_args(args, root)
    if args.coverage:
        cov = coverage(root)
        for k, (d, t, missing) in cov["items"].items():
            print(f"{k:<18} {d:>4}/{t:<4} {100 * d / t:6.1f}%" + (f"   missing: {', '.join(missing)}" if missing else ""))
        print(f"{'total':<18} {cov['percent']:16.1f}%")
        return 0 if cov["percent"] >= 100.0 else 1
    known = set(Path(args.known_failures).read_text().split()) if args.known_failures else None
    results = run(root, args.decoder, known, args.only)
    width = max(len(r.name) for r in results)
    for r in results:
        print(f"{r.name:<{width}}  {'PASS' if r.ok else 'FAIL'}  {r.detail}")
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def register(sub) -> None:
    s = sub.add_parser("conformance", help="check a decoder against the conformance suite")
    s.add_argument("dir", nargs="?", help="suite directory (default: the repository's conformance/)")
    s.add_argument("--decoder", help='external decoder command, e.g. "mydec {in} -o {out}"')
    s.add_argument("--known-failures", help="file listing test names expected to fail")
    s.add_argument("--only", help="regular expression selecting test names")
    s.add_argument("--coverage", action="store_true", help="print what the suite covers; exit 1 below 100%%")
    s.set_defaults(func=cmd_conformance)
