"""Generate the CMVC conformance suite reproducibly.

    python conformance/generate.py [--out conformance] [--refresh-assets]

Inputs are deterministic: synthetic pictures from integer formulas, and coded keyframe payloads of
codecs whose encoders may differ between machines (AV1, VVC, AVIF, WebP) stored once under assets/ and
reused, so that regenerating gives the same bytes everywhere.  Writes streams/*.cmvc (valid),
invalid/*.cmvc, reference/*.yuv (reference output of tolerance-defined streams) and manifest.json.
A test regenerates the suite into a temporary directory and fails on any difference.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from cmvc.decode import decode, stream_tolerance
from cmvc.encoder.pipeline import keyframe_units
from cmvc.keyframes import Colour, get_codec
from cmvc.picture import Picture, span_md5
from cmvc.registry import (CodecId, HashType, ModelRole, ParamCoding, Profile, ReconProfile, TextMethod, TextRole,
                           UnitType)
from cmvc.syntax import (Av1Params, FrameHashUnit, HyperpriorParams, ImageParams, InterpFlags, InterpParamsUnit,
                         KeyframeUnit, MetadataUnit, ModelEntry, NoParams, model_entry, PaddingUnit, TextUnit, VvcParams)
from cmvc.syntax.interp import encode_segments, encode_values
from cmvc.write import StreamWriter, build_file_header, build_payload, build_unit, make_sequence_header
from cmvc.zoo import RIFE_V4

HERE = Path(__file__).resolve().parent


def picture(w: int, h: int, t: int, seed: int = 0) -> Picture:
    """Frame t of a deterministic synthetic sequence: gradients and a moving square."""
    yy, xx = np.mgrid[0:h, 0:w]
    y = (16 + ((xx * 7 + yy * 3 + t * 5 + seed * 11) % 200)).astype(np.int32)
    s = max(2, min(w, h) // 3)
    x0, y0 = (t * 3 + seed) % max(1, w - s + 1), (t * 2 + seed) % max(1, h - s + 1)
    y[y0:y0 + s, x0:x0 + s] = 220 - (t * 9) % 60
    cw, ch = (w + 1) // 2, (h + 1) // 2
    cy, cx = np.mgrid[0:ch, 0:cw]
    u = 128 + ((cx * 5 + t * 3) % 40) - 20
    v = 128 + ((cy * 4 - t * 2) % 40) - 20
    return Picture(y.astype(np.uint8), u.astype(np.uint8), v.astype(np.uint8))


def sequence(w, h, n, seed=0):
    return [picture(w, h, t, seed) for t in range(n)]


def two_shots(w, h, n, cut):
    """Frames 0..cut-1 of :func:`sequence`, then a second shot from frame *cut* on: darker luma and
    other chroma, so that the colour histograms of the shots are disjoint (a shot cut)."""
    out = []
    for t in range(n):
        p = picture(w, h, t)
        out.append(p if t < cut else Picture((p.y // 4).astype(np.uint8), (p.u + 40).astype(np.uint8),
                                             (p.v - 40).astype(np.uint8)))
    return out


class Assets:
    """Keyframe payloads of machine-dependent encoders, produced once and committed."""

    def __init__(self, root: Path, refresh: bool):
        self.root = root / "assets"
        self.refresh = refresh

    def coded(self, name: str, codec_id: CodecId, pics: list[Picture], quality: int, runs: list[int] | None = None):
        """*runs*: numbers of consecutive pictures coded as sequences of their own, joined as
        cmvc.encoder.chunking joins chunks (AV1 temporal_unit_index renumbered; AV1 only)."""
        path = self.root / f"{name}.json"
        if path.exists() and not self.refresh:
            items = json.loads(path.read_text())
        elif runs:
            coded, first = [], 0
            for n in runs:
                coded += [(dataclasses.replace(p, temporal_unit_index=len(coded) + i), d) for i, (p, d) in
                          enumerate(get_codec(codec_id).encode(pics[first: first + n], quality, Colour()))]
                first += n
            items = [{"params": dataclasses.asdict(p), "data": d.hex()} for p, d in coded]
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(items, indent=0))
        else:
            coded = get_codec(codec_id).encode(pics, quality, Colour())
            items = [{"params": dataclasses.asdict(p), "data": d.hex()} for p, d in coded]
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(items, indent=0))
        cls = {CodecId.AV1: Av1Params, CodecId.VVC: VvcParams, CodecId.AVIF: ImageParams, CodecId.WEBP: ImageParams,
               CodecId.PNG: NoParams}[codec_id]
        return [(cls(**it["params"]), bytes.fromhex(it["data"])) for it in items]


@dataclasses.dataclass
class Entry:
    name: str
    purpose: str
    valid: bool
    data: bytes
    features: list[str]
    stage: str = "validate"  # invalid streams: validate or decode
    error: str | None = None
    offset: int | None = None
    decodable: bool = True  # valid streams this reference decoder reconstructs (others: validate only)
    tolerance: bool = False
    extra: dict | None = None  # further manifest fields (e.g. the captions of a stream and its text model)


def it2v(name, purpose, pics, kf, *, codec=CodecId.PNG, recon=ReconProfile.BLEND, profile=Profile.BASELINE, level=10,
         assets=None, quality=30, interp=None, texts=(), hash_type=HashType.MD5, extra_units=(), coded_size=None,
         models=(), recon_model=255, recon_param=0, features=(), fps=(25, 1), mc=1, full_range=False, interp_multi=None, crc=True,
         implied=False, asset=None, groups=None, runs=None, hash_spans=None):
    """Build an IT2V stream: keyframes coded with *codec*; interp: {segment: (w_bits, coding, q_i, q_l)};
    interp_multi: (first segment, w_bits, coding, [(q_i, q_l) per segment]), one unit after the sequence header;
    groups: numbers of consecutive keyframes per unit, a keyframe_group_unit (§4.9) for each number above 1."""
    w, h = pics[0].width, pics[0].height
    src = pics
    if coded_size:
        from cmvc.resample import downsample
        src = [downsample(p, *coded_size) for p in pics]
    kpics = [src[i] for i in kf]
    if codec in (CodecId.AV1, CodecId.VVC, CodecId.AVIF, CodecId.WEBP):
        coded = assets.coded(asset or name, codec, kpics, quality, runs)
    if codec == CodecId.AV1:  # the temporal delimiters explicit, or implied (§7.2.4)
        from cmvc.keyframes.av1 import TEMPORAL_DELIMITER, with_temporal_delimiter
        coded = [(p, with_temporal_delimiter(d)[len(TEMPORAL_DELIMITER) if implied else 0:]) for p, d in coded]
    elif codec == CodecId.VVC:  # the first start codes explicit, or implied (§7.2.5)
        from cmvc.keyframes.vvc import with_start_code, without_start_code
        coded = [(p, without_start_code(d) if implied else with_start_code(d)) for p, d in coded]
    else:
        coded = get_codec(codec).encode(kpics, quality, Colour())
    sh = make_sequence_header(w, h, len(pics), kf, fps=fps, recon_profile=recon, recon_model=recon_model,
                              recon_param=recon_param, models=list(models), coded_size=coded_size,
                              matrix_coefficients=mc, full_range=full_range, rng_seed=12345)
    wr = StreamWriter(profile, level, crc=crc)
    wr.add(UnitType.SEQUENCE_HEADER, sh)
    for t in texts:
        wr.add(UnitType.TEXT, t)
    if interp_multi:
        s0, b, coding, values = interp_multi
        counts = [kf[s + 1] - kf[s] - 1 for s in range(s0, s0 + len(values))]
        wr.add(UnitType.INTERP_PARAMS, InterpParamsUnit(
            segment_index=s0, w_bits=b, flags=InterpFlags(has_w_i=values[0][0] is not None, has_w_l=values[0][1] is not None,
                                                          multi_segment_flag=True, reserved_zero_5bits=0),
            num_extra_segments=len(values) - 1, param_coding=coding, param_data=encode_segments(counts, b, values, coding)))
    if groups:
        kunits = [KeyframeUnit(frame_index=kf[s], codec_id=codec, codec_params=p, keyframe_data=d)
                  for s, (p, d) in enumerate(coded)]
        assert sum(groups) == len(kunits) and not interp
        first = 0
        for n in groups:
            run = kunits[first: first + n]
            wr.add(*(keyframe_units(run, first=first)[0] if n > 1 else (UnitType.KEYFRAME, run[0])))
            first += n
        coded = []
    for s, (p, d) in enumerate(coded):
        wr.add(UnitType.KEYFRAME, KeyframeUnit(frame_index=kf[s], codec_id=codec, codec_params=p, keyframe_data=d))
        if s > 0 and interp and (s - 1) in interp:
            b, coding, qi, ql = interp[s - 1]
            n = kf[s] - kf[s - 1] - 1
            wr.add(UnitType.INTERP_PARAMS, InterpParamsUnit(
                segment_index=s - 1, w_bits=b, flags=InterpFlags(has_w_i=qi is not None, has_w_l=ql is not None,
                                                                 multi_segment_flag=False, reserved_zero_5bits=0),
                param_coding=coding, param_data=encode_values(n, b, qi, ql, coding)))
    for u in extra_units:
        if isinstance(u, bytes):
            wr.add_raw(u)
        else:
            wr.add(*u)
    body = wr.finish()
    if not hash_type is None and recon in (ReconProfile.BLEND, ReconProfile.RIFE):
        dec = decode(body)
        eos = 7 if crc else 3
        wr2_parts = body[:-eos]  # strip END_OF_STREAM and append the hash, then EOS again
        hus = [FrameHashUnit(hash_type=HashType.MD5, first_frame=0, num_frames=len(pics), digest=[p.md5() for p in dec.pictures])
               if hash_type == HashType.MD5 else
               FrameHashUnit(hash_type=HashType.MD5_SPAN, first_frame=0, num_frames=len(pics), digest=[span_md5(dec.pictures)])]
        if hash_spans:  # one MD5_SPAN unit per (first frame, frames)
            hus = [FrameHashUnit(hash_type=HashType.MD5_SPAN, first_frame=a, num_frames=n,
                                 digest=[span_md5(dec.pictures[a: a + n])]) for a, n in hash_spans]
        from cmvc.write import build_payload
        body = wr2_parts + b"".join(build_unit(UnitType.FRAME_HASH, build_payload(UnitType.FRAME_HASH, hu), crc=crc)
                                    for hu in hus) + body[-eos:]
    return Entry(name, purpose, True, body, list(features), tolerance=recon == ReconProfile.RIFE)


def text_unit(s: str, role=TextRole.MOTION_CAPTION, start=0, end=0) -> TextUnit:
    b = s.encode()
    return TextUnit(role=role, frame_start=start, frame_end=end, coding_method=TextMethod.UTF8, num_tokens=len(b),
                    text_data=b)


def t1_unit(s: str, role=TextRole.MOTION_CAPTION, start=0, end=0) -> TextUnit:
    from cmvc.text import encode_text_unit

    n, d = encode_text_unit(TextMethod.CMVC_T1, s)
    return TextUnit(role=role, frame_start=start, frame_end=end, coding_method=TextMethod.CMVC_T1, num_tokens=n,
                    text_data=d)


def b1_unit(s: str, role=TextRole.MOTION_CAPTION, start=0, end=0) -> TextUnit:
    from cmvc.text import encode_text_unit

    n, d = encode_text_unit(TextMethod.CMVC_B1, s)
    return TextUnit(role=role, frame_start=start, frame_end=end, coding_method=TextMethod.CMVC_B1, num_tokens=n,
                    text_data=d)


def t2_unit(s: str, role=TextRole.MOTION_CAPTION, start=0, end=0) -> TextUnit:
    from cmvc.text import encode_text_unit

    n, d = encode_text_unit(TextMethod.CMVC_T2, s)
    return TextUnit(role=role, frame_start=start, frame_end=end, coding_method=TextMethod.CMVC_T2, num_tokens=n,
                    text_data=d)


L1_MODEL = "assets/l1-tiny.cmlm"  # the text model of the CMVC_L1 streams (§8.12.8), copied from cmvc/data


def l1_entry() -> ModelEntry:
    from cmvc.text.l1 import L1_TINY_SHA256

    return model_entry(ModelRole.TEXT_MODEL, "l1-tiny", bytes.fromhex(L1_TINY_SHA256))


def l1_units(captions: list[tuple[str, TextRole, int, int]]) -> list[TextUnit]:
    """CMVC_L1 text units of the captions with the tiny model, coded in one lockstep batch (§8.12.7)."""
    from cmvc.text.l1 import L1_TINY_SHA256, encode_texts, load_model

    coded = encode_texts(load_model("l1-tiny", L1_TINY_SHA256), [c[0] for c in captions])
    return [TextUnit(role=r, frame_start=a, frame_end=b, coding_method=TextMethod.CMVC_L1, num_tokens=n, text_data=d)
            for (s, r, a, b), (n, d) in zip(captions, coded)]


L1_CAPTIONS = [("A grey square slides to the right.", TextRole.GLOBAL, 0, 7),
               ("the square", TextRole.KEYFRAME_CAPTION, 0, 0),
               ("Ein Mann fährt — ü and é", TextRole.MOTION_CAPTION, 0, 3),
               ("漢字 😀", TextRole.MOTION_CAPTION, 4, 7),
               ("", TextRole.MOTION_CAPTION, 7, 7)]


def sized_unit(s: str, role=TextRole.MOTION_CAPTION, start=0, end=0) -> TextUnit:
    return TextUnit(role=role, frame_start=start, frame_end=end, coding_method=TextMethod.UTF8_SIZED, num_tokens=0,
                    text_data=s.encode())


def valid_entries(assets: Assets) -> list[Entry]:
    E = []
    p8 = sequence(32, 24, 8)
    E.append(it2v("blend_png_basic", "BLEND with PNG keyframes and default weights", p8, [0, 3, 7],
                  features=["blend", "png", "default-weights"]))
    E.append(it2v("blend_png_interp_eg", "Exp-Golomb weights, w_bits 4, values at 0 and Top", p8, [0, 4, 7],
                  interp={0: (4, ParamCoding.EXP_GOLOMB, [16, 9, 0], None), 1: (4, ParamCoding.EXP_GOLOMB, [11, 5], None)},
                  features=["interp", "exp-golomb"]))
    E.append(it2v("blend_png_interp_fixed", "fixed-length weights with w_bits 1 and 12; w_l carried", p8, [0, 4, 7],
                  interp={0: (1, ParamCoding.FIXED, [2, 1, 0], [0, 1, 2]), 1: (12, ParamCoding.FIXED, [4096, 0], None)},
                  features=["interp", "fixed", "w_bits-min", "w_bits-max", "w_l"]))
    E.append(it2v("blend_png_interp_multi", "one unit for three segments (the middle one empty), before the "
                  "keyframes; w_l carried; a fourth segment by its own unit",
                  sequence(32, 24, 10), [0, 3, 4, 7, 9],
                  interp_multi=(0, 3, ParamCoding.EXP_GOLOMB, [([8, 1], [0, 8]), ([], []), ([6, 3], [2, 7])]),
                  interp={3: (4, ParamCoding.FIXED, [5], None)}, features=["interp", "multi-segment", "w_l"]))
    E.append(it2v("no_unit_crcs", "units without unit_crc (no_crc_flag), but for one metadata unit", p8, [0, 4, 7],
                  interp={0: (4, ParamCoding.EXP_GOLOMB, [16, 9, 0], None)}, crc=False,
                  extra_units=[build_unit(UnitType.METADATA, build_payload(UnitType.METADATA, MetadataUnit(
                      key="crc", value="this unit has one")))],
                  features=["no-crc", "mixed-crc"]))
    E.append(it2v("min_size_1x1", "1x1 pictures, 2 frames", sequence(1, 1, 2), [0, 1], features=["min-size", "2-frames"]))
    E.append(it2v("odd_17x11", "odd width and height", sequence(17, 11, 5), [0, 2, 4], features=["odd-size"]))
    E.append(it2v("all_keyframes", "every frame a keyframe (empty segments)", sequence(8, 8, 4), [0, 1, 2, 3],
                  features=["all-keyframes"]))
    flat = [Picture.blank(1024, 396, 90 + 20 * t) for t in range(2)]
    E.append(it2v("max_size_level10", "largest picture of level 1.0 (1024x396)", flat, [0, 1], features=["max-size"]))
    E.append(it2v("level20_fullrange_bt601", "level 2.0, full range, BT.601 matrix, 30000/1001 fps", p8, [0, 7],
                  level=20, full_range=True, mc=6, fps=(30000, 1001), features=["level20", "full-range"]))
    E.append(it2v("level30", "level 3.0", sequence(8, 8, 3), [0, 2], level=30, features=["level30"]))
    E.append(it2v("level40", "level 4.0", sequence(8, 8, 3), [0, 2], level=40, features=["level40"]))
    E.append(it2v("coded_size_half", "coded at half size, §7.8 upsampling", sequence(33, 21, 6), [0, 5], coded_size=(17, 11),
                  features=["coded-size"]))
    for codec, name, pics, kf, cs_, q in (
            (CodecId.AV1, "av1", sequence(48, 32, 9), [0, 4, 8], (25, 17), 40),
            (CodecId.VVC, "vvc", sequence(45, 31, 9), [0, 4, 8], (23, 15), 40),
            (CodecId.AVIF, "avif", p8, [0, 7], (17, 13), 60),
            (CodecId.WEBP, "webp", p8, [0, 7], (17, 13), 60)):
        E.append(it2v(f"{name}_coded_size", f"{codec.name} keyframes coded at {cs_[0]}x{cs_[1]} below the output size "
                      f"{pics[0].width}x{pics[0].height} (§7.2: coded-size names; §7.8 upsampling)", pics, kf,
                      codec=codec, assets=assets, quality=q, coded_size=cs_, features=["coded-size", name]))
    E.append(it2v("texts_all_roles", "text units of every role, span hash", p8, [0, 7], hash_type=HashType.MD5_SPAN,
                  texts=[text_unit("A square slides across a gradient.", TextRole.GLOBAL, 0, 7),
                         text_unit("a grey square", TextRole.KEYFRAME_CAPTION, 0, 0),
                         text_unit("it moves right and down — ünïcødé ✓", TextRole.MOTION_CAPTION, 0, 7),
                         text_unit("", TextRole.MOTION_CAPTION, 3, 3),
                         t1_unit("Then the square stops near the Corner; CAMERA is static.", TextRole.MOTION_CAPTION, 4, 7)],
                  features=["text", "md5-span", "empty-text", "unicode"]))
    E.append(it2v("text_keyframe_caption_span", "a KEYFRAME_CAPTION whose frame_start = frame_end is not a keyframe, "
                  "and one for frames 2..5: valid, the keyframe convention of §5.5 is not a requirement", p8, [0, 7],
                  texts=[text_unit("a grey square", TextRole.KEYFRAME_CAPTION, 3, 3),
                         text_unit("the square again", TextRole.KEYFRAME_CAPTION, 2, 5)],
                  features=["text", "keyframe-caption-span"]))
    E.append(it2v("texts_b1", "CMVC_B1 text units (§8.7): Chinese, German, an emoji, a 4-byte character at the end, "
                  "an empty caption, and the same caption in CMVC_T1 and UTF8", p8, [0, 7], hash_type=HashType.MD5_SPAN,
                  texts=[b1_unit("一只黑猫坐在窗台上，看着外面的雨。", TextRole.GLOBAL, 0, 7),
                         b1_unit("Ein Mann fährt mit dem Fahrrad eine verschneite Bergstraße hinunter.", TextRole.KEYFRAME_CAPTION, 0, 0),
                         b1_unit("La cámara avanza despacio 😀 hacia la ciudad 𝄞", TextRole.MOTION_CAPTION, 0, 7),
                         b1_unit("", TextRole.MOTION_CAPTION, 3, 3),
                         t1_unit("a grey square slides to the right", TextRole.MOTION_CAPTION, 4, 7),
                         text_unit("a grey square slides to the right", TextRole.MOTION_CAPTION, 4, 7)],
                  features=["text", "cmvc-b1", "unicode"]))
    E.append(it2v("texts_t2", "CMVC_T2 text units (§8.10): words of the broad vocabulary, CAP and UPPER, words outside "
                  "it, digits and non-ASCII bytes, an empty caption", p8, [0, 7], hash_type=HashType.MD5_SPAN,
                  texts=[t2_unit("Close-up of a hummingbird hovering beside a bright orange trumpet flower.", TextRole.GLOBAL, 0, 7),
                         t2_unit("NASA footage: 3 astronauts float inside the station, Zorblax waves — café ✓", TextRole.MOTION_CAPTION, 0, 7),
                         t2_unit("", TextRole.KEYFRAME_CAPTION, 0, 0)],
                  features=["text", "cmvc-t2"]))
    E.append(it2v("texts_l1", "CMVC_L1 text units (§8.12) with the tiny text model l1-tiny declared by name and "
                  "SHA-256 (assets/l1-tiny.cmlm): tokens of several bytes, incomplete UTF-8 sequences completed by the "
                  "next token, Chinese, an emoji, an empty caption, and one caption as UTF8", p8, [0, 7],
                  models=[l1_entry()], texts=l1_units(L1_CAPTIONS) + [text_unit("the square", TextRole.MOTION_CAPTION, 1, 2)],
                  features=["text", "cmvc-l1", "unicode", "text-model"]))
    E[-1].extra = {"captions": [c[0] for c in L1_CAPTIONS] + ["the square"], "text_model": L1_MODEL}
    E.append(it2v("texts_utf8_sized", "UTF8_SIZED text units (§8.11): a caption of 460 bytes (its length is implied, "
                  "num_tokens 0), one of 16 400 bytes, a short one, an empty one, and the 460-byte caption as UTF8",
                  p8, [0, 7], hash_type=HashType.MD5_SPAN,
                  texts=[sized_unit("Ω≈ç√∫ 𝄞😀 " * 20, TextRole.GLOBAL, 0, 7),
                         sized_unit("".join(chr(0x4E00 + (i * 37) % 20000) for i in range(5466)) + "ab",
                                    TextRole.MOTION_CAPTION, 0, 7),
                         sized_unit("a grey square", TextRole.KEYFRAME_CAPTION, 0, 0),
                         sized_unit("", TextRole.MOTION_CAPTION, 3, 3),
                         text_unit("Ω≈ç√∫ 𝄞😀 " * 20, TextRole.MOTION_CAPTION, 4, 7)],
                  features=["text", "utf8-sized", "unicode"]))
    E.append(it2v("aux_units", "metadata, padding, unknown skippable units", p8, [0, 7],
                  extra_units=[(UnitType.METADATA, MetadataUnit(key="encoder", value="conformance")),
                               (UnitType.PADDING, PaddingUnit(padding_data=bytes(9))),
                               (UnitType.PADDING, PaddingUnit(padding_data=b"")),
                               build_unit(0x42, b"future optional data", skippable=True),
                               build_unit(0xFF, b"", skippable=True)],
                  features=["metadata", "padding", "unknown-skippable"]))
    E.append(it2v("av1_keyframes", "AV1 keyframes as one sequence", sequence(48, 32, 9), [0, 4, 8], codec=CodecId.AV1,
                  assets=assets, quality=40, features=["av1"]))
    E.append(it2v("av1_hidden_frames", "AV1 keyframes coded with a hierarchical structure: temporal units carry "
                  "hidden alternate reference frames and show_existing_frame headers, one shown frame each",
                  sequence(48, 32, 33), list(range(0, 33, 2)), codec=CodecId.AV1, assets=assets, quality=50,
                  features=["av1", "av1-hidden-frames"]))
    E.append(it2v("vvc_keyframes", "VVC keyframes as one bitstream, random access: access units in decoding "
                  "order, keyframes in output order (§7.2.5), odd size cropped from the coded picture",
                  sequence(45, 31, 17), list(range(0, 17, 2)), codec=CodecId.VVC, assets=assets, quality=40,
                  features=["vvc", "vvc-reordering"]))
    E.append(it2v("vvc_new_sequence", "VVC keyframes of two shots: the first keyframe of the second shot is an "
                  "IDR picture that begins a second coded video sequence and uses the parameter sets of the first "
                  "access unit, which are not repeated (§7.2.5)", two_shots(48, 32, 17, 9), list(range(0, 17, 2)),
                  codec=CodecId.VVC, assets=assets, quality=40, features=["vvc", "vvc-new-sequence"]))
    E.append(it2v("vvc_new_sequence_other_qp", "vvc_new_sequence with QP 36 for the first shot and 44 for the "
                  "second (slice QPs; the parameter sets are equal and not repeated, §7.2.5)", two_shots(48, 32, 17, 9),
                  list(range(0, 17, 2)), codec=CodecId.VVC, assets=assets, quality=(36, 44),
                  features=["vvc", "vvc-new-sequence", "vvc-qp-per-sequence"]))
    E.append(it2v("av1_chunks", "AV1 keyframes of two independently coded chunks, as cmvc encode joins them: the "
                  "second chunk's first temporal unit begins with a sequence header OBU and a key frame (a second "
                  "coded video sequence, §7.2.4); the chunks' last and first frames are adjacent keyframes, and each "
                  "chunk has an MD5_SPAN frame hash unit of its own (§7.9)", two_shots(48, 32, 14, 7),
                  [0, 3, 6, 7, 10, 13], codec=CodecId.AV1, assets=assets, quality=40, implied=True, runs=[3, 3],
                  hash_type=HashType.MD5_SPAN, hash_spans=[(0, 7), (7, 7)], features=["av1", "av1-new-sequence", "md5-span"]))
    E.append(it2v("av1_implied_temporal_delimiters", "av1_keyframes without the temporal delimiters (§7.2.4)",
                  sequence(48, 32, 9), [0, 4, 8], codec=CodecId.AV1, assets=assets, quality=40, implied=True,
                  asset="av1_keyframes", features=["av1", "av1-implied-td"]))
    E.append(it2v("vvc_implied_start_codes", "vvc_keyframes without the first start code of each access unit "
                  "(§7.2.5)", sequence(45, 31, 17), list(range(0, 17, 2)), codec=CodecId.VVC, assets=assets, quality=40,
                  implied=True, asset="vvc_keyframes", features=["vvc", "vvc-implied-start-code"]))
    E.append(it2v("avif_keyframes", "AVIF keyframes, §7.2.2 colour conversion", p8, [0, 7], codec=CodecId.AVIF,
                  assets=assets, quality=60, features=["avif"]))
    E.append(it2v("webp_keyframes", "WebP keyframes, §7.2.2 colour conversion", p8, [0, 7], codec=CodecId.WEBP,
                  assets=assets, quality=60, features=["webp"]))
    E.append(it2v("png_keyframe_group", "one keyframe_group_unit for all five PNG keyframes (§4.9), one interp "
                  "unit for all segments", sequence(32, 24, 10), [0, 3, 4, 7, 9], groups=[5],
                  interp_multi=(0, 4, ParamCoding.EXP_GOLOMB, [([12, 4], None), ([], None), ([9, 5], None), ([7], None)]),
                  features=["png", "keyframe-group"]))
    E.append(it2v("vvc_keyframe_groups", "vvc_keyframes as a keyframe unit, then a group of five access units, then "
                  "a group of three: access_unit_index counts up within a group (§5.9)", sequence(45, 31, 17),
                  list(range(0, 17, 2)), codec=CodecId.VVC, assets=assets, quality=40, implied=True, asset="vvc_keyframes",
                  groups=[1, 5, 3], features=["vvc", "keyframe-group"]))
    E.append(it2v("av1_keyframe_group", "av1_keyframes as one keyframe_group_unit", sequence(48, 32, 9), [0, 4, 8],
                  codec=CodecId.AV1, assets=assets, quality=40, implied=True, asset="av1_keyframes", groups=[3],
                  features=["av1", "keyframe-group"]))
    rife = model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name, bytes.fromhex(RIFE_V4.sha256))
    E.append(it2v("rife_main", "RIFE reconstruction (tolerance-defined)", sequence(64, 48, 6), [0, 5],
                  recon=ReconProfile.RIFE, profile=Profile.MAIN, models=[rife], recon_model=0,
                  interp={0: (4, ParamCoding.EXP_GOLOMB, [14, 10, 6, 3], None)}, features=["rife"]))
    E.append(it2v("rife_scale1", "RIFE with flow estimated at half resolution", sequence(64, 48, 4), [0, 3],
                  recon=ReconProfile.RIFE, profile=Profile.MAIN, models=[rife], recon_model=0, recon_param=1,
                  features=["rife", "recon_param"]))
    E.append(it2v("rife_registered_model", "rife_main with its model declared by registered name alone "
                  "(registered_model_flag, no model_sha256: §10.9's hash applies)", sequence(64, 48, 6), [0, 5],
                  recon=ReconProfile.RIFE, profile=Profile.MAIN, models=[model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name)],
                  recon_model=0, interp={0: (4, ParamCoding.EXP_GOLOMB, [14, 10, 6, 3], None)},
                  features=["rife", "registered-model"]))
    E.append(it2v("rife_scale2", "RIFE with flow estimated at quarter resolution (Table 11-1's widest bound)",
                  sequence(64, 48, 4), [0, 3], recon=ReconProfile.RIFE, profile=Profile.MAIN, models=[rife],
                  recon_model=0, recon_param=2, features=["rife", "recon_param"]))
    return E


def validate_only_entries() -> list[Entry]:
    """Valid streams of generative tools, checked by validation only (the reference decoder lacks the models)."""
    E = []
    models = [model_entry(r, n, hashlib.sha256(n.encode()).digest())
              for r, n in ((ModelRole.KEYFRAME_CODEC, "bmshj2018-hyperprior-q1"), (ModelRole.RECONSTRUCTION, "sd15-lora"),
                           (ModelRole.TEXT_MODEL, "text-lm"), (ModelRole.GENERATION, "t2v"))]
    sh = make_sequence_header(64, 64, 4, [0, 3], recon_profile=ReconProfile.SD_LORA, recon_model=1, models=models)
    w = StreamWriter(Profile.GENERATIVE, 10)
    w.add(UnitType.SEQUENCE_HEADER, sh)
    for i, f in enumerate((0, 3)):
        w.add(UnitType.KEYFRAME, KeyframeUnit(frame_index=f, codec_id=CodecId.HYPERPRIOR, keyframe_data=b"\x01\x02\x03\x04",
                                              codec_params=HyperpriorParams(model_index=0, quality=3, latent_height=1,
                                                                            latent_width=1, y_string_size=2)))
    w.add(UnitType.INTERP_PARAMS, InterpParamsUnit(segment_index=0, w_bits=8, flags=InterpFlags(has_w_i=True, has_w_l=True,
                                                                                                multi_segment_flag=False, reserved_zero_5bits=0),
                                                   param_coding=ParamCoding.EXP_GOLOMB,
                                                   param_data=encode_values(2, 8, [170, 85], [160, 90], ParamCoding.EXP_GOLOMB)))
    E.append(Entry("sd_lora_hyperprior", "SD_LORA reconstruction, HYPERPRIOR keyframes, all model roles", True, w.finish(),
                   ["sd_lora", "hyperprior", "generative"], decodable=False))
    sh = make_sequence_header(64, 64, 8, [], mode=1, recon_profile=ReconProfile.T2V_PIPELINE, recon_model=0,
                              models=[model_entry(ModelRole.GENERATION, "t2v", bytes(32))])
    w = StreamWriter(Profile.GENERATIVE, 10)
    w.add(UnitType.SEQUENCE_HEADER, sh)
    w.add(UnitType.TEXT, text_unit("a cat walks on a wall at sunset", TextRole.GLOBAL, 0, 7))
    E.append(Entry("tt2v_text_only", "TT2V: only text", True, w.finish(), ["tt2v"], decodable=False))
    return E


def decoder_memory_entries(assets: Assets) -> tuple[list[Entry], list[Entry]]:
    """Streams at the decoder-memory bounds of §9.3 and the decoding order of §7.1.1: (valid, invalid)."""
    from cmvc.keyframes.av1 import with_temporal_delimiter
    from cmvc.levels import KEYFRAME_PAD, LEVELS

    valid, invalid = [], []
    # max_frames of level 1.0 in one segment, its weights and its MD5_SPAN after both keyframes: a decoder
    # outputs 1022 reconstructed frames from two held keyframes and verifies them with one MD5 state
    n = LEVELS[10].max_frames
    pics = [picture(8, 8, 0), picture(8, 8, 40)]
    coded = get_codec(CodecId.PNG).encode(pics, 0, Colour())
    qi = [15 - (15 * j) // (n - 1) for j in range(1, n - 1)]
    ip = InterpParamsUnit(segment_index=0, w_bits=4, flags=InterpFlags(has_w_i=True, has_w_l=False, multi_segment_flag=False,
                                                                       reserved_zero_5bits=0),
                          param_coding=ParamCoding.FIXED, param_data=encode_values(n - 2, 4, qi, None, ParamCoding.FIXED))

    def long(hu):
        wr = StreamWriter(Profile.BASELINE, 10)
        wr.add(UnitType.SEQUENCE_HEADER, make_sequence_header(8, 8, n, [0, n - 1]))
        for k, (p, d) in zip((0, n - 1), coded):
            wr.add(UnitType.KEYFRAME, KeyframeUnit(frame_index=k, codec_id=CodecId.PNG, codec_params=p, keyframe_data=d))
        if hu is not None:
            wr.add(UnitType.FRAME_HASH, hu)
        wr.add(UnitType.INTERP_PARAMS, ip)
        return wr.finish()

    span = span_md5(decode(long(None)).pictures)
    valid.append(Entry("long_segment_max_frames", f"{n} frames (max_frames of level 1.0) in one segment between two "
                       "keyframes; its weights and an MD5_SPAN of every frame come after both keyframes (§7.1.1, §9.3)",
                       True, long(FrameHashUnit(hash_type=HashType.MD5_SPAN, first_frame=0, num_frames=n, digest=[span])),
                       ["max-frames", "long-segment", "md5-span", "interp-after-keyframes"]))
    # AV1 keyframes that decode to a picture 64 samples wider and higher than the coded size (§9.3's bound),
    # and 66 (past it)

    def cropped(name, size, pad):
        big = [Picture(np.pad(picture(size, size, t).y, ((0, pad), (0, pad)), mode="edge"),
                       np.pad(picture(size, size, t).u, ((0, pad // 2), (0, pad // 2)), mode="edge"),
                       np.pad(picture(size, size, t).v, ((0, pad // 2), (0, pad // 2)), mode="edge")) for t in (0, 3)]
        items = assets.coded(name, CodecId.AV1, big, 40)
        wr = StreamWriter(Profile.BASELINE, 10)
        wr.add(UnitType.SEQUENCE_HEADER, make_sequence_header(size, size, 4, [0, 3]))
        for k, (p, d) in zip((0, 3), items):
            wr.add(UnitType.KEYFRAME, KeyframeUnit(frame_index=k, codec_id=CodecId.AV1, codec_params=p,
                                                   keyframe_data=with_temporal_delimiter(d)))
        return wr.finish()

    data = cropped("av1_keyframe_picture_bound", 2, KEYFRAME_PAD)
    d = decode(data).pictures
    w = StreamWriter(Profile.BASELINE, 10)  # the same stream with the frame hashes of its decoded frames
    ps = __import__("cmvc.parse", fromlist=["parse"]).parse(data)
    for u in ps.units[:-1]:
        w.add_raw(data[u.offset:u.offset + u.size])
    w.add(UnitType.FRAME_HASH, FrameHashUnit(hash_type=HashType.MD5, first_frame=0, num_frames=len(d),
                                             digest=[p.md5() for p in d]))
    valid.append(Entry("av1_keyframe_picture_bound", "2x2 pictures whose AV1 keyframes decode to 66x66, the largest "
                       "picture a keyframe payload may decode to (coded size + 64, §9.3), cropped to the top-left 2x2",
                       True, w.finish(), ["av1", "keyframe-picture-bound"]))
    data = cropped("av1_keyframe_picture_over_bound", 2, KEYFRAME_PAD + 2)
    got = _first_error(data, "decode")
    if got is None or got.code != "E024":
        raise SystemExit(f"E024_keyframe_picture_over_bound: reference implementation gives {got}")
    invalid.append(Entry("E024_keyframe_picture_over_bound", "2x2 pictures whose AV1 keyframes decode to 68x68, past "
                         "the coded size + 64 of §9.3", False, data, ["E024"], stage="decode", error="E024",
                         offset=got.offset))
    return valid, invalid


def _raw_stream(profile, level, units: list[bytes], header: bytes | None = None) -> bytes:
    return (header or build_file_header(profile, level)) + b"".join(units)


def _header(magic=b"CMVC", major=1, profile=0, level=10) -> bytes:
    import zlib

    head = magic + bytes([major, 0, profile, level])
    return head + (zlib.crc32(head) & 0xFFFFFFFF).to_bytes(4, "big")


def invalid_entries(E_valid: dict[str, Entry]) -> list[Entry]:
    from cmvc.parse import parse
    from cmvc.syntax import SEQUENCE_HEADER
    from cmvc.write import build_payload

    base = E_valid["blend_png_basic"].data
    ps = parse(base)
    units = [base[u.offset:u.offset + u.size] for u in ps.units]  # SH, KF0, KF3, KF7, FRAME_HASH, EOS
    sh = ps.sequence_header
    eos = units[-1]
    body = lambda *us: _raw_stream(Profile.BASELINE, 10, list(us))  # noqa: E731
    body12 = lambda *us: _raw_stream(Profile.BASELINE, 10, list(us), build_file_header(Profile.BASELINE, 10, 2))  # noqa: E731

    def unit(t, payload, skippable=None):
        return build_unit(t, payload, skippable=skippable)

    def payload_of(t, obj):
        return build_payload(t, obj)

    out: list[tuple[str, str, bytes, str]] = []  # name, purpose, data, stage
    out.append(("E001_bad_magic", "magic is not CMVC", _header(b"CMVX") + b"".join(units), "validate"))
    out.append(("E002_truncated", "data ends inside the last unit", base[:-3], "validate"))
    out.append(("E003_major_version", "major_version 2", _header(major=2) + b"".join(units), "validate"))
    out.append(("E004_profile", "unregistered profile 9", _header(profile=9) + b"".join(units), "validate"))
    out.append(("E005_level", "unregistered level 11", _header(level=11) + b"".join(units), "validate"))
    bad = bytearray(base)
    bad[ps.units[1].payload_offset + 5] ^= 0x10
    out.append(("E006_crc", "one payload bit flipped in a keyframe unit", bytes(bad), "validate"))
    sh_payload = SEQUENCE_HEADER.build(sh)
    nonmin = bytes([UnitType.SEQUENCE_HEADER, 0]) + bytes([0x80 | (len(sh_payload) & 0x7F), len(sh_payload) >> 7 or 0])
    out.append(("E007_leb128_not_minimal", "payload_size coded in two bytes, the last 0x00",
                _raw_stream(0, 10, [nonmin + sh_payload + b"\0\0\0\0"]), "validate"))
    big = dataclasses.replace(sh, width=2000)
    out.append(("E008_level_width", "width 2000 exceeds level 1.0", body(unit(1, SEQUENCE_HEADER.build(big)), *units[1:]), "validate"))
    out.append(("E009_unknown_mandatory", "unregistered unit_type 0x42 with skippable_flag 0",
                body(units[0], unit(0x42, b"x", skippable=False), *units[1:]), "validate"))
    flags = bytearray(units[1])
    flags[1] |= 0x01
    import zlib
    flags[-4:] = (zlib.crc32(bytes(flags[:-4])) & 0xFFFFFFFF).to_bytes(4, "big")
    out.append(("E010_reserved_bit", "reserved bit of a unit's flags set", body(units[0], bytes(flags), *units[2:]), "validate"))
    kp = bytearray(ps.units[1].payload)
    kp[1] = 99  # codec_id
    out.append(("E011_codec_id", "unregistered codec_id 99", body(units[0], unit(2, bytes(kp)), *units[2:]), "validate"))
    meta = payload_of(UnitType.METADATA, MetadataUnit(key="k", value="v")) + b"!"
    out.append(("E012_trailing_payload", "a byte after the metadata syntax", body(*units[:-1], unit(6, meta), eos), "validate"))
    out.append(("E013_first_unit", "first unit is a keyframe", body(*units[1:]), "validate"))
    out.append(("E015_after_eos", "a byte after END_OF_STREAM", base + b"\0", "validate"))
    sh16 = dataclasses.replace(sh, keyframe_index=[0, 3, 3], num_keyframes=3)
    out.append(("E016_keyframe_order", "keyframe_index not strictly increasing",
                body(unit(1, SEQUENCE_HEADER.build(sh16)), *units[1:]), "validate"))
    out.append(("E017_missing_keyframe", "the keyframe unit of frame 3 is missing", body(units[0], units[1], *units[3:]), "validate"))
    sh18 = dataclasses.replace(sh, recon_profile=ReconProfile.RIFE, recon_model=255)
    out.append(("E018_undeclared_model", "RIFE without a declared model",
                _raw_stream(Profile.MAIN, 10, [unit(1, SEQUENCE_HEADER.build(sh18)), *units[1:]]), "validate"))
    ip = InterpParamsUnit(segment_index=0, w_bits=2, flags=InterpFlags(has_w_i=True, has_w_l=False, multi_segment_flag=False, reserved_zero_5bits=0),
                          param_coding=ParamCoding.FIXED, param_data=bytes([0b11100100]))  # q = 7 > 4, then 1
    out.append(("E019_weight_range", "q_i 7 exceeds 2^w_bits = 4", body(*units[:-1], unit(4, payload_of(4, ip)), eos), "validate"))
    t20 = text_unit("hello", start=0, end=7)
    t20.num_tokens = 6
    out.append(("E020_text_tokens", "num_tokens 6 for 5 bytes of UTF-8", body(*units[:-1], unit(3, payload_of(3, t20)), eos), "validate"))
    t20b = b1_unit("一只黑猫坐在窗台上。", start=0, end=7)
    t20b.num_tokens -= 3  # one character fewer: the coder does not end in state 1
    out.append(("E020_b1_payload", "a CMVC_B1 payload with num_tokens 3 bytes short",
                body(*units[:-1], unit(3, payload_of(3, t20b)), eos), "validate"))
    badutf = b"\x02\xc3\x28" + b"\x01v"
    out.append(("E021_bad_utf8", "metadata key is not UTF-8", body(*units[:-1], unit(6, badutf), eos), "validate"))
    t22 = text_unit("late", start=2, end=8)
    out.append(("E022_frame_span", "text span ends after the last frame", body(*units[:-1], unit(3, payload_of(3, t22)), eos), "validate"))
    hu = FrameHashUnit(hash_type=HashType.MD5, first_frame=0, num_frames=8, digest=[bytes(16)] * 8)
    out.append(("E023_hash_mismatch", "frame hashes that no decoder reproduces",
                body(*units[:4], unit(5, payload_of(5, hu)), eos), "decode"))
    kf0 = KeyframeUnit(frame_index=0, codec_id=CodecId.PNG, codec_params=NoParams(), keyframe_data=b"\x89PNG\r\n\x1a\nbroken")
    out.append(("E024_corrupt_png", "keyframe payload is not a decodable PNG",
                body(units[0], unit(2, payload_of(2, kf0)), *units[2:]), "decode"))
    ipg = InterpParamsUnit(segment_index=1, w_bits=4, flags=InterpFlags(has_w_i=True, has_w_l=False, multi_segment_flag=False, reserved_zero_5bits=0),
                           param_coding=ParamCoding.EXP_GOLOMB, param_data=encode_values(3, 4, [12, 8, 4], None, ParamCoding.EXP_GOLOMB))
    out.append(("E025_duplicate_segment", "two parameter units for segment 1",
                body(*units[:-1], unit(4, payload_of(4, ipg)), unit(4, payload_of(4, ipg)), eos), "validate"))
    ipm = InterpParamsUnit(segment_index=1, w_bits=4, flags=InterpFlags(has_w_i=True, has_w_l=False,
                                                                         multi_segment_flag=True, reserved_zero_5bits=0),
                           num_extra_segments=1, param_coding=ParamCoding.EXP_GOLOMB,
                           param_data=encode_segments([3, 0], 4, [([12, 8, 4], None), ([], None)], ParamCoding.EXP_GOLOMB))
    out.append(("E022_segments_past_end", "one unit for segments 1..2 of a stream with 2 segments",
                body(*units[:-1], unit(4, payload_of(4, ipm)), eos), "validate"))
    ipm0 = dataclasses.replace(ipm, segment_index=0, param_data=encode_segments(
        [2, 3], 4, [([10, 5], None), ([12, 8, 4], None)], ParamCoding.EXP_GOLOMB))
    out.append(("E025_segment_covered_twice", "a unit for segments 0..1 and one for segment 1",
                body(*units[:-1], unit(4, payload_of(4, ipm0)), unit(4, payload_of(4, ipg)), eos), "validate"))
    out.append(("E019_num_extra_segments_zero", "multi_segment_flag 1 with num_extra_segments 0",
                body(*units[:-1], unit(4, payload_of(4, ipg)[:2] + bytes([0xA0, 0x00]) + payload_of(4, ipg)[3:]), eos),
                "validate"))
    out.append(("E026_padding", "a non-zero padding byte", body(*units[:-1], unit(7, b"\0\0\x07"), eos), "validate"))
    ipc = dataclasses.replace(ipg, param_data=encode_values(2, 4, [12, 8], None, ParamCoding.EXP_GOLOMB))
    out.append(("E027_param_count", "two values for a segment of three frames",
                body(*units[:-1], unit(4, payload_of(4, ipc)), eos), "validate"))
    sh28 = dataclasses.replace(sh, recon_profile=ReconProfile.RIFE, recon_model=0, models=[
        model_entry(ModelRole.RECONSTRUCTION, RIFE_V4.name, bytes.fromhex(RIFE_V4.sha256))],
        num_models=1)
    sh11 = dataclasses.replace(sh, recon_profile=ReconProfile.RIFE, recon_model=0, num_models=1,
                               models=[model_entry(ModelRole.RECONSTRUCTION, "rife-v9")])
    out.append(("E011_unregistered_model", "a model declared by registered name alone whose name §10.9 does not "
                "register", _raw_stream(Profile.MAIN, 10, [unit(1, SEQUENCE_HEADER.build(sh11)), *units[1:]],
                                        build_file_header(Profile.MAIN, 10, 2)), "validate"))
    out.append(("E028_profile_tool", "RIFE in a BASELINE stream", body(unit(1, SEQUENCE_HEADER.build(sh28)), *units[1:]), "validate"))
    from cmvc.syntax import KeyframeGroupUnit

    pngs = [ps.units[i].body for i in (1, 2, 3)]
    grp = KeyframeGroupUnit(first_keyframe=0, num_extra_keyframes=2, codec_id=CodecId.PNG, codec_params=NoParams(),
                            keyframe_size=[len(k.keyframe_data) for k in pngs[:2]],
                            keyframe_data=b"".join(k.keyframe_data for k in pngs))
    out.append(("E017_group_first_keyframe", "a keyframe group of frames 3 and 7 says first_keyframe 2, not 1",
                body12(units[0], units[1], unit(9, payload_of(9, dataclasses.replace(
                    grp, first_keyframe=2, num_extra_keyframes=1, keyframe_size=grp.keyframe_size[1:],
                    keyframe_data=b"".join(k.keyframe_data for k in pngs[1:])))), *units[4:]), "validate"))
    out.append(("E017_group_past_last", "a keyframe group codes a fourth keyframe of a stream with three",
                body12(units[0], unit(9, payload_of(9, dataclasses.replace(
                    grp, num_extra_keyframes=3, keyframe_size=[*grp.keyframe_size, len(pngs[2].keyframe_data)],
                    keyframe_data=grp.keyframe_data + pngs[0].keyframe_data))), *units[4:]), "validate"))
    out.append(("E019_group_sizes", "keyframe_size[] takes every byte of keyframe_data: none left for the last keyframe",
                body12(units[0], unit(9, payload_of(9, dataclasses.replace(
                    grp, keyframe_size=[grp.keyframe_size[0], len(grp.keyframe_data) - grp.keyframe_size[0]]))),
                     *units[4:]), "validate"))
    vv = E_valid["vvc_keyframes"].data
    pv = parse(vv)
    from cmvc.keyframes.vvc import nal_units

    k0 = pv.units[1].body
    no_ps = dataclasses.replace(k0, keyframe_data=b"".join(n for t, n in nal_units(k0.keyframe_data) if t not in (15, 16)))
    vunits = [vv[u.offset:u.offset + u.size] for u in pv.units]
    out.append(("E024_vvc_no_parameter_sets", "the first VVC access unit lacks its SPS and PPS",
                _raw_stream(Profile.BASELINE, 10, [vunits[0], unit(2, payload_of(2, no_ps)), *vunits[2:]]), "decode"))
    # --- §6.6 error positions: one stream per stated offset rule (spec 1.3) ---
    out += _offset_rule_entries(E_valid, units, sh, body, unit, payload_of)
    out += hostile_entries(E_valid, units, sh, ps.units[3].body, unit, payload_of)
    out += _l1_entries(units, sh, unit, payload_of)
    entries = []
    for name, purpose, data, stage in out:
        code = name.split("_")[0]
        got = _first_error(data, stage)
        if got is None or got.code != code:
            raise SystemExit(f"{name}: expected {code}, reference implementation gives {got}")
        entries.append(Entry(name, purpose, False, data, [code], stage=stage, error=code, offset=got.offset))
    return entries


def _offset_rule_entries(E_valid, units, sh, body, unit, payload_of) -> list[tuple[str, str, bytes, str]]:
    """Invalid streams that pin the offset rules of spec §6.6, each case of a rule that relates several
    elements, and the order of checks (§6.7)."""
    import zlib

    from cmvc.parse import parse
    from cmvc.syntax import SEQUENCE_HEADER, KeyframeGroupUnit
    from cmvc.text.model import load_model
    from cmvc.text.t1 import encode_symbols
    from cmvc.text.tokens import CAP

    eos = units[-1]
    out = []

    def add(name, purpose, data, stage="validate"):
        out.append((name, purpose, data, stage))

    def text(data: bytes, n: int, method=TextMethod.UTF8, start=0, end=7):
        return unit(3, payload_of(3, TextUnit(role=TextRole.MOTION_CAPTION, frame_start=start, frame_end=end,
                                              coding_method=method, num_tokens=n, text_data=data)))

    def hashes(first, n):
        return unit(5, payload_of(5, FrameHashUnit(hash_type=HashType.MD5, first_frame=first, num_frames=n,
                                                   digest=[bytes(16)] * n)))

    def ip(data: bytes, w_bits=4, segment=1):
        return unit(4, payload_of(4, InterpParamsUnit(
            segment_index=segment, w_bits=w_bits, flags=InterpFlags(has_w_i=True, has_w_l=False, multi_segment_flag=False,
                                                                    reserved_zero_5bits=0),
            param_coding=ParamCoding.EXP_GOLOMB, param_data=data)))

    # spans: the start if it lies outside 0..frame_count-1, else the element that ends the span
    add("E022_text_start", "text span starts after the last frame (frame_start is at fault)",
        body(*units[:-1], text(b"late", 4, start=9, end=9), eos))
    add("E022_hash_span", "frame hash of frames 4..8 of 8 frames (num_frames is at fault)",
        body(*units[:4], hashes(4, 5), eos))
    # E020: each cause
    add("E020_utf8_extra_byte", "UTF-8 text of 5 bytes with num_tokens 4 (the first byte after the tokens)",
        body(*units[:-1], text(b"hello", 4), eos))
    add("E020_utf8_invalid", "UTF8 method, byte 2 of text_data is 0xFF (the first byte of the ill-formed sequence)",
        body(*units[:-1], text(b"ab\xffcd", 5), eos))
    add("E020_utf8_sized_num_tokens", "UTF8_SIZED text with num_tokens 5, not 0 (the start of text_data)",
        body(*units[:-1], text(b"hello", 5, TextMethod.UTF8_SIZED), eos))
    add("E020_utf8_sized_invalid", "UTF8_SIZED text whose byte 3 is a lone continuation byte 0x80 (that byte)",
        body(*units[:-1], text(b"abc\x80", 0, TextMethod.UTF8_SIZED), eos))
    m = load_model()
    n, d = (lambda s: (len(s), encode_symbols(s, m)))([ord(c) for c in "a square"])
    add("E020_t1_end_state", "CMVC-T1 text decoded with one symbol fewer than coded: the coder does not end in "
        "state 1 (text_data)", body(*units[:-1], text(d, n - 1, TextMethod.CMVC_T1), eos))
    add("E020_t1_words_left", "CMVC-T1 text with a word before the coded ones: a word is left over (text_data)",
        body(*units[:-1], text(b"\x12\x34\x56\x78" + d, n, TextMethod.CMVC_T1), eos))
    add("E020_t1_leading_zero", "CMVC-T1 text whose last group of bytes starts with 0 (that group's first byte)",
        body(*units[:-1], text(bytes(4) + b"\x00\x07", 1, TextMethod.CMVC_T1), eos))
    add("E020_t1_cap_without_word", "CMVC-T1 symbols CAP then a byte, not a word (text_data)",
        body(*units[:-1], text(encode_symbols([CAP, ord("1")], m), 2, TextMethod.CMVC_T1), eos))
    add("E020_t1_bad_utf8", "CMVC-T1 symbols that detokenize to invalid UTF-8 (text_data)",
        body(*units[:-1], text(encode_symbols([0xFF], m), 1, TextMethod.CMVC_T1), eos))
    # param_data: bit-level errors at the byte that holds the offending bit or byte
    add("E027_extra_byte", "a byte after the last value of param_data (that byte)",
        body(*units[:-1], ip(encode_values(3, 4, [12, 8, 4], None, ParamCoding.EXP_GOLOMB) + b"\0"), eos))
    add("E010_trailing_bits", "a non-zero bit after the last value of param_data (its byte)",
        body(*units[:-1], ip(bytes([0b11100001])), eos))
    add("E019_eg_prefix", "the third Exp-Golomb code of param_data has more than B+2 leading zeros; it starts in "
        "byte 0 (the byte of its first bit), its seventh zero is in byte 1", body(*units[:-1], ip(bytes([0xA0, 0, 0])), eos))
    # absences and duplicates
    add("E017_missing_last_keyframe", "the keyframe unit of the last keyframe is missing (END_OF_STREAM)",
        body(*units[:3], units[4], eos))
    add("E025_hash_twice", "a second frame hash unit covers frame 3 again (its first_frame)",
        body(*units[:5], hashes(3, 1), eos))
    # several elements
    big = SEQUENCE_HEADER.build(dataclasses.replace(sh, width=1024, height=1000))
    add("E008_picture_size", "1024x1000 exceeds max_picture_size of level 1.0 (height is at fault)",
        body(unit(1, big), *units[1:]))
    add("E019_string_too_long", "a metadata key of 256 bytes (string() at most 255: its length)",
        body(*units[:-1], unit(6, b"\x80\x02" + b"k" * 256 + b"\x01v"), eos))
    gen = [model_entry(ModelRole.GENERATION, "t2v", bytes(32))]
    sh28 = SEQUENCE_HEADER.build(dataclasses.replace(sh, recon_profile=ReconProfile.T2V_PIPELINE, recon_model=0,
                                                     num_models=1, models=gen))
    add("E028_t2v_in_it2v", "T2V_PIPELINE in IT2V mode (recon_profile is at fault, mode is allowed)",
        _raw_stream(Profile.GENERATIVE, 10, [unit(1, sh28), *units[1:]]))
    # keyframe groups and sequence codecs
    av = parse(E_valid["av1_keyframes"].data)
    aunits = [E_valid["av1_keyframes"].data[u.offset:u.offset + u.size] for u in av.units]
    k2 = av.units[2].body
    add("E019_temporal_unit_index", "the second AV1 keyframe unit says temporal_unit_index 5",
        body(aunits[0], aunits[1], unit(2, payload_of(2, dataclasses.replace(
            k2, codec_params=dataclasses.replace(k2.codec_params, temporal_unit_index=5)))), *aunits[3:]))
    ag = parse(E_valid["av1_keyframe_group"].data)
    g = ag.units[1].body
    agunits = [E_valid["av1_keyframe_group"].data[u.offset:u.offset + u.size] for u in ag.units]
    add("E019_group_temporal_unit_index", "an AV1 keyframe group whose temporal_unit_index is 1, not 0 "
        "(the group's field, once for all its keyframes)",
        _raw_stream(Profile.BASELINE, 10, [agunits[0], unit(9, payload_of(9, dataclasses.replace(
            g, codec_params=dataclasses.replace(g.codec_params, temporal_unit_index=1)))), *agunits[2:]],
            build_file_header(Profile.BASELINE, 10, 2)))
    hp = [model_entry(ModelRole.KEYFRAME_CODEC, "bmshj2018-hyperprior-q1", hashlib.sha256(b"hp").digest())]
    shh = SEQUENCE_HEADER.build(dataclasses.replace(sh, num_models=1, models=hp))
    hg = KeyframeGroupUnit(first_keyframe=0, num_extra_keyframes=2, codec_id=CodecId.HYPERPRIOR,
                           codec_params=HyperpriorParams(model_index=0, quality=1, latent_height=1, latent_width=1,
                                                         y_string_size=1),
                           keyframe_size=[2, 2], keyframe_data=b"\x01\x02\x03\x04\x05\x06")
    add("E019_hyperprior_group", "a keyframe group of HYPERPRIOR keyframes (codec_id)",
        _raw_stream(Profile.MAIN, 10, [unit(1, shh), unit(9, payload_of(9, hg)), eos],
                    build_file_header(Profile.MAIN, 10, 2)))
    # decoding: which unit is at fault when a keyframe bitstream shows the wrong number of pictures
    a1, a2 = av.units[1].body, av.units[2].body
    add("E024_av1_two_frames", "the first AV1 keyframe unit carries two temporal units, showing two frames "
        "(its keyframe_data)", body(aunits[0], unit(2, payload_of(2, dataclasses.replace(
            a1, keyframe_data=a1.keyframe_data + a2.keyframe_data))), *aunits[2:]), "decode")
    vv = parse(E_valid["vvc_keyframes"].data)
    vunits = [E_valid["vvc_keyframes"].data[u.offset:u.offset + u.size] for u in vv.units]
    last = max(i for i, u in enumerate(vv.units) if u.unit_type == UnitType.KEYFRAME)
    aud = b"\x00\x00\x00\x01\x00\xa1\x28"  # an access unit delimiter alone: no picture
    add("E024_vvc_too_few_pictures", "the last VVC access unit is only a delimiter: the bitstream outputs one "
        "picture fewer than there are keyframe units (keyframe_data of the first unit left without one)",
        body(*vunits[:last], unit(2, payload_of(2, dataclasses.replace(vv.units[last].body, keyframe_data=aud))),
             *vunits[last + 1:]), "decode")
    # order of checks (§6.7)
    sh16 = SEQUENCE_HEADER.build(dataclasses.replace(sh, keyframe_index=[0, 3, 3], num_keyframes=3))
    add("E016_before_payload_error", "a §6.5 rule broken in the sequence header and a payload error (E012) in a "
        "later unit: the lower offset comes first", body(unit(1, sh16), *units[1:-1],
                                                          unit(6, payload_of(6, MetadataUnit(key="k", value="v")) + b"!"), eos))
    add("E001_four_bytes", "a 4-byte file whose magic is wrong (magic is complete: E001)", b"CMVX")
    add("E002_short_header", "a 2-byte file (magic is incomplete: E002 at the end of the data)", b"CM")
    del zlib
    return out



def hostile_entries(E_valid, units, sh, last_kf, unit, payload_of) -> list[tuple[str, str, bytes, str]]:
    """Tiny streams that declare huge work (issue 31): a validator must answer them in memory and time
    proportional to the stream, not to the frame counts or picture sizes they declare."""
    out = []
    eos = units[-1]
    body40 = lambda *us: _raw_stream(Profile.BASELINE, 40, list(us))  # noqa: E731
    huge = FrameHashUnit(hash_type=HashType.MD5_SPAN, first_frame=0, num_frames=1 << 22, digest=[bytes(16)])
    out.append(("E022_md5_span_huge", "8 MD5_SPAN frame hashes of 4 194 304 frames each in an 8-frame level-4.0 stream",
                body40(*units[:4], *[unit(5, payload_of(5, huge))] * 8, eos), "validate"))
    many = dataclasses.replace(sh, frame_count=1 << 22, keyframe_index=[0, (1 << 22) - 1], num_keyframes=2)
    from cmvc.syntax import SEQUENCE_HEADER
    half = dataclasses.replace(huge, num_frames=1 << 21)
    last = unit(2, payload_of(2, dataclasses.replace(last_kf, frame_index=(1 << 22) - 1)))
    out.append(("E025_md5_span_overlap_huge", "MD5_SPAN frame hashes of 2 097 152 frames, each overlapping the one "
                "before, in a level-4.0 stream of 4 194 304 frames",
                body40(unit(1, SEQUENCE_HEADER.build(many)), units[1], last,
                       *[unit(5, payload_of(5, dataclasses.replace(half, first_frame=k << 17))) for k in range(8)], eos),
                "validate"))
    ip0 = InterpParamsUnit(segment_index=0, w_bits=8, flags=InterpFlags(has_w_i=False, has_w_l=False, multi_segment_flag=False,
                                                                        reserved_zero_5bits=0), param_coding=ParamCoding.FIXED,
                           param_data=b"")
    out.append(("E025_interp_empty_huge", "8 interpolation-parameter units with no values for one segment of "
                "4 194 302 frames", body40(unit(1, SEQUENCE_HEADER.build(many)), units[1], last,
                                           *[unit(4, payload_of(4, ip0))] * 8, eos), "validate"))
    # §7.2: the picture size a keyframe payload declares is checked before the payload is decoded
    import io

    from PIL import Image

    big = io.BytesIO()
    Image.new("L", (3000, 3000)).save(big, format="PNG", optimize=True)
    kpng = dataclasses.replace(last_kf, frame_index=0, keyframe_data=big.getvalue())
    out.append(("E024_png_declared_size", "a PNG keyframe whose IHDR declares 3000x3000 samples in a stream of 32x24",
                _raw_stream(Profile.BASELINE, 10, [units[0], unit(2, payload_of(2, kpng)), *units[2:]]), "decode"))
    from cmvc.parse import parse

    wp = E_valid["webp_keyframes"].data
    pw = parse(wp)
    vp8x = io.BytesIO()
    Image.new("RGB", (16, 16)).save(vp8x, "WEBP", quality=50, exif=b"Exif\0\0MM\0*\0\0\0\x08\0\0\0\0")
    vp8x = bytearray(vp8x.getvalue())
    vp8x[24:27] = vp8x[27:30] = (16383).to_bytes(3, "little")  # a 16384 x 16384 canvas
    k0 = unit(2, payload_of(2, dataclasses.replace(pw.units[1].body, keyframe_data=bytes(vp8x))))
    out.append(("E024_webp_declared_size", "a WebP keyframe whose VP8X chunk declares a 16384x16384 canvas in a stream of "
                f"{pw.sequence_header.width}x{pw.sequence_header.height}",
                _raw_stream(Profile.BASELINE, 10, [wp[:pw.units[1].offset][12:], k0, wp[pw.units[2].offset:]]), "decode"))
    assets = Assets(HERE, False)
    for name, codec, n in (("av1_keyframes", CodecId.AV1, 3), ("vvc_keyframes", CodecId.VVC, 9)):
        data = E_valid[name].data
        pv = parse(data)
        coded = assets.coded(f"{name[:3]}_declared_size", codec, [picture(128, 128, 4 * t) for t in range(n)], 63)
        new, k = [], 0
        for u in pv.units:
            raw = data[u.offset:u.offset + u.size]
            if u.unit_type == UnitType.KEYFRAME:
                raw = unit(2, payload_of(2, dataclasses.replace(u.body, keyframe_data=coded[k][1])))
                k += 1
            new.append(raw)
        out.append((f"E024_{name[:3]}_declared_size", f"{name} with every keyframe coded at 128x128 in a stream of "
                    f"{pv.sequence_header.width}x{pv.sequence_header.height} (more than the coded size + 64)",
                    _raw_stream(Profile.BASELINE, 10, new), "decode"))
    return out


def _l1_entries(units, sh, unit, payload_of) -> list[tuple[str, str, bytes, str]]:
    """Invalid CMVC_L1 streams (§8.12): each rule with its element at fault."""
    from cmvc.syntax import SEQUENCE_HEADER

    eos = units[-1]
    head = build_file_header(Profile.BASELINE, 10, 5)
    good = l1_units([("a square", TextRole.MOTION_CAPTION, 0, 7), ("漢", TextRole.MOTION_CAPTION, 0, 7)])
    sh_l1 = unit(1, SEQUENCE_HEADER.build(dataclasses.replace(sh, num_models=1, models=[l1_entry()])))

    def text(t, **kw):
        return unit(3, payload_of(3, dataclasses.replace(t, **kw)))

    def stream(*us, with_model=True):
        return _raw_stream(Profile.BASELINE, 10, [sh_l1 if with_model else units[0], *units[1:-1], *us, eos], head)

    from cmvc.text.l1 import TINY_EXTRA, L1_TINY_SHA256, load_model
    from cmvc.text.lm import encode_batch

    m = load_model("l1-tiny", L1_TINY_SHA256)
    half = encode_batch(m, [[256 + TINY_EXTRA.index(b"\xe6\xbc")]], m.start)[0]
    return [
        ("E029_l1_no_text_model", "a CMVC_L1 text unit in a stream that declares no TEXT_MODEL model (its coding_method)",
         stream(text(good[0]), with_model=False), "validate"),
        ("E030_l1_num_tokens", "a CMVC_L1 text unit with num_tokens 41, above max_positions 40 of l1-tiny (num_tokens)",
         stream(text(good[0], num_tokens=41)), "validate"),
        ("E020_l1_end_state", "a CMVC_L1 text unit decoded with one token fewer than coded: the coder does not end in "
         "state 1 (text_data)", stream(text(good[0], num_tokens=good[0].num_tokens - 1)), "validate"),
        ("E020_l1_bad_utf8", "a CMVC_L1 text unit of one token whose bytes E6 BC are an incomplete UTF-8 sequence "
         "(text_data)", stream(text(good[1], num_tokens=1, text_data=half)), "validate"),
    ]


def regression_entries() -> list[Entry]:
    """Inputs that once crashed the reference implementation (found by fuzz/fuzz_stream.py)."""
    out = []
    for path in sorted((HERE.parent / "fuzz" / "regressions").glob("*.cmvc")):
        data = path.read_bytes()
        err = _first_error(data, "validate")
        name = f"fuzz_{path.stem}"
        if err is None:
            out.append(Entry(name, f"fuzz regression {path.name}: valid", True, data, ["fuzz-regression"], decodable=False))
        else:
            out.append(Entry(name, f"fuzz regression {path.name}: {err.code}", False, data, ["fuzz-regression"],
                             error=err.code, offset=err.offset))
    return out


def _first_error(data: bytes, stage: str):
    from cmvc.errors import CmvcError
    from cmvc.validate import validate

    rep = validate(data)
    if rep.errors:
        return rep.errors[0]
    if stage == "decode":
        try:
            decode(data, verify=True)
        except CmvcError as e:
            return e
    return None


def yuv_bytes(pics: list[Picture]) -> bytes:
    return b"".join(np.ascontiguousarray(pl).tobytes() for p in pics for pl in p.planes())


def write_suite(out: Path, assets: Assets) -> dict:
    from cmvc.parse import parse

    valid = valid_entries(assets) + validate_only_entries()
    invalid = invalid_entries({e.name: e for e in valid})
    more_valid, more_invalid = decoder_memory_entries(assets)
    valid += more_valid
    invalid += more_invalid
    for e in regression_entries():
        (valid if e.valid else invalid).append(e)
    for sub in ("streams", "invalid", "reference", "assets"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    from cmvc.text.l1 import DATA

    (out / L1_MODEL).write_bytes((DATA / "l1-tiny.cmlm").read_bytes())
    manifest = {"format": "CMVC 1.2", "generator": "conformance/generate.py",
                "hash_scope": "MD5 of Y, then Cb, then Cr of each output frame, raster order, 1 byte per sample (spec 7.9)",
                "streams": []}
    for e in valid:
        path = out / "streams" / f"{e.name}.cmvc"
        path.write_bytes(e.data)
        ps = parse(e.data)
        sh = ps.sequence_header
        item = {"name": e.name, "file": f"streams/{e.name}.cmvc", "purpose": e.purpose, "features": e.features,
                "profile": Profile(ps.header.profile).name, "level": ps.header.level, "size": [sh.width, sh.height],
                "frames": sh.frame_count, "sha256": hashlib.sha256(e.data).hexdigest(), "valid": True}
        if not e.decodable:
            item["expect"] = {"valid": True, "decode": False}
        else:
            pics = decode(e.data).pictures
            md5s = [p.md5().hex() for p in pics]
            if e.tolerance:
                ref = out / "reference" / f"{e.name}.yuv"
                ref.write_bytes(yuv_bytes(pics))
                tol = stream_tolerance(ps)
                item["expect"] = {"tolerance": {"max_abs": tol.max_abs, "max_fraction": tol.max_fraction},
                                  "reference": f"reference/{e.name}.yuv", "reference_md5": md5s}
            else:
                item["expect"] = {"frame_md5": md5s}
        if e.extra:
            item.update(e.extra)
        manifest["streams"].append(item)
    for e in invalid:
        path = out / "invalid" / f"{e.name}.cmvc"
        path.write_bytes(e.data)
        manifest["streams"].append({"name": e.name, "file": f"invalid/{e.name}.cmvc", "purpose": e.purpose,
                                    "features": e.features, "valid": False, "sha256": hashlib.sha256(e.data).hexdigest(),
                                    "expect": {"error": e.error, "offset": e.offset, "stage": e.stage}})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--refresh-assets", action="store_true")
    a = ap.parse_args(argv)
    m = write_suite(a.out, Assets(HERE, a.refresh_assets))
    nv = sum(1 for s in m["streams"] if s["valid"])
    print(f"wrote {nv} valid and {len(m['streams']) - nv} invalid streams to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
