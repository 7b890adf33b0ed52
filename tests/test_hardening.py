"""Issue 31: hostile streams and tampered weights.  A stream of at most 1 KB is validated in at most
100 MB more than the interpreter holds after importing the validator, and 1 s of CPU."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = sorted(p for d in ("streams", "invalid") for p in (ROOT / "conformance" / d).glob("*.cmvc")
               if p.stat().st_size <= 1024)

_PROBE = r"""
import json, resource, sys, time
from cmvc.validate import validate
files = sys.argv[1:]
validate(open(files[0], "rb").read())  # warm up: lazy imports, caches
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
worst = []
for f in files:
    data = open(f, "rb").read()
    t = time.process_time()
    validate(data)
    worst.append((time.process_time() - t, f))
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
print(json.dumps({"grown_mb": grown, "slowest": max(worst)}))
"""


def test_small_streams_validate_in_bounded_memory_and_time():
    names = {p.name for p in SMALL}
    assert {"E022_md5_span_huge.cmvc", "E025_md5_span_overlap_huge.cmvc", "E025_interp_empty_huge.cmvc"} <= names
    p = subprocess.run([sys.executable, "-c", _PROBE, *map(str, SMALL)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout)
    assert r["grown_mb"] < 100, r
    assert r["slowest"][0] < 1.0, r


@pytest.mark.parametrize("name", ["E022_md5_span_huge", "E025_md5_span_overlap_huge", "E025_interp_empty_huge"])
def test_hostile_streams_give_their_error(name):
    from cmvc.validate import validate

    rep = validate((ROOT / "conformance" / "invalid" / f"{name}.cmvc").read_bytes())
    assert rep.errors[0].code == name[:4]


def test_frame_hash_spans_are_intervals():
    """The sorted-interval bookkeeping of §6.5's frame-hash rule agrees with a set of frames."""
    import random

    from cmvc.validate import add_span, first_overlap

    rng = random.Random(31)
    for _ in range(500):
        spans, cov = [], set()
        for _ in range(rng.randint(1, 8)):
            a = rng.randint(0, 30)
            b = a + rng.randint(0, 8)
            both = set(range(a, b)) & cov
            assert first_overlap(spans, a, b) == (min(both) if both else None)
            add_span(spans, a, b)
            cov |= set(range(a, b))
            assert {x for s, e in spans for x in range(s, e)} == cov
