"""Issue 31: every CLI misuse is answered with a stable error code, a one-line message and exit 2
(caller errors), before any long work; never a traceback.  Table-driven; the encoder and, where the
check needs no frames, the video reader are replaced by tripwires, so nothing is coded."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from conftest import make_testsrc

    return make_testsrc(tmp_path_factory.mktemp("cli") / "clip.y4m", w=32, h=24, frames=12)


class LongWork(Exception):
    pass


def _tripwire(*a, **k):
    raise LongWork("long work started before the arguments were checked")


# (name, argv with {clip} {tmp}, expected code, reading the input allowed)
ENCODE_CASES = [
    ("output_unwritable", ["-o", "/proc/self/x.cmvc"], "E104", False),
    ("output_is_directory", ["-o", "{tmp}"], "E104", False),
    ("kbps_zero", ["--kbps", "0"], "E101", False),
    ("kbps_nan", ["--kbps", "nan"], "E101", False),
    ("bpp_negative", ["--bpp", "-1", "--codec", "av1"], "E101", False),
    ("av1_quality_1000", ["--codec", "av1", "--quality", "1000"], "E101", False),
    ("av1_quality_negative", ["--codec", "av1", "--quality", "-5"], "E101", False),
    ("webp_quality_101", ["--codec", "webp", "--quality", "101"], "E101", False),
    ("default_codec_quality_64", ["--quality", "64"], "E101", False),
    ("png_quality", ["--codec", "png", "--quality", "3"], "E101", False),
    ("w_bits_99", ["--w-bits", "99"], "E101", False),
    ("w_bits_0", ["--w-bits", "0"], "E101", False),
    ("keyframes_0", ["--keyframes", "0"], "E101", False),
    ("keyframes_negative", ["--keyframes", "-3"], "E101", False),
    ("keyframes_past_frames", ["--keyframes", "100"], "E101", True),
    ("interval_0", ["--interval", "0"], "E101", False),
    ("interval_negative", ["--interval", "-2"], "E101", False),
    ("lam_negative", ["--lam", "-1"], "E101", False),
    ("lam_nan", ["--lam", "nan"], "E101", False),
    ("device_unknown", ["--device", "tpu9"], "E113", False),
    ("downscale_0", ["--downscale", "0"], "E101", False),
    ("frames_0", ["--frames", "0"], "E101", False),
    ("caption_empty", ["--caption", ""], "E101", False),
    ("seed_negative", ["--seed", "-1"], "E101", False),
    ("seed_too_large", ["--seed", str(1 << 64)], "E101", False),
    ("hyperprior_without_checkpoint", ["--codec", "hyperprior"], "E101", False),
    ("missing_checkpoint", ["--codec", "hyperprior", "--hyperprior-checkpoint", "{tmp}/none.pth"], "E102", False),
    ("caption_start_after_end", ["--captions", "{tmp}/caps_reversed.json"], "E101", True),
    ("caption_past_last_frame", ["--captions", "{tmp}/caps_late.json"], "E101", True),
    # rate control on a coded size below 16 samples a side (the clip is 32x24): no plan, no traceback
    ("rc_downscale_too_small", ["--kbps", "5", "--downscale", "2"], "E101", True),
    ("rc_downscale_too_small_search", ["--kbps", "5", "--downscale", "4", "--rc-preset", "fast"], "E101", True),
]


@pytest.mark.parametrize("name,argv,code,reads", ENCODE_CASES, ids=[c[0] for c in ENCODE_CASES])
def test_encode_misuse(name, argv, code, reads, clip, tmp_path, monkeypatch, capsys):
    import cmvc.encoder.pipeline
    import cmvc.tools.video
    from cmvc.tools.cli import main

    (tmp_path / "caps_reversed.json").write_text('[{"role": "motion_caption", "start": 5, "end": 3, "text": "x"}]')
    (tmp_path / "caps_late.json").write_text('[{"role": "motion_caption", "start": 2, "end": 12, "text": "x"}]')
    monkeypatch.setattr(cmvc.encoder.pipeline, "encode", _tripwire)
    if not reads:
        monkeypatch.setattr(cmvc.tools.video, "read_video", _tripwire)
    argv = [a.format(clip=clip, tmp=tmp_path) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "out.cmvc")]
    rc = main(["encode", str(clip), *argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"cmvc encode: {code}" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.cmvc").exists()


def test_encode_from_a_file_that_is_not_video(tmp_path, capsys):
    from cmvc.tools.cli import main

    f = tmp_path / "notes.mp4"
    f.write_text("not a video\n")
    assert main(["encode", str(f), "-o", str(tmp_path / "o.cmvc")]) == 2
    err = capsys.readouterr().err
    assert "E102" in err and "not a video file" in err and "Errno" not in err, err


def test_encode_missing_input_before_work(tmp_path, capsys, monkeypatch):
    import cmvc.tools.video
    from cmvc.tools.cli import main

    monkeypatch.setattr(cmvc.tools.video, "read_video", _tripwire)
    assert main(["encode", str(tmp_path / "none.y4m"), "-o", str(tmp_path / "o.cmvc")]) == 2
    assert "E102" in capsys.readouterr().err


def test_encode_to_stdout(clip, tmp_path, monkeypatch, capsysbinary):
    """`encode -o -` writes the stream to standard output (and no file named '-'), the report to stderr."""
    from cmvc.tools.cli import main
    from cmvc.validate import validate

    monkeypatch.chdir(tmp_path)
    assert main(["encode", str(clip), "-o", "-", "--frames", "5", "--interval", "4", "--codec", "png", "--profile",
                 "blend", "--hash", "none"]) == 0
    cap = capsysbinary.readouterr()
    assert cap.out[:4] == b"CMVC" and not (tmp_path / "-").exists()
    assert validate(cap.out).valid and b"bytes" in cap.err


def test_inspect_of_a_non_stream_prints_the_error_alone(tmp_path, capsys):
    from PIL import Image

    from cmvc.tools.cli import main

    f = tmp_path / "pic.png"
    Image.new("L", (4, 4)).save(f)
    assert main(["inspect", str(f)]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "E001" in out.err and len(out.err.strip().splitlines()) == 1, out


@pytest.mark.parametrize("argv,code,rc", [
    (["validate", "{tmp}/none.cmvc"], "E102", 2),
    (["inspect", "{tmp}/none.cmvc"], "E102", 2),
    (["decode", "{tmp}/none.cmvc"], "E102", 2),
    (["decode", str(ROOT / "conformance" / "invalid" / "E006_crc.cmvc")], "E006", 1),
    (["decode", str(ROOT / "conformance" / "streams" / "blend_png_basic.cmvc"), "--device", "tpu9"], "E113", 2),
])
def test_other_commands(argv, code, rc, tmp_path, capsys):
    from cmvc.tools.cli import main

    got = main([a.format(tmp=tmp_path) for a in argv])
    cap = capsys.readouterr()
    assert got == rc and code in cap.out + cap.err and "Traceback" not in cap.err


def test_no_traceback_from_a_subprocess(tmp_path):
    """The same path as a user's shell: one line on stderr, exit 2."""
    p = subprocess.run([sys.executable, "-m", "cmvc.tools.cli", "encode", str(tmp_path / "x.y4m"), "-o",
                        "/proc/self/x.cmvc"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.startswith("cmvc encode: E"), p.stderr


BENCH_CASES = [
    ("frames_negative", ["bench", "{clip}", "--frames", "-1"], "E101"),
    ("workers_negative", ["bench", "{clip}", "--workers", "-1"], "E101"),
    ("ablation_frames_0", ["bench", "{clip}", "--all", "--ablation-frames", "0"], "E101"),
    ("peer_without_q", ["bench", "{clip}", "--peer", "vvenc"], "E101"),
    ("peer_q_not_a_number", ["bench", "{clip}", "--peer", "vvenc:abc"], "E101"),
    ("peer_unknown", ["bench", "{clip}", "--peer", "mpeg2:5"], "E101"),
    ("peer_q_out_of_range", ["bench", "{clip}", "--peer", "x264:60"], "E101"),
    ("point_not_json", ["bench", "{clip}", "--cmvc-point", "{bad"], "E101"),
    ("point_not_an_object", ["bench", "{clip}", "--cmvc-point", "[1, 2]"], "E101"),
    ("point_unknown_setting", ["bench", "{clip}", "--cmvc-point", '{"nope": 3}'], "E101"),
    ("point_rate_negative", ["bench", "{clip}", "--cmvc-point", '{"rate": -1}'], "E101"),
    ("point_codec_unknown", ["bench", "{clip}", "--cmvc-point", '{"codec": "xyz"}'], "E101"),
    ("manifest_without_paths", ["bench", "{tmp}/m.json"], "E102"),
    ("manifest_not_json", ["bench", "{tmp}/bad.json"], "E102"),
    ("demo_frames_0", ["demo", "--frames", "0"], "E101"),
]


@pytest.mark.parametrize("name,argv,code", BENCH_CASES, ids=[c[0] for c in BENCH_CASES])
def test_bench_and_demo_misuse(name, argv, code, clip, tmp_path, monkeypatch, capsys):
    """cmvc bench and cmvc demo: a caller error before any job runs or any frame is read."""
    import cmvc.tools.bench
    import cmvc.tools.video
    from cmvc.tools.cli import main

    (tmp_path / "m.json").write_text('{"clips": [{"name": "x"}]}')
    (tmp_path / "bad.json").write_text("{bad")
    monkeypatch.setattr(cmvc.tools.bench, "execute_cached", _tripwire)
    monkeypatch.setattr(cmvc.tools.video, "read_video", _tripwire)
    rc = main([a.replace("{clip}", str(clip)).replace("{tmp}", str(tmp_path)) for a in argv] + ["--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"cmvc {argv[0]}: {code}" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


CONFORMANCE_CASES = [
    ("only_not_a_regex", ["--only", "("], "E101"),
    ("no_suite_there", ["{tmp}"], "E102"),
    ("known_failures_missing", ["--known-failures", "{tmp}/none.txt"], "E102"),
    ("decoder_without_out", ["--decoder", "mydec {in}"], "E101"),
    ("decoder_unbalanced_quote", ["--decoder", "mydec '{in} {out}"], "E101"),
]


@pytest.mark.parametrize("name,argv,code", CONFORMANCE_CASES, ids=[c[0] for c in CONFORMANCE_CASES])
def test_conformance_misuse(name, argv, code, tmp_path, monkeypatch, capsys):
    """cmvc conformance: a caller error before any stream is decoded."""
    import cmvc.tools.conformance
    from cmvc.tools.cli import main

    monkeypatch.setattr(cmvc.tools.conformance, "run", _tripwire)
    assert main(["conformance", *(a.replace("{tmp}", str(tmp_path)) for a in argv)]) == 2
    err = capsys.readouterr().err
    assert f"cmvc conformance: {code}" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
