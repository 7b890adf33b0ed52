"""Generate ``spec/cmvc.ksy``, a Kaitai Struct description of the syntax of chapter 4, from the construct
definitions (:mod:`cmvc.syntax`), as :mod:`cmvc.tools.specgen` generates the spec's tables.

``python -m cmvc.tools.ksygen`` rewrites the file; ``--check`` exits 1 when it differs (a test runs
this).  The description covers the syntax only (chapter 4): a generic tool reads every element with it;
the constraints and rules of chapters 5 and 6 are the validator's.  Field names are the spec's; bit
fields of a flags byte are inlined, as in the spec's tables; a leb128() or string() element is a
``leb128`` or ``string`` object whose ``value`` is the number or the text.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

import construct as cs
import yaml

from .. import syntax as S
from ..registry import REGISTRIES
from ..syntax import descriptors as D
from ..syntax.keyframe import CODEC_PARAMS
from .specgen import SYNTAX_NAMES, _dc_of, _describe, _unwrap, spec_dir

#: Counts and conditions that the construct definitions compute in Python: their Kaitai expressions.
DERIVED = {"NumDigests": "hash_type == hash_type::md5 ? num_frames.value : 1"}

_UINT = {"u(8)": "u1", "u(16)": "u2", "u(32)": "u4", "u(64)": "u8"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _ident(name: str) -> str:
    """An enum value's Kaitai identifier: its name in lower case, with "_" after a word that a target
    language reserves (GLOBAL: Python's ``global``)."""
    import keyword

    name = name.lower()
    return name + "_" if keyword.iskeyword(name) or name in {"default", "switch", "case", "class", "enum"} else name


def _enum_of(sc):
    sc, _ = _unwrap(sc)
    while True:
        if isinstance(sc, D.Registered):
            return sc.enum
        if isinstance(sc, (D.Checked, D.Present)) or (isinstance(sc, cs.Subconstruct) and not hasattr(sc, "dc_type")):
            sc = sc.thensubcon if isinstance(sc, D.Present) else sc.subcon
            sc, _ = _unwrap(sc)
            continue
        return None


class _Gen:
    def __init__(self) -> None:
        self.types: dict[str, dict] = {}
        self.enums: set = set()

    def expr(self, text: str, fields: dict[str, str]) -> str:
        """A Kaitai expression for a count or condition text of the construct definitions."""
        if text in DERIVED:
            return DERIVED[text]
        m = re.fullmatch(r"(\w+)(?: = (\d+))?", text)
        if not m:
            raise ValueError(f"no Kaitai expression for {text!r}")
        name, val = m.groups()
        kind = fields[name]
        ref = f"{name}.value" if kind in ("leb128", "string") else name
        if val is None:
            return ref
        if kind.startswith("b1"):
            return f"not {ref}" if val == "0" else ref
        return f"{ref} == {val}"

    def element(self, name: str, sc, doc: str, fields: dict[str, str]) -> dict:
        d, _ = _describe(sc)
        out: dict = {"id": name}
        if d in _UINT:
            out["type"] = _UINT[d]
        elif m := re.fullmatch(r"f\((\d+)\)", d):
            out["type"] = f"b{m.group(1)}"
        elif d in ("leb128()", "string()"):
            out["type"] = d[:-2]
        elif d == "b(*)":
            out["size-eos"] = True
        elif m := re.fullmatch(r"b\((\d+)\)", d):
            out["size"] = int(m.group(1))
        elif m := re.fullmatch(r"b\((\w+)\)", d):
            out["size"] = self.expr(m.group(1), fields)
        else:
            raise ValueError(f"no Kaitai type for {name}: {d}")
        enum = _enum_of(sc)
        if enum is not None:
            out["enum"] = _snake(enum.__name__)
            self.enums.add(enum)
        if doc:
            out["doc"] = doc
        return out

    def struct(self, dc_type) -> str:
        tname = SYNTAX_NAMES[dc_type.__name__]
        if tname in self.types:
            return tname
        self.types[tname] = {}  # placeholder: recursion
        seq: list[dict] = []
        fields: dict[str, str] = {}
        for f in dataclasses.fields(dc_type):
            self._field(f, seq, fields)
        self.types[tname] = {"seq": seq}
        return tname

    def _field(self, f, seq: list, fields: dict) -> None:
        sc, docs = _unwrap(f.metadata["subcon"])
        if isinstance(sc, D.BitGroup):  # the bits of a flags byte, inline as in the spec's tables
            for g in dataclasses.fields(_dc_of(sc)):
                self._field(g, seq, fields)
            return
        if isinstance(sc, cs.Switch):  # codec_params(codec_id)
            cases = {f"codec_id::{cid.name.lower()}": self.struct(st.dc_type) for cid, st in CODEC_PARAMS.items()}
            seq.append({"id": f.name, "type": {"switch-on": "codec_id", "cases": cases}, "doc": docs})
            fields[f.name] = "struct"
            return
        if f.name == "payload" and isinstance(sc, D.Payload):  # unit(): the structure selected by unit_type
            cases = {int(t): self.struct(S.PAYLOAD_CLASS[t]) for t in S.PAYLOAD_CLASS}
            seq.append({"id": "payload", "size": self.expr("payload_size", fields),
                        "type": {"switch-on": "unit_type", "cases": cases},
                        "doc": docs + " Unregistered unit types: raw bytes."})
            fields[f.name] = "struct"
            return
        cond = None
        if isinstance(sc, D.Present):
            cond = self.expr(sc.cond_text, fields)
            sc, _ = _unwrap(sc.thensubcon)
        if isinstance(sc, D.Repeat):
            inner, _ = _unwrap(sc.subcon)
            sub = _dc_of(inner)
            el = {"id": f.name, "type": self.struct(sub)} if sub is not None else self.element(f.name, inner, "", fields)
            el.update({"repeat": "expr", "repeat-expr": self.expr(sc.count_text, fields)})
            if docs:
                el["doc"] = docs
        elif (sub := _dc_of(sc)) is not None:
            el = {"id": f.name, "type": self.struct(sub)}
        else:
            el = self.element(f.name, sc, docs, fields)
        if cond:
            el["if"] = cond
        seq.append(el)
        fields[f.name] = el.get("type", "bytes") if isinstance(el.get("type"), str) else "struct"


LEB128 = {
    "doc": "leb128() (§2.3): 7 bits per byte, least significant group first, high bit set on all bytes but the "
           "last; at most 5 bytes.",
    "seq": [{"id": "groups", "type": "u1", "repeat": "until", "repeat-until": "(_ & 0x80) == 0"}],
    "instances": {"value": {"value": " + ".join(
        f"(groups.size > {i} ? (groups[{i}] & 0x7f) << {7 * i} : 0)" for i in range(5))}},
}
STRING = {
    "doc": "string() (§2.3): a leb128() byte count, then that many bytes of UTF-8.",
    "seq": [{"id": "len", "type": "leb128"}, {"id": "value", "type": "str", "size": "len.value", "encoding": "UTF-8"}],
}


def ksy() -> dict:
    g = _Gen()
    g.struct(S.FileHeader)
    g.struct(S.Unit)
    enums = {}
    for _, enum in REGISTRIES:
        if enum in g.enums:
            enums[_snake(enum.__name__)] = {int(m): _ident(m.name) for m in enum}
    return {
        "meta": {"id": "cmvc", "title": "CMVC bitstream (spec chapter 4)", "file-extension": "cmvc",
                 "endian": "be", "bit-endian": "be"},
        "doc": "Generated by `python -m cmvc.tools.ksygen` from the construct definitions of the reference "
               "implementation; do not edit. Syntax only: constraints and rules are in spec chapters 4-6.",
        "seq": [{"id": "file_header", "type": "file_header"},
                {"id": "units", "type": "unit", "repeat": "until", "repeat-until": "_.unit_type == 8"}],
        "types": {"leb128": LEB128, "string": STRING, **g.types},
        "enums": enums,
    }


def render() -> str:
    return "# Generated by `python -m cmvc.tools.ksygen`; do not edit.\n" + yaml.safe_dump(
        ksy(), sort_keys=False, allow_unicode=True, width=110)


def ksy_path() -> Path:
    return spec_dir() / "cmvc.ksy"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    text, path = render(), ksy_path()
    if a.check:
        if not path.exists() or path.read_text() != text:
            print(f"{path}: differs from the construct definitions (run python -m cmvc.tools.ksygen)", file=sys.stderr)
            return 1
        return 0
    tmp = path.with_suffix(".ksy.partial")
    tmp.write_text(text)
    tmp.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
