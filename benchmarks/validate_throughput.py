"""Validation throughput vs zlib.crc32 over the same bytes (issue: target ratio >= 0.5).

    python benchmarks/validate_throughput.py [--mb 128]

Builds a stream of keyframe units (1 MiB each, random bytes) on disk, then times
``cmvc.validate.validate`` on the open file and ``zlib.crc32`` over the file's bytes, best of 3 each.
The ratio is crc32 time / validation time: 1.0 means validation costs as much as one CRC pass.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib

import cmvc.syntax as S
from cmvc.registry import CodecId, Profile, UnitType
from cmvc.validate import validate
from cmvc.write import StreamWriter, make_sequence_header


def build(path: str, mb: int) -> int:
    n = mb
    w = StreamWriter(Profile.BASELINE, 20)
    w.add(UnitType.SEQUENCE_HEADER, make_sequence_header(640, 360, n, list(range(n))))
    with open(path, "wb") as f:
        f.write(b"".join(w.parts))
        w.parts.clear()
        rnd = os.urandom(1 << 20)
        for i in range(n):
            w.add(UnitType.KEYFRAME, S.KeyframeUnit(frame_index=i, codec_id=CodecId.PNG, codec_params=S.NoParams(),
                                                    keyframe_data=rnd))
            f.write(w.parts.pop())
        f.write(w.finish())
    return os.path.getsize(path)


def best(fn, reps=3):
    t = []
    for _ in range(reps):
        s = time.perf_counter()
        fn()
        t.append(time.perf_counter() - s)
    return min(t)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=128)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "big.cmvc")
        size = build(path, a.mb)

        def run_validate():
            with open(path, "rb") as f:
                rep = validate(f)
            assert rep.valid, rep.errors[:3]

        def run_crc():
            with open(path, "rb") as f:
                zlib.crc32(f.read())

        tv = best(run_validate)
        tc = best(run_crc)
    print(f"stream: {size / 1e6:.1f} MB")
    print(f"validate: {tv:.3f} s ({size / tv / 1e6:.0f} MB/s)")
    print(f"zlib.crc32 (read + crc): {tc:.3f} s ({size / tc / 1e6:.0f} MB/s)")
    ratio = tc / tv
    print(f"ratio crc32/validate: {ratio:.2f} (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
