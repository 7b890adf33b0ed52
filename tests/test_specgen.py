"""The spec's generated tables match the code."""
import shutil

from cmvc.tools import specgen


def test_spec_tables_in_sync():
    assert specgen.run(check=True) == []


def test_drift_is_detected(tmp_path):
    d = tmp_path / "spec"
    shutil.copytree(specgen.spec_dir(), d)
    f = d / "04-syntax.md"
    f.write_text(f.read_text().replace("| `width` | leb128()", "| `width` | u(16)"))
    assert specgen.run(check=True, directory=d)
    specgen.run(check=False, directory=d)
    assert specgen.run(check=True, directory=d) == []
