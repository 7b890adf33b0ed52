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
    results = C.run(ROOT, decoder=f"{sys.executable} {bad} {{in}} {{out}}", only=r"^(blend_png_basic|E001)")
    assert [r.ok for r in results] == [False, False]


def test_known_failures_cannot_go_stale():
    results = C.run(ROOT, known={"blend_png_basic"}, only="^blend_png_basic$")
    assert not results[0].ok and "remove it" in results[0].detail


def test_cli(capsys):
    from cmvc.tools.cli import main

    assert main(["conformance", "--coverage"]) == 0
    assert "100.0%" in capsys.readouterr().out
    assert main(["conformance", "--only", "^min_size"]) == 0
