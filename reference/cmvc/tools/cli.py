"""``cmvc``: the command-line interface.

Exit status: 0 success, 1 invalid stream / failed check, 2 usage or environment error.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any, Sequence

from ..errors import CmvcError
from .fileio import read_input
from .memory import retain_freed_memory


def _print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


# ---------------------------------------------------------------- validate
def cmd_validate(args: argparse.Namespace) -> int:
    from ..validate import validate

    results = []
    status = 0
    for name in args.files:
        try:
            data = read_input(name)
        except CmvcError as e:
            results.append({"file": name, "valid": False, "errors": [e.to_dict()]})
            status = 2
            continue
        rep = validate(io.BytesIO(data))
        results.append({"file": name, **rep.to_dict()})
        if not rep.valid:
            status = max(status, 1)
    if args.json:
        _print_json(results)
    else:
        for r in results:
            if r["valid"]:
                print(f"{r['file']}: valid")
            else:
                print(f"{r['file']}: INVALID ({len(r['errors'])} error{'s' if len(r['errors']) != 1 else ''})")
                for e in r["errors"]:
                    off = f"byte {e['offset']}" if e["offset"] is not None else "-"
                    print(f"  {e['code']} {e['name']} at {off} {e['path']}: {e['message']}")
    return status


# ---------------------------------------------------------------- inspect
def _fmt_fields(fields: Any, limit: int = 90) -> str:
    if not isinstance(fields, dict):
        return ""
    parts = []
    for k, v in fields.items():
        if isinstance(v, dict) and "bytes" in v:
            v = f"<{v['bytes']} B>"
        elif isinstance(v, dict):
            v = "{" + ", ".join(f"{a}={b}" for a, b in v.items() if not a.startswith("reserved")) + "}"
        elif isinstance(v, list) and len(v) > 8:
            v = f"[{', '.join(map(str, v[:8]))}, ... {len(v)} items]"
        if k.startswith("reserved"):
            continue
        parts.append(f"{k}={v}")
    s = " ".join(parts)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..accounting import account
    from ..validate import validate

    try:
        data = read_input(args.file)
    except CmvcError as e:
        print(f"cmvc inspect: {e}", file=sys.stderr)
        return 2
    rep = validate(io.BytesIO(data), keep_payloads=False)
    if rep.stream.header is None or not rep.stream.units:  # not a CMVC stream (E001 ...): no bit table
        if args.json:
            _print_json({"file": args.file, "valid": False, "errors": [e.to_dict() for e in rep.errors]})
        else:
            for e in rep.errors:
                print(f"cmvc inspect: {args.file}: {e}", file=sys.stderr)
        return 1
    acc = account(rep.stream)
    acc = {"file": args.file, "valid": rep.valid, "errors": [e.to_dict() for e in rep.errors], **acc}
    if args.json:
        _print_json(acc)
        return 0 if rep.valid else 1
    print(f"file: {args.file}  size {acc['size']} bytes ({acc['bits']} bits)  {'valid' if rep.valid else 'INVALID'}")
    fh = acc.get("file_header")
    if fh:
        print(f"file_header: CMVC {fh['major_version']}.{fh['minor_version']} profile {fh['profile']} level "
              f"{fh['level'] // 10}.{fh['level'] % 10}")
    sh = acc.get("sequence_header")
    if sh:
        print(f"sequence: {sh['width']}x{sh['height']} {sh['frame_count']} frames @ {sh['frame_rate_num']}/"
              f"{sh['frame_rate_den']} fps, {sh['chroma_format']} {sh['bit_depth']}-bit, mode {sh['mode']}, "
              f"recon {sh['recon_profile']}, keyframes {sh['keyframe_index']}")
    print(f"{'#':>3} {'offset':>9} {'bytes':>8} {'bits':>9}  {'type':<16} {'category':<15} fields")
    for u in acc["units"]:
        print(f"{u['index']:>3} {u['offset']:>9} {u['size']:>8} {u['bits']:>9}  {u['type']:<16} {u['category']:<15} "
              f"{_fmt_fields(u['fields'])}")
    t = acc["totals"]
    tot = acc["bits"] or 1
    print(f"totals: R_k {t['R_k']} bits ({100 * t['R_k'] / tot:.1f}%), R_m {t['R_m']} bits "
          f"({100 * t['R_m'] / tot:.1f}%), overhead {t['overhead']} bits ({100 * t['overhead'] / tot:.1f}%); "
          f"sum {t['sum']} = 8 x {acc['size']}")
    print("overhead: " + ", ".join(f"{k} {v}" for k, v in t["overhead_detail"].items() if v))
    print(f"Eq. 2: R = R_k + R_m = {t['eq2']['R_k']} + {t['eq2']['R_m']} bits (framing included)")
    r = acc.get("rate")
    if r:
        print(f"rate: {r['bpp']:.6f} bpp ({r['bpp_R_k']:.6f} R_k, {r['bpp_R_m']:.6f} R_m), {r['kbps']:.3f} kbps "
              f"over {r['seconds']:.3f} s")
    for e in acc["errors"]:
        off = f"byte {e['offset']}" if e["offset"] is not None else "-"
        print(f"error: {e['code']} {e['name']} at {off} {e['path']}: {e['message']}")
    return 0 if rep.valid else 1


# ---------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = argparse.ArgumentParser(prog="cmvc", description="CMVC cross-modality video codec (format v1).")
    p.add_argument("--version", action="version", version=f"cmvc {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("validate", help="check streams against the specification")
    s.add_argument("files", nargs="+", help="streams to check ('-' reads stdin)")
    s.add_argument("--json", action="store_true", help="print a JSON list of verdicts")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("inspect", help="show every unit and where every bit goes")
    s.add_argument("file", help="stream ('-' reads stdin)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_inspect)

    from . import commands

    commands.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    retain_freed_memory()  # RIFE's large tensors: reuse freed blocks, no page faults (tools/memory.py)
    try:
        return int(args.func(args) or 0)
    except CmvcError as e:
        print(f"cmvc {args.command}: {e}", file=sys.stderr)
        return 1 if e.fault == "stream" else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `cmvc inspect S | head`: the reader left; no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit must not fail
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by it


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
