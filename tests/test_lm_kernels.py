"""The compiled kernels of cmvc.text.lm_kernels give exactly the integers of the numpy path of
cmvc.text.lm (the LM prior's PMFs must not depend on which path a decoder runs)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cmvc.text import lm, lm_kernels

pytestmark = pytest.mark.skipif(not lm_kernels.AVAILABLE, reason="numba is not installed")


def both(fn):
    """fn() with the numpy path, then with the kernels."""
    out = []
    for flag in (False, True):
        lm.USE_NUMBA = flag
        try:
            out.append(fn())
        finally:
            lm.USE_NUMBA = True
    return out


def extreme_rows(rng, n, k):
    """Hidden values with the clamp's extremes, zero rows, single spikes and random rows."""
    x = rng.integers(-lm.CLAMP, lm.CLAMP + 1, (n, k))
    x[0] = 0
    x[1 % n] = lm.CLAMP
    x[2 % n] = -lm.CLAMP
    x[3 % n] = 0
    x[3 % n, k // 2] = -1
    return x


@given(st.integers(0, 2**32 - 1), st.integers(1, 9), st.integers(1, 70))
@settings(max_examples=60, deadline=None)
def test_quantise_apply_silu(seed, n, k):
    rng = np.random.default_rng(seed)
    x = extreme_rows(rng, n, k)
    gain = rng.integers(0, 1 << 15, k)
    lin = lm.Linear.from_float(rng.standard_normal((k + 3, k)))
    for g in (gain, None):
        (a0, f0), (a1, f1) = both(lambda: lm.quantise(x, g))
        assert np.array_equal(a0, a1) and np.array_equal(f0, f1)
        y0, y1 = both(lambda: lin(x, g))
        assert np.array_equal(y0, y1)
    u = extreme_rows(rng, n, k)
    s0, s1 = both(lambda: lm.silu_mul(x, u))
    assert np.array_equal(s0, s1)


@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(2, 600))
@settings(max_examples=60, deadline=None)
def test_pmf_tables(seed, n, v):
    rng = np.random.default_rng(seed)
    logits = extreme_rows(rng, n, v)
    logits[-1] = rng.integers(-3000, 3000, v)  # a spread where the exp table matters
    (w0, c0), (w1, c1) = both(lambda: lm.pmf_tables(logits))
    assert np.array_equal(w0, w1) and np.array_equal(c0, c1)
    assert (w1 >= 1).all() and (w1.sum(1) == 1 << lm.PRECISION).all()


@given(st.integers(0, 2**16), st.lists(st.lists(st.integers(0, 255), max_size=24), min_size=1, max_size=6))
@settings(max_examples=15, deadline=None)
def test_model_coding_identical(seed, captions):
    m = lm.tiny(seed % 7, n_layer=1 + seed % 2)
    c0, c1 = both(lambda: lm.encode_batch(m, captions))
    assert c0 == c1
    jobs = list(zip(c1, map(len, captions)))
    assert both(lambda: lm.decode_batch(m, jobs)) == [captions, captions]


@pytest.mark.parametrize("k", [1, 7, 576, 1536])
def test_int8_products_match_the_float_path(k):
    """torch._int_mm (int8 -> int32) and the kernels' matvec_int8 (one or two rows) against the float32
    chunked path, up to SmolLM2's widest input; k = 1 caught _int_mm reading numpy's strides wrongly."""
    rng = np.random.default_rng(k)
    lin = lm.Linear.from_float(rng.standard_normal((300, k)))
    for n in (1, 2, 7):
        a = rng.integers(-lm.AMAX, lm.AMAX + 1, (n, k))
        a[0] = lm.AMAX
        out = []
        for int_mm, rows in ((False, 0), (True, 0), (True, 2)):
            lm.USE_INT_MM, lm.MATVEC_ROWS = int_mm, rows
            try:
                out.append(np.asarray(lin.acc(a), dtype=np.int64))
            finally:
                lm.USE_INT_MM, lm.MATVEC_ROWS = True, 2
        assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])


_TWO_PROCESS = ("import json, sys; import torch; from cmvc.text import lm; a = json.loads(sys.argv[1]); "
                "lm.USE_NUMBA = a['numba']; torch.set_num_threads(a['threads']); m = lm.tiny(); "
                "c = lm.encode_batch(m, [list(s.encode()) for s in a['texts']], workers=a['workers']); "
                "print(json.dumps([d.hex() for d in c]))")


@given(st.lists(st.text(max_size=30), min_size=1, max_size=8))
@settings(max_examples=4, deadline=None)
def test_two_processes_two_configurations(texts):
    """Hypothesis text encoded in two processes, one with the kernels, one torch thread and a group per
    core, the other with numpy, two torch threads and one lockstep batch: the same text_data, and it
    decodes here (to the text)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    outs = []
    for cfg in ({"numba": True, "threads": 1, "workers": None}, {"numba": False, "threads": 2, "workers": 0}):
        env = dict(os.environ, PYTHONPATH=str(Path(lm.__file__).resolve().parents[2]))
        p = subprocess.run([sys.executable, "-c", _TWO_PROCESS, json.dumps(dict(cfg, texts=texts))],
                           capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        outs.append(json.loads(p.stdout))
    assert outs[0] == outs[1]
    back = lm.decode_batch(lm.tiny(), [(bytes.fromhex(h), len(s.encode())) for h, s in zip(outs[0], texts)])
    assert [bytes(t).decode() for t in back] == texts
