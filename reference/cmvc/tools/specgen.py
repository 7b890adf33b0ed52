"""Generate the spec's tables from the code (construct definitions, registries, levels, errors).

``python -m cmvc.tools.specgen`` rewrites every ``<!-- BEGIN GENERATED x -->`` ...
``<!-- END GENERATED x -->`` block under ``spec/``; ``--check`` exits 1 when a committed block
differs from what the code gives (a test runs this).
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

import construct as cs

from .. import syntax as S
from ..errors import ERROR_CODES
from ..levels import LEVELS
from ..registry import REGISTRIES, SKIPPABLE, UnitType
from ..syntax import descriptors as D
from ..syntax.keyframe import CODEC_PARAMS

SYNTAX_NAMES = {
    "FileHeader": "file_header", "Unit": "unit", "UnitFlags": "unit_flags", "SequenceHeader": "sequence_header",
    "ColourFlags": "colour_flags", "ModelFlags": "model_flags", "ModelEntry": "model_entry", "KeyframeUnit": "keyframe_unit",
    "NoParams": "png_params", "ImageParams": "image_params", "HyperpriorParams": "hyperprior_params",
    "Av1Params": "av1_params", "VvcParams": "vvc_params", "TextUnit": "text_unit", "InterpParamsUnit": "interp_params_unit",
    "InterpFlags": "interp_flags", "FrameHashUnit": "frame_hash_unit", "MetadataUnit": "metadata_unit",
    "PaddingUnit": "padding_unit", "EndOfStreamUnit": "end_of_stream_unit", "KeyframeGroupUnit": "keyframe_group_unit",
}

STRUCTURES = [S.FileHeader, S.Unit, S.SequenceHeader, S.ModelEntry, S.KeyframeUnit, S.NoParams, S.ImageParams,
              S.HyperpriorParams, S.Av1Params, S.VvcParams, S.TextUnit, S.InterpParamsUnit, S.FrameHashUnit, S.MetadataUnit,
              S.PaddingUnit, S.EndOfStreamUnit, S.KeyframeGroupUnit]


def _unwrap(sc):
    """Strip Renamed/Tracked wrappers; return (inner construct, docs)."""
    docs = ""
    while isinstance(sc, (cs.Renamed, D.Tracked)):
        if isinstance(sc, cs.Renamed) and sc.docs:
            docs = sc.docs
        sc = sc.subcon
    return sc, docs


_FMT = {">B": "u(8)", ">H": "u(16)", ">L": "u(32)", ">Q": "u(64)"}


def _describe(sc) -> tuple[str, str]:
    """(descriptor, constraint) of a construct."""
    sc, _ = _unwrap(sc)
    if isinstance(sc, D.Present):
        d, c = _describe(sc.thensubcon)
        return d, "; ".join(x for x in (f"present only if {sc.cond_text}", c) if x)
    if isinstance(sc, D.Checked):
        d, c = _describe(sc.subcon)
        return d, "; ".join(x for x in (c, sc.constraint) if x)
    if isinstance(sc, D.Registered):
        d, _ = _describe(sc.subcon)
        return d, sc.constraint
    if isinstance(sc, D.String):
        return sc.descriptor, sc.constraint
    if hasattr(sc, "descriptor"):
        return sc.descriptor, ""
    if isinstance(sc, cs.FormatField):
        return _FMT[sc.fmtstr], ""
    if isinstance(sc, cs.BitsInteger):
        return f"f({sc.length})", ""
    if sc is cs.Flag or isinstance(sc, type(cs.Flag)):
        return "f(1)", ""
    if isinstance(sc, cs.Bytes):
        return f"b({sc.length})", ""
    raise TypeError(f"no descriptor for {sc!r}")


def _dc_of(sc):
    """The dataclass behind a (Bit)DataclassStruct, if any."""
    sc, _ = _unwrap(sc)
    while True:
        if hasattr(sc, "dc_type"):
            return sc.dc_type
        if isinstance(sc, (cs.Subconstruct, cs.Transformed, cs.Restreamed)) and hasattr(sc, "subcon"):
            sc = sc.subcon
            continue
        return None


def _rows(dc_type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows = []
    for f in dataclasses.fields(dc_type):
        sc, docs = _unwrap(f.metadata["subcon"])
        name = prefix + f.name
        if isinstance(sc, D.BitGroup):  # expand the bit fields in place
            rows += _rows(_dc_of(sc))
            continue
        if isinstance(sc, cs.Switch):
            rows.append((f"{f.name}({sc.keyfunc._Path__field if hasattr(sc.keyfunc, '_Path__field') else 'codec_id'})",
                         "", "one of the structures of Table 4-4a", docs))
            continue
        if isinstance(sc, D.Repeat):
            inner, _ = _unwrap(sc.subcon)
            sub = _dc_of(inner)
            if sub is not None:
                rows.append((f"{f.name}[i]", f"{SYNTAX_NAMES[sub.__name__]}()", f"for i = 0..{sc.count_text}-1", docs))
            else:
                d, c = _describe(inner)
                rows.append((f"{f.name}[i]", d, "; ".join(x for x in (f"for i = 0..{sc.count_text}-1", c) if x), docs))
            continue
        d, c = _describe(sc)
        rows.append((name, d, c, docs))
    return rows


def _esc(s: str) -> str:
    return s.replace("|", "\\|")


def syntax_table(dc_type) -> str:
    name = SYNTAX_NAMES[dc_type.__name__]
    lines = [f"**{name}()**", "", "| Syntax element | Descriptor | Constraint | Semantics |", "|---|---|---|---|"]
    rows = _rows(dc_type)
    if not rows:
        lines.append("| (empty) | | | |")
    for el, d, c, doc in rows:
        lines.append(f"| `{el}` | {d} | {_esc(c)} | {_esc(doc)} |")
    return "\n".join(lines)


def codec_params_table() -> str:
    lines = ["| codec_id | codec_params(codec_id) |", "|---|---|"]
    for cid, st in CODEC_PARAMS.items():
        lines.append(f"| {int(cid)} ({cid.name}) | {SYNTAX_NAMES[st.dc_type.__name__]}() |")
    return "\n".join(lines)


def registry_table(num: str, enum) -> str:
    lines = [f"Table {num}: {enum.__name__}", "", "| Value | Name | Meaning |", "|---|---|---|"]
    if enum is UnitType:
        lines = [f"Table {num}: {enum.__name__}", "", "| Value | Name | skippable_flag | Meaning |", "|---|---|---|---|"]
        for m in enum:
            lines.append(f"| {int(m)} | {m.name} | {int(SKIPPABLE[m])} | {_esc(m.doc)} |")
        lines.append(f"| 0, {max(int(m) for m in enum) + 1}..255 | reserved | (any) | Skipped when skippable_flag = 1, else E009. |")
        return "\n".join(lines)
    for m in enum:
        lines.append(f"| {int(m)} | {m.name} | {_esc(m.doc)} |")
    lines.append("| other | reserved | A v1 stream does not use these values (E011). |")
    return "\n".join(lines)


def levels_table() -> str:
    lines = ["| level | name | max_width | max_height | max_picture_size | max_frames | max_unit_size | "
             "max_text_tokens | max_stream_size | max_keyframe_picture_size | max_held_pictures |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for lv in LEVELS.values():
        lines.append(f"| {lv.level} | {lv.name} | {lv.max_width} | {lv.max_height} | {lv.max_picture_size} | "
                     f"{lv.max_frames} | {lv.max_unit_size} | {lv.max_text_tokens} | {lv.max_stream_size} | "
                     f"{lv.max_keyframe_picture_size} | {lv.max_held_pictures} |")
    return "\n".join(lines)


def errors_table() -> str:
    lines = ["| Code | Name | At fault | Meaning |", "|---|---|---|---|"]
    for e in ERROR_CODES.values():
        lines.append(f"| {e.code} | {e.name} | {e.fault} | {_esc(e.description)} |")
    return "\n".join(lines)


def colour_table() -> str:
    from ..colour import int_coefficients

    lines = ["| matrix_coefficients | full_range_flag | cy | ccb | ccr |", "|---|---|---|---|---|"]
    for m, label in ((1, "1"), (9, "9, 10"), (6, "any other value")):
        for fr in (0, 1):
            c = int_coefficients(m, bool(fr))
            lines.append(f"| {label} | {fr} | {c['y']} | {c['cb']} | {c['cr']} |")
    return "\n".join(lines)


def upsampling_table() -> str:
    from ..resample import COEF

    n = len(COEF[0])
    lines = ["| f | " + " | ".join(f"COEF[f][{k}]" for k in range(n)) + " |", "|---" * (n + 1) + "|"]
    lines += [f"| {f} | " + " | ".join(str(v) for v in c) + " |" for f, c in enumerate(COEF)]
    return "\n".join(lines)


def models_table() -> str:
    from ..zoo import ZOO

    lines = ["| model_name | model_sha256 | What it is | Published file | License |", "|---|---|---|---|---|"]
    lines += [f"| `{m.name}` | `{m.sha256}` | {m.description} | {m.source} | {m.license} |" for m in ZOO.values()]
    return "\n".join(lines)


def rife_weights_table() -> str:
    """Table 7-3: every weight tensor of the §7.5 IFNet, by key (the eight residual convolutions of a block
    on one row each), with its shape, and the parameter count, from :class:`cmvc.recon.ifnet.IFNet`."""
    from ..recon.ifnet import IFNet

    sd = IFNet().state_dict()
    rows: dict[str, list[str]] = {}
    for key, t in sd.items():
        key = re.sub(r"\.convblock\.\d+\.", ".convblock.j.", key)
        shape = "(" + ", ".join(str(d) for d in t.shape) + ")"
        layer, part = key.rsplit(".", 1)
        rows.setdefault(layer, {})[part] = shape  # type: ignore[index]
    lines = ["| Key (j = 0..7) | weight | bias | beta |", "|---|---|---|---|"]
    for layer, parts in rows.items():
        lines.append(f"| `{layer}` | {parts.get('weight', '')} | {parts.get('bias', '')} | {parts.get('beta', '')} |")
    n = sum(t.numel() for t in sd.values())
    lines += ["", f"{len(sd)} tensors, " + f"{n:_}".replace("_", " ") + " parameters."]
    return "\n".join(lines)


def blocks() -> dict[str, str]:
    out = {f"syntax:{SYNTAX_NAMES[dc.__name__]}": syntax_table(dc) for dc in STRUCTURES}
    out["codec_params"] = codec_params_table()
    for num, enum in REGISTRIES:
        out[f"registry:{enum.__name__}"] = registry_table(num, enum)
    out["levels"] = levels_table()
    out["errors"] = errors_table()
    out["colour"] = colour_table()
    out["upsampling"] = upsampling_table()
    out["models"] = models_table()
    out["rife_weights"] = rife_weights_table()
    return out


BLOCK_RE = re.compile(r"(<!-- BEGIN GENERATED (?P<name>[\w:]+) -->\n)(?P<body>.*?)(<!-- END GENERATED (?P=name) -->)", re.S)


def render(text: str, gen: dict[str, str], used: set[str]) -> str:
    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in gen:
            raise KeyError(f"unknown generated block {name}")
        used.add(name)
        return f"{m.group(1)}{gen[name]}\n{m.group(4)}"

    return BLOCK_RE.sub(sub, text)


def spec_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "spec"


def run(check: bool, directory: Path | None = None) -> list[str]:
    """Regenerate (or check) every block; return the list of problems."""
    directory = directory or spec_dir()
    gen = blocks()
    used: set[str] = set()
    problems = []
    for path in sorted(directory.glob("*.md")):
        text = path.read_text()
        new = render(text, gen, used)
        if new != text:
            if check:
                problems.append(f"{path.name}: generated tables differ from the code")
            else:
                path.write_text(new)
    missing = sorted(set(gen) - used)
    if missing:
        problems.append(f"blocks not placed in spec/: {', '.join(missing)}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--dir", type=Path)
    a = ap.parse_args(argv)
    problems = run(a.check, a.dir)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
