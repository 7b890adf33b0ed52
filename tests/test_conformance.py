"""Conformance suite: reproducible, passing, 100% covered; the external-decoder mode works."""
import json
import sys


from cmvc.tools import conformance as C

ROOT = C.suite_dir()


def test_suite_regenerates_identically(tmp_path):
    sys.path.insert(0, str(ROOT))
    import generate

    out = tmp_path / "suite"
    generate.write_suite(out, generate.Assets(ROOT, refresh=False))
    committed = json.loads((ROOT / "manifest.json").read_text())
    fresh = json.loads((out / "manifest.json").read_text())
    assert fresh == committed, "the format or the generator changed: regenerate with conformance/generate.py"
    for item in committed["streams"]:
        assert (out / item["file"]).read_bytes() == (ROOT / item["file"]).read_bytes(), item["name"]


def test_reference_decoder_passes_everything():
    results = C.run(ROOT)
    failed = [(r.name, r.detail) for r in results if not r.ok]
    assert not failed
    assert len(results) == len(json.loads((ROOT / "manifest.json").read_text())["streams"])


def test_coverage_is_complete():
    cov = C.coverage(ROOT)
    assert cov["percent"] == 100.0, cov["items"]


def test_suite_is_small():
    size = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    assert size <= 20 << 20


def test_external_decoder_mode():
    cmd = f"{sys.executable} -m cmvc.tools.cli decode {{in}} -o {{out}} --verify"
    results = C.run(ROOT, decoder=cmd, only=r"^(blend_png_basic|odd_17x11|E006|E023|E024_corrupt|tt2v)")
    assert [r.name for r in results] == ["blend_png_basic", "odd_17x11", "tt2v_text_only", "E006_crc",
                                         "E023_hash_mismatch", "E024_corrupt_png"]
    assert all(r.ok for r in results), [(r.name, r.detail) for r in results]


def test_external_decoder_failures_are_reported(tmp_path):
    bad = tmp_path / "bad_decoder.py"
    bad.write_text("import sys, shutil\nopen(sys.argv[2], 'wb').write(b'')\n")  # accepts everything, outputs nothing
    results = C.run(ROOT, decoder=f"{sys.executable} {bad} {{in}} {{out}}", only=r"^(blend_png_basic|E001_bad_magic)$")
    assert [r.ok for r in results] == [False, False]


def test_known_failures_cannot_go_stale():
    results = C.run(ROOT, known={"blend_png_basic"}, only="^blend_png_basic$")
    assert not results[0].ok and "remove it" in results[0].detail


def test_cli(capsys):
    from cmvc.tools.cli import main

    assert main(["conformance", "--coverage"]) == 0
    assert "100.0%" in capsys.readouterr().out
    assert main(["conformance", "--only", "^min_size"]) == 0


def test_tolerances_are_the_spec_table_per_stream():
    """Table 11-1 of the spec lists the code's tolerances, and each tolerance-defined stream of the
    manifest carries its row (RIFE's depends on recon_param)."""
    import re
    from pathlib import Path

    from cmvc.decode import HYPERPRIOR_TOLERANCE, RIFE_TOLERANCE, stream_tolerance
    from cmvc.parse import parse

    spec = (Path(__file__).parents[1] / "spec" / "11-conformance.md").read_text()
    rows = dict((name.strip(), (int(a), float(f) / 100)) for name, a, f in
                re.findall(r"^\| (RIFE, `recon_param` \d|HYPERPRIOR keyframes) \| (\d+) \| ([\d.]+) % \|$", spec, re.M))
    code = {f"RIFE, `recon_param` {k}": (t.max_abs, t.max_fraction) for k, t in RIFE_TOLERANCE.items()}
    code["HYPERPRIOR keyframes"] = (HYPERPRIOR_TOLERANCE.max_abs, HYPERPRIOR_TOLERANCE.max_fraction)
    assert rows == code
    manifest = json.loads((ROOT / "manifest.json").read_text())
    tolerant = [i for i in manifest["streams"] if i["valid"] and "reference" in i.get("expect", {})]
    assert {i["name"] for i in tolerant} >= {"rife_main", "rife_scale1", "rife_scale2"}
    for item in tolerant:
        t = stream_tolerance(parse((ROOT / item["file"]).read_bytes()))
        assert item["expect"]["tolerance"] == {"max_abs": t.max_abs, "max_fraction": t.max_fraction}


def test_output_check_uses_the_stream_tolerance():
    """A frame with 0.5 % of its samples off by 1 passes a recon_param 1 stream (1 %), not a
    recon_param 0 one (0.1 %); a sample off by 3 fails both."""
    import numpy as np

    manifest = json.loads((ROOT / "manifest.json").read_text())
    items = {i["name"]: i for i in manifest["streams"]}
    for name, passes in (("rife_scale1", True), ("rife_main", False)):
        item = items[name]
        w, h = item["size"]
        ref = C.read_frames(ROOT / item["expect"]["reference"], w, h, item["frames"])
        frames = [[p.copy() for p in f] for f in ref]
        y = frames[0][0]
        n = max(1, int(0.005 * sum(p.size for p in frames[0])))
        flat = y.reshape(-1)
        flat[:n] = np.where(flat[:n] < 255, flat[:n] + 1, flat[:n] - 1)
        assert C._check_output(item, frames, ROOT)[0] is passes, name
        frames[0][0].reshape(-1)[0] = (int(ref[0][0].reshape(-1)[0]) + 3) % 256
        assert C._check_output(item, frames, ROOT)[0] is False
