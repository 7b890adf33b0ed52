"""spec/cmvc.ksy, the Kaitai Struct description of chapter 4, is generated from the construct definitions
(drift test), and the parser that the Kaitai Struct compiler makes from it reads every valid
conformance stream to the same elements as the reference parser.

The second test needs node, the npm package kaitai-struct-compiler (``npm install --prefix tools/kaitai``)
and the Python runtime kaitaistruct (the ``test`` extra); without them it is skipped, saying which is
missing."""
import dataclasses
import enum
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cmvc.parse import parse
from cmvc.tools import ksygen

REPO = Path(__file__).resolve().parents[1]
KSC = REPO / "tools" / "kaitai"


def test_ksy_in_sync_with_the_syntax():
    assert ksygen.ksy_path().read_text() == ksygen.render(), "run python -m cmvc.tools.ksygen"


def test_ksy_drift_is_detected(tmp_path, monkeypatch):
    stale = tmp_path / "cmvc.ksy"
    stale.write_text(ksygen.render().replace("type: leb128\n      doc: Luma width", "type: u2\n      doc: Luma width"))
    monkeypatch.setattr(ksygen, "ksy_path", lambda: stale)
    assert ksygen.main(["--check"]) == 1
    assert ksygen.main([]) == 0 and ksygen.main(["--check"]) == 0


def _compiled(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Kaitai Struct compiler from npm runs on node")
    if not (KSC / "node_modules" / "kaitai-struct-compiler").is_dir():
        pytest.skip("kaitai-struct-compiler is not installed: npm install --prefix tools/kaitai")
    if importlib.util.find_spec("kaitaistruct") is None:
        pytest.skip("the kaitaistruct Python runtime is not installed (pip install kaitaistruct)")
    subprocess.run([node, str(KSC / "ksc.js"), "python", str(ksygen.ksy_path()), str(tmp_path)], check=True,
                   capture_output=True, timeout=300)
    spec = importlib.util.spec_from_file_location("cmvc_kaitai", tmp_path / "cmvc.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["cmvc_kaitai"] = mod
    spec.loader.exec_module(mod)
    return mod.Cmvc


def _same(ref, k, path):
    """The reference parser's value *ref* equals the Kaitai element *k*."""
    if hasattr(k, "value") and not isinstance(k, enum.Enum) and not dataclasses.is_dataclass(ref):
        k = k.value  # leb128, string
    if dataclasses.is_dataclass(ref):
        for f in dataclasses.fields(ref):
            v = getattr(ref, f.name)
            if dataclasses.is_dataclass(v) and not hasattr(k, f.name):  # a flags byte: inline in the .ksy
                _same(v, k, path)
            else:
                _same(v, getattr(k, f.name, None), f"{path}.{f.name}")
    elif isinstance(ref, list):
        assert len(ref) == len(k), path
        for i, (a, b) in enumerate(zip(ref, k)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(ref, enum.Enum) or isinstance(k, enum.Enum):
        assert int(ref) == int(k), path
    else:
        assert ref == k, path


def test_kaitai_parser_reads_every_conformance_stream(tmp_path):
    Cmvc = _compiled(tmp_path)
    manifest = json.loads((REPO / "conformance" / "manifest.json").read_text())
    valid = [s for s in manifest["streams"] if s["valid"]]
    assert len(valid) > 30
    for s in valid:
        data = (REPO / "conformance" / s["file"]).read_bytes()
        ref, k = parse(data), Cmvc.from_bytes(data)
        _same(ref.header, k.file_header, s["name"])
        assert len(ref.units) == len(k.units), s["name"]
        for u, ku in zip(ref.units, k.units):
            where = f"{s['name']}.units[{u.index}]"
            assert (u.unit_type, u.payload_size, u.crc) == (ku.unit_type, ku.payload_size.value,
                                                              getattr(ku, "unit_crc", None)), where
            if u.body is not None:
                _same(u.body, ku.payload, where)
            else:
                assert ku.payload == u.payload, where
