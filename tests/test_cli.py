"""``cmvc validate`` / ``cmvc inspect`` / ``cmvc decode`` behaviour: exit codes, JSON shape, stdin, reports."""
import json
import subprocess
import sys

from cmvc.tools.cli import main
from streams import sample_stream


def run(args, stdin=None):
    p = subprocess.run([sys.executable, "-m", "cmvc.tools.cli", *args], input=stdin, capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_validate_json(tmp_path, capsys):
    good = tmp_path / "good.cmvc"
    bad = tmp_path / "bad.cmvc"
    good.write_bytes(sample_stream())
    bad.write_bytes(sample_stream()[:50])
    assert main(["validate", str(good)]) == 0
    capsys.readouterr()
    assert main(["validate", "--json", str(good), str(bad)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[0] == {"file": str(good), "valid": True, "errors": []}
    assert out[1]["valid"] is False
    e = out[1]["errors"][0]
    assert set(e) >= {"code", "offset", "path", "message"} and e["code"] == "E002" and e["offset"] == 50


def test_validate_stdin_and_usage():
    rc, out, _ = run(["validate", "-"], stdin=sample_stream())
    assert rc == 0 and "valid" in out
    rc, _, _ = run(["validate", "/nonexistent.cmvc"])
    assert rc == 2
    rc, _, err = run(["validate"])
    assert rc == 2 and "usage" in err


def test_inspect(tmp_path, capsys):
    p = tmp_path / "s.cmvc"
    p.write_bytes(sample_stream())
    assert main(["inspect", "--json", str(p)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["totals"]["sum"] == out["bits"] == 8 * p.stat().st_size
    assert [u["type"] for u in out["units"]][:3] == ["SEQUENCE_HEADER", "TEXT", "KEYFRAME"]
    assert main(["inspect", str(p)]) == 0
    text = capsys.readouterr().out
    assert "R_k" in text and "UNKNOWN_112" in text


def test_decode_reports_frames_and_speed(tmp_path, capsys, testsrc_pics):
    from cmvc.encoder.pipeline import EncoderConfig, encode

    p = tmp_path / "s.cmvc"
    p.write_bytes(encode(testsrc_pics[0][:6], EncoderConfig(profile="blend", codec="png", fit="none", interval=3)).data)
    assert main(["decode", str(p), "-o", str(tmp_path / "o.y4m"), "--verify", "--md5"]) == 0
    cap = capsys.readouterr()
    n = len(cap.out.splitlines())  # --md5: one line per frame
    assert n >= 2 and (tmp_path / "o.y4m").exists()
    assert f"decoded {n} frames in " in cap.err and "frames/s" in cap.err and f"verify: {n} frame hashes match" in cap.err


def test_inspect_into_a_closed_pipe_ends_quietly(tmp_path):
    """`cmvc inspect S | head -1`: the reader has left; no traceback, exit status 141 (SIGPIPE)."""
    import os

    p = tmp_path / "s.cmvc"
    p.write_bytes(sample_stream())
    r, w = os.pipe()
    os.close(r)  # nobody reads: every write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "cmvc.tools.cli", "inspect", str(p)], stdout=w,
                              stderr=subprocess.PIPE)
    finally:
        os.close(w)
    err = proc.stderr.decode()
    assert proc.returncode == 141 and "Traceback" not in err, (proc.returncode, err)


def test_encode_keyframe_group_option(tmp_path, capsys, testsrc_y4m):
    """`cmvc encode` writes keyframe groups (format 1.2) unless --no-keyframe-group; inspect names them."""
    from cmvc.parse import parse
    from cmvc.registry import UnitType

    kinds = {}
    for extra in ([], ["--no-keyframe-group"]):
        out = tmp_path / f"s{len(extra)}.cmvc"
        assert main(["encode", str(testsrc_y4m), "-o", str(out), "--frames", "7", "--interval", "3", "--codec", "png",
                     "--profile", "blend", "--fit", "none"] + extra) == 0
        ps = parse(out.read_bytes())
        kinds[bool(extra)] = ([u.unit_type for u in ps.units], ps.header.minor_version)
    assert kinds[False][0].count(UnitType.KEYFRAME_GROUP) == 1 and kinds[False][1] == 2
    assert kinds[True][0].count(UnitType.KEYFRAME) == 3 and UnitType.KEYFRAME_GROUP not in kinds[True][0]
    assert kinds[True][1] == 1
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "s0.cmvc")]) == 0
    out = capsys.readouterr().out
    assert "KEYFRAME_GROUP" in out and "CMVC 1.2" in out


def test_demo_on_a_small_clip(tmp_path, capsys, monkeypatch):
    """``cmvc demo --input``: the VVC QP 63 reference, rate control (here the fast search: VVC keyframes
    only, vvenc preset medium; on this 12-frame 96x64 clip nothing the model's vvenc preset slow
    codes fits 0.5x VVC's bits), the decoded video, side-by-side PNG and table; the CMVC
    stream decodes with its frame hashes verified and stays within the target."""
    from conftest import make_testsrc

    import cmvc.encoder.rate_control as rc
    from cmvc.tools.video import read_video

    seen = []
    real = rc.plan
    monkeypatch.setattr(rc, "plan", lambda *a, **k: seen.append((k["codecs"], a[1].vvc_preset)) or real(*a, **k))
    src = make_testsrc(tmp_path / "s.y4m", 96, 64, 12)
    out = tmp_path / "demo"
    assert main(["demo", "--input", str(src), "--frames", "12", "--shares", "0.5", "--out", str(out),
                 "--rc-preset", "fast"]) == 0
    table = capsys.readouterr().out
    assert "VVC (vvenc QP 63)" in table and "CMVC rife @ 0.5x VVC bits" in table and "frame hashes verified: 12 of 12 frames" in table
    assert seen == [(("vvc",), "medium")]
    rows = json.loads((out / "demo_results.json").read_text())
    assert rows[1]["bits"] <= 0.5 * rows[0]["bits"] and rows[1]["keyframe_codec"] == "vvc"
    assert rows[1]["bits"] == 8 * (out / "demo.cmvc").stat().st_size
    dec, _ = read_video(out / "demo_decoded.y4m")
    assert len(dec) == 12 and (out / "demo_side_by_side.png").stat().st_size > 0
