"""A bounded atheris run (60 s) over parse/validate/decode, seeded with the conformance streams."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_fuzz_short_run(tmp_path):
    pytest.importorskip("atheris")
    seconds = os.environ.get("CMVC_FUZZ_SECONDS", "60")
    corpus = tmp_path / "corpus"  # libFuzzer writes new inputs into the first directory: never the repository's
    corpus.mkdir()
    p = subprocess.run([sys.executable, str(ROOT / "fuzz" / "fuzz_stream.py"), f"-max_total_time={seconds}",
                        "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/", str(corpus), str(ROOT / "conformance" / "streams"),
                        str(ROOT / "conformance" / "invalid")], capture_output=True, text=True, timeout=int(seconds) + 240)
    tail = (p.stdout + p.stderr)[-3000:]
    assert p.returncode == 0, tail
    assert "Done" in tail and not list(tmp_path.glob("crash-*")), tail


def test_regressions_do_not_crash():
    from cmvc.errors import CmvcError
    from cmvc.decode import decode
    from cmvc.validate import validate

    for f in sorted((ROOT / "fuzz" / "regressions").glob("*.cmvc")):
        data = f.read_bytes()
        validate(data)
        try:
            decode(data)
        except CmvcError:
            pass
