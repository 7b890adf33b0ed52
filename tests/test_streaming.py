"""Streaming decode (spec §7.1, §9.3): frames leave the decoder as each segment is made, memory does not
grow with frame_count, and ``cmvc decode`` writes them as they come (``OUT.partial``, ``-o -``)."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cmvc
from cmvc.decode import decode, decode_frames, resolve_device
from cmvc.errors import CmvcError
from cmvc.picture import Picture, span_md5
from cmvc.registry import CodecId, HashType, Profile, UnitType
from cmvc.syntax import FrameHashUnit, KeyframeUnit, NoParams
from cmvc.write import StreamWriter, make_sequence_header

ROOT = Path(__file__).resolve().parents[1]
STREAMS = ROOT / "conformance" / "streams"
ENV = {**os.environ, "PYTHONPATH": str(Path(cmvc.__file__).resolve().parents[1])}


def _png(pic: Picture) -> bytes:
    from cmvc.keyframes import png

    return png.encode([pic])[0][1]


def long_stream(n: int, w: int = 128, h: int = 96, every: int | None = None, corrupt_last: bool = False,
                level: int = 20, wrong_digest: bool = False) -> bytes:
    """BLEND with PNG keyframes (every *every* frames, else first and last), an MD5_SPAN over every
    frame in a frame hash unit at the end of the stream."""
    kf = sorted({*range(0, n, every or n), n - 1})
    rng = np.random.default_rng(1)
    keys = [Picture(rng.integers(0, 256, (h, w), np.uint8), rng.integers(0, 256, (h // 2, w // 2), np.uint8),
                    rng.integers(0, 256, (h // 2, w // 2), np.uint8)) for _ in kf]

    def body(digest: bytes | None) -> bytes:
        wr = StreamWriter(Profile.BASELINE, level)
        wr.add(UnitType.SEQUENCE_HEADER, make_sequence_header(w, h, n, kf))
        for i, (k, p) in enumerate(zip(kf, keys)):
            data = _png(p)
            if corrupt_last and i == len(kf) - 1:
                data = data[:40]
            wr.add(UnitType.KEYFRAME, KeyframeUnit(frame_index=k, codec_id=CodecId.PNG, codec_params=NoParams(),
                                                   keyframe_data=data))
        if digest is not None:
            wr.add(UnitType.FRAME_HASH, FrameHashUnit(hash_type=HashType.MD5_SPAN, first_frame=0, num_frames=n,
                                                      digest=[digest]))
        return wr.finish()

    if corrupt_last or wrong_digest:
        return body(bytes(16))
    return body(span_md5(decode_frames(body(None))))


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    d = tmp_path_factory.mktemp("long")
    out = {}
    for n in (300, 3000):
        out[n] = d / f"long{n}.cmvc"
        out[n].write_bytes(long_stream(n))
    return out


def test_decode_frames_equals_decode_on_the_conformance_streams():
    for name in ("blend_png_interp_multi", "coded_size_half", "vvc_keyframe_groups", "av1_hidden_frames", "texts_all_roles"):
        data = (STREAMS / f"{name}.cmvc").read_bytes()
        frames = cmvc.decode_frames(io.BytesIO(data), verify=True)
        assert frames.stream.sequence_header.frame_count > 0  # known before the first frame
        got = list(frames)
        assert got == decode(data).pictures
        assert frames.hash_checked == len(got)


def test_frames_come_out_before_a_later_keyframe_is_decoded():
    """The first segment leaves the decoder before the last keyframe is decoded: a corrupt last
    keyframe is E024 only after those frames (the old decoder decoded every keyframe first)."""
    data = long_stream(20, w=16, h=16, every=4, corrupt_last=True)
    frames = decode_frames(data)
    first = [next(frames) for _ in range(5)]
    assert len(first) == 5
    with pytest.raises(CmvcError) as e:
        list(frames)
    assert e.value.code == "E024" and frames.count == 17  # frames 0..16, up to keyframe 16


def test_streaming_verify_catches_a_span_mismatch_at_its_last_frame():
    frames = decode_frames(long_stream(12, w=8, h=8, every=5, wrong_digest=True), verify=True)
    for _ in range(11):
        next(frames)
    with pytest.raises(CmvcError) as e:
        next(frames)
    assert e.value.code == "E023" and "frames 0..11" in e.value.message


# ---------------------------------------------------------------- memory
# The peak RSS of the process's own memory (VmHWM): ru_maxrss would include the parent's RSS at the fork,
# which Linux carries across exec.
_PEAK = ("import sys\nfrom cmvc.tools.cli import main\nrc = main(sys.argv[1:])\n"
         "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
         "sys.stderr.write(f'\\nMAXRSS {hwm}\\n')\nsys.exit(rc)\n")


def _peak_kib(args: list[str]) -> int:
    p = subprocess.run([sys.executable, "-c", _PEAK, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env=ENV, timeout=300)
    err = p.stderr.decode()
    assert p.returncode == 0, err[-2000:]
    return int(err.rsplit("MAXRSS ", 1)[1].split()[0])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_decode_memory_does_not_grow_with_frame_count(streams):
    """Peak RSS of ``cmvc decode S -o - --verify`` (Y4M through the writer, MD5_SPAN accumulated): 3000
    frames of 128x96 (18 KiB each, 55 MB in all) against 300.  The decoder that held every picture
    grew by about 50 MB; the streaming one must stay within 12 MB."""
    small = _peak_kib(["decode", str(streams[300]), "-o", "-", "--verify"])
    large = _peak_kib(["decode", str(streams[3000]), "-o", "-", "--verify"])
    assert large - small < 12 * 1024, (small, large)


# ---------------------------------------------------------------- the command line
def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "cmvc.tools.cli", *map(str, args)], capture_output=True, env=ENV,
                          timeout=300, **kw)


def _md5_lines(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.strip()]


def test_stdout_piped_into_ffmpeg_gives_the_md5_of_every_frame(tmp_path):
    import imageio_ffmpeg

    s = STREAMS / "odd_17x11.cmvc"
    want = _md5_lines(_cli("decode", s, "--md5").stdout.decode())
    dec = subprocess.Popen([sys.executable, "-m", "cmvc.tools.cli", "decode", str(s), "-o", "-"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, env=ENV)
    ff = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", "-", "-f",
                         "framemd5", "-"], stdin=dec.stdout, capture_output=True, timeout=120)
    dec.stdout.close()
    assert dec.wait(60) == 0 and ff.returncode == 0, ff.stderr
    got = [line.rsplit(",", 1)[1].strip() for line in ff.stdout.decode().splitlines() if line and not line.startswith("#")]
    assert got == want and len(want) == 5


@pytest.mark.parametrize("name", ["frames", "frames.png-dir", "existing"])
def test_png_directory_output(tmp_path, name):
    from PIL import Image

    out = tmp_path / name
    if name == "existing":
        out.mkdir()
        (out / "00007.png").write_bytes(b"an earlier decode's frame")
    p = _cli("decode", STREAMS / "odd_17x11.cmvc", "-o", out)
    assert p.returncode == 0, p.stderr.decode()
    assert sorted(x.name for x in out.iterdir()) == [f"{i:05d}.png" for i in range(5)]
    assert Image.open(out / "00000.png").size == (17, 11)
    assert not (tmp_path / f"{name}.partial").exists()


def test_png_directory_with_other_files_or_a_file_is_refused(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("keep me")
    p = _cli("decode", STREAMS / "odd_17x11.cmvc", "-o", d)
    assert p.returncode == 2 and b"E114" in p.stderr and b"Traceback" not in p.stderr
    assert (d / "notes.txt").read_text() == "keep me"
    f = tmp_path / "file.png-dir"
    f.write_text("x")
    p = _cli("decode", STREAMS / "odd_17x11.cmvc", "-o", f)
    assert p.returncode == 2 and b"E114" in p.stderr


def test_mkv_is_matroska_and_unknown_extensions_are_refused(tmp_path):
    import av

    p = _cli("decode", STREAMS / "odd_17x11.cmvc", "-o", tmp_path / "o.mkv")
    assert p.returncode == 0, p.stderr.decode()
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert "matroska" in c.format.name
        assert sum(1 for _ in c.decode(video=0)) == 5
    assert _cli("decode", STREAMS / "odd_17x11.cmvc", "-o", tmp_path / "o.mp4").returncode == 0
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert "mp4" in c.format.name
    p = _cli("decode", STREAMS / "odd_17x11.cmvc", "-o", tmp_path / "o.avi")
    assert p.returncode == 2 and b"E114" in p.stderr and b"Traceback" not in p.stderr
    assert not any(tmp_path.glob("o.avi*"))


_KILLED = ("import os, signal, sys\nfrom cmvc.tools import video\nwrite = video.Y4mWriter.write\n"
           "def killed(self, pic):\n    write(self, pic)\n    self.f.flush()\n"
           "    if getattr(self, 'n', 0) == 9:\n        os.kill(os.getpid(), signal.SIGKILL)\n"
           "    self.n = getattr(self, 'n', 0) + 1\n"
           "video.Y4mWriter.write = killed\nfrom cmvc.tools.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def test_a_killed_decode_leaves_one_partial_file_that_the_next_run_removes(tmp_path, streams):
    """SIGKILL after the 10th frame (the process kills itself, so the moment is the same on any machine)."""
    out = tmp_path / "k.y4m"
    for _ in range(2):  # a second killed run reuses the name: still one partial file
        p = subprocess.run([sys.executable, "-c", _KILLED, "decode", str(streams[300]), "-o", str(out)],
                           capture_output=True, env=ENV, timeout=120)
        assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-1500:]
        assert sorted(x.name for x in tmp_path.iterdir()) == ["k.y4m.partial"]
        assert (tmp_path / "k.y4m.partial").read_bytes().count(b"FRAME\n") == 10
    p = _cli("decode", STREAMS / "odd_17x11.cmvc", "-o", out)
    assert p.returncode == 0
    assert sorted(x.name for x in tmp_path.iterdir()) == ["k.y4m"]
    assert out.read_bytes().count(b"FRAME\n") == 5


def test_an_error_part_way_leaves_no_output(tmp_path):
    s = tmp_path / "bad.cmvc"
    s.write_bytes(long_stream(20, w=16, h=16, every=4, corrupt_last=True))
    for name in ("o.y4m", "o.mkv", "dir"):
        p = _cli("decode", s, "-o", tmp_path / name)
        assert p.returncode == 1 and b"E024" in p.stderr and b"Traceback" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.cmvc"]


def test_blend_decode_does_not_import_torch(tmp_path):
    code = ("import sys\nfrom cmvc.tools.cli import main\n"
            f"assert main(['decode', {str(STREAMS / 'coded_size_half.cmvc')!r}, '--verify', '-o', {str(tmp_path / 'o.y4m')!r}]) == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=ENV, timeout=120)
    assert p.returncode == 0, p.stderr.decode()[-1500:]


# ---------------------------------------------------------------- devices
def test_unknown_device_is_a_usage_error():
    with pytest.raises(CmvcError) as e:
        decode_frames((STREAMS / "blend_png_basic.cmvc").read_bytes(), device="tpu9")
    assert e.value.code == "E113"
    p = _cli("decode", STREAMS / "blend_png_basic.cmvc", "--device", "tpu9")
    assert p.returncode == 2 and b"E113" in p.stderr and b"Traceback" not in p.stderr


def test_cuda_without_a_device(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CmvcError) as e:
        resolve_device("cuda")
    assert e.value.code == "E210"
    with pytest.raises(CmvcError) as e:
        resolve_device("cuda:1")
    assert e.value.code == "E210"
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    for bad in ("tpu9", "cuda:x", "CPU"):
        with pytest.raises(CmvcError) as e:
            resolve_device(bad)
        assert e.value.code == "E113"


def test_rife_on_an_explicit_device_is_the_cpu_output():
    """The device path (tensors and network moved to the device, results brought back) on ``cpu``: the
    same frames as the default, within the network's IEEE float32 guard."""
    pytest.importorskip("torch")
    data = (STREAMS / "rife_main.cmvc").read_bytes()
    assert list(decode_frames(data, device="auto")) == decode(data).pictures


def test_tolerance_map_matches_the_frame_by_frame_rule():
    """ToleranceMap's interval queries (memory per keyframe) against §7.9's list evaluated frame by frame:
    inner frames of RIFE, HYPERPRIOR keyframes and the inner frames of the segments either side of one."""
    import random
    from types import SimpleNamespace as NS

    from cmvc import decode as D
    from cmvc.registry import Mode, ReconProfile

    rnd = random.Random(3)
    for _ in range(200):
        n = rnd.randint(2, 30)
        kf = sorted({0, n - 1, *rnd.sample(range(n), rnd.randint(0, min(6, n)))})
        codecs = {k: rnd.choice([CodecId.PNG, CodecId.HYPERPRIOR]) for k in kf}
        recon = rnd.choice([ReconProfile.BLEND, ReconProfile.RIFE])
        want = [recon == ReconProfile.RIFE and t not in kf for t in range(n)]
        for i, k in enumerate(kf):
            if codecs[k] == CodecId.HYPERPRIOR:
                lo = kf[i - 1] + 1 if i else k
                hi = kf[i + 1] - 1 if i + 1 < len(kf) else k
                for t in range(lo, hi + 1):
                    want[t] = True
        refs = [NS(body=NS(frame_index=k, codec_id=codecs[k])) for k in kf]
        sh = NS(mode=Mode.IT2V, recon_profile=recon, keyframe_index=kf, frame_count=n)
        orig = D.keyframe_refs
        D.keyframe_refs = lambda ps: refs
        try:
            tm = D.ToleranceMap(NS(sequence_header=sh))
        finally:
            D.keyframe_refs = orig
        for a in range(n):
            for c in range(n - a + 1):
                assert tm.any(a, c) == any(want[a:a + c]), (kf, codecs, a, c)


def test_a_tiny_stream_of_millions_of_frames_decodes_in_constant_memory():
    """Issue 29's 224-byte level-4.0 stream: 4 194 304 frames of 1x1 between two PNG keyframes, default
    weights.  The frames come out at once and Python's allocations stay small: nothing is kept per frame,
    not even the predicted weights (the list-based decoder allocated 32 MB for them before frame 1)."""
    import tracemalloc

    n = 4194304
    wr = StreamWriter(Profile.BASELINE, 40)
    wr.add(UnitType.SEQUENCE_HEADER, make_sequence_header(1, 1, n, [0, n - 1]))
    for k in (0, n - 1):
        wr.add(UnitType.KEYFRAME, KeyframeUnit(frame_index=k, codec_id=CodecId.PNG, codec_params=NoParams(),
                                               keyframe_data=_png(Picture.blank(1, 1, 10 + k % 200))))
    data = wr.finish()
    assert len(data) == 224
    tracemalloc.start()
    try:
        frames = decode_frames(data)
        for i, p in zip(range(2000), frames):
            assert p.y.shape == (1, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, peak
