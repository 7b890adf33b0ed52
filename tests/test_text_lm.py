"""Integer-only LM prior (cmvc.text.lm) on a tiny random model with SmolLM2's structure: exact integer
PMFs, lossless coding, and bit-identical results for any batch composition and thread count."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cmvc.text import lm

_M = []


def model():
    if not _M:
        _M.append(lm.tiny())
    return _M[0]


FIXED = ["a grey square slides to the right", "", "ü", "Ein Mann fährt 😀", "x" * 60, "漢字とかな"]


@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
@settings(max_examples=25, deadline=None)
def test_roundtrip_in_any_batch(texts):
    """Each caption codes and decodes alone and in a batch with others, to the same bytes."""
    m = model()
    toks = [list(s.encode()) for s in texts]
    batch = lm.encode_batch(m, toks)
    alone = [lm.encode_batch(m, [t])[0] for t in toks]
    assert batch == alone
    back = lm.decode_batch(m, list(zip(batch, map(len, toks))))
    assert [bytes(t).decode() for t in back] == texts


def test_pmf_is_exact_and_complete():
    m = model()
    cache = []
    for pos, t in enumerate(b"a cat"):
        w = lm.pmf(m.step(np.array([t, 7, 200]), cache, pos))
        assert w.dtype == np.int64 and (w >= 1).all() and (w.sum(1) == 1 << lm.PRECISION).all()


def test_rows_are_independent():
    """The logits of one caption do not depend on the other rows of the batch (per-row requantisation)."""
    m = model()
    c1, c2 = [], []
    a = m.step(np.array([5]), c1, 0)
    b = m.step(np.array([5, 99, 250]), c2, 0)
    assert (a[0] == b[0]).all()


def test_identical_in_two_processes_with_different_thread_counts():
    """The encoder's text_data, computed in processes with 1 and 2 BLAS threads, is identical and
    decodes here."""
    code = ("import json, sys; from cmvc.text import lm; m = lm.tiny(); t = json.loads(sys.argv[1]); "
            "print(json.dumps([d.hex() for d in lm.encode_batch(m, [list(s.encode()) for s in t])]))")
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
                   PYTHONPATH=str(Path(lm.__file__).resolve().parents[2]))
        p = subprocess.run([sys.executable, "-c", code, json.dumps(FIXED)], capture_output=True, text=True, env=env,
                           timeout=300)
        assert p.returncode == 0, p.stderr
        outs.append(json.loads(p.stdout))
    assert outs[0] == outs[1]
    back = lm.decode_batch(model(), [(bytes.fromhex(h), len(s.encode())) for h, s in zip(outs[0], FIXED)])
    assert [bytes(t).decode() for t in back] == FIXED


def test_corrupt_payload_rejected():
    m = model()
    d = lm.encode_batch(m, [list(b"a cat")])[0]
    try:
        lm.decode_batch(m, [(d[:-1] + bytes([d[-1] ^ 1]), 5)])
    except Exception as e:
        assert getattr(e, "code", None) == "E020"
    else:
        raise AssertionError("a corrupted payload decoded")
