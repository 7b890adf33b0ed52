"""§6.5 Semantic checks: every rule that can be checked without reconstructing pixels.

Each rule is one "It is a requirement of bitstream conformance that ..." sentence of the spec;
its error code is given next to it there.
"""
from __future__ import annotations

import bisect
import contextlib
import dataclasses
from typing import BinaryIO

from .errors import CmvcError, error
from .parse import ParsedStream, UnitRecord, parse
from .registry import PROFILE_TOOLS, RECON_NEEDS_MODEL, CodecId, Mode, ModelRole, Profile, UnitType
from .syntax import NO_MODEL, HyperpriorParams, KeyframeUnit, SequenceHeader
from .syntax.keyframe import ORDINAL_FIELDS, group_members
from .syntax.interp import covered_segments, decode_segments
from .text import decode_text_units
from .zoo import ZOO

#: Keyframe codecs whose units form one bitstream (§5.4): the field that numbers the unit in it.
SEQUENCE_CODECS = ORDINAL_FIELDS


@dataclasses.dataclass
class KeyframeRef:
    """One coded keyframe in stream order: a keyframe_unit(), or keyframe *member* of a
    keyframe_group_unit() as the keyframe_unit() it stands for (§5.9)."""

    rec: UnitRecord
    body: KeyframeUnit
    member: int | None = None  # position in the group; None for a keyframe unit
    data_offset: int = 0  # absolute offset of the coded picture

    @property
    def path(self) -> str:
        if self.member is None:
            return f"{self.rec.path}.keyframe.keyframe_data"
        return f"{self.rec.path}.keyframe_group.keyframe_data[{self.member}]"


def keyframe_refs(ps: ParsedStream) -> list[KeyframeRef]:
    """Every coded keyframe of the stream in order, groups expanded (§5.9); the n-th gets
    ``frame_index = keyframe_index[n]`` (or -1 past the last keyframe).  A group whose sizes leave
    its last picture no bytes (E019) contributes the pictures before it."""
    sh = ps.sequence_header
    kf = sh.keyframe_index if sh is not None else []
    out: list[KeyframeRef] = []
    for rec in ps.units:
        if rec.body is None:
            continue
        if rec.unit_type == UnitType.KEYFRAME:
            out.append(KeyframeRef(rec, rec.body, None, rec.field_offset("keyframe_data")))
        elif rec.unit_type == UnitType.KEYFRAME_GROUP:
            for i, (pos, unit) in enumerate(group_members(rec.body)):
                if unit is None:
                    break
                n = len(out)
                unit.frame_index = kf[n] if n < len(kf) else -1
                out.append(KeyframeRef(rec, unit, i, rec.field_offset("keyframe_data") + pos))
    return out


@dataclasses.dataclass
class Report:
    """Verdict on one stream."""

    valid: bool
    errors: list[CmvcError]
    stream: ParsedStream

    def to_dict(self) -> dict:
        return {"valid": self.valid, "errors": [e.to_dict() for e in self.errors]}


def validate(source: bytes | BinaryIO, *, keep_payloads: bool = False) -> Report:
    """Parse with error collection, then run :func:`check_semantics`."""
    ps = parse(source, collect=True, keep_payloads=keep_payloads)
    errors = list(ps.errors)
    if ps.sequence_header is not None and ps.header is not None:
        errors += check_semantics(ps)
    errors.sort(key=lambda e: (e.offset if e.offset is not None else -1, e.code))  # §6.6: stream order, then code
    return Report(valid=not errors, errors=errors, stream=ps)


def first_overlap(spans: list[tuple[int, int]], start: int, end: int) -> int | None:
    """The first frame of [start, end) inside one of the sorted disjoint half-open *spans*, or None."""
    i = bisect.bisect_right(spans, (start, float("inf"))) - 1  # the last span starting at or before start
    for a, b in spans[max(i, 0): i + 2]:
        lo = max(a, start)
        if lo < min(b, end):
            return lo
    return None


def add_span(spans: list[tuple[int, int]], start: int, end: int) -> None:
    """Insert [start, end) into the sorted disjoint *spans*, merging the spans it touches."""
    if start >= end:
        return
    i = bisect.bisect_left(spans, (start, start))
    if i > 0 and spans[i - 1][1] >= start:
        i -= 1
    j = i
    while j < len(spans) and spans[j][0] <= end:
        start, end = min(start, spans[j][0]), max(end, spans[j][1])
        j += 1
    spans[i:j] = [(start, end)]


@contextlib.contextmanager
def at_model_entry(ps: ParsedStream, index: int):
    """Give a model error raised inside the block (E201 unavailable, E202 other hash, E204 unloadable)
    that names no position the position of the sequence header's ``models[index]`` entry, the
    declaration of the model (§5.2): its model_sha256 for E202, its model_name otherwise."""
    try:
        yield
    except CmvcError as e:
        if e.code in ("E201", "E202", "E204", "E220") and e.offset is None:
            rec = next((u for u in ps.units if u.unit_type == UnitType.SEQUENCE_HEADER and u.body is not None), None)
            sh = ps.sequence_header
            if rec is not None and sh is not None and 0 <= index < len(sh.models):
                field = f"models[{index}].{'model_sha256' if e.code == 'E202' else 'model_name'}"
                e.offset, e.path = rec.field_offset(field), f"{_unit_name(rec)}.{field}"
                e.args = (str(e),)
        raise


def _unit_name(rec: UnitRecord) -> str:
    return f"{rec.path}.{UnitType(rec.unit_type).name.lower()}"


class _Semantics:
    """The semantic checks of §6.5 on a parsed stream, one method per syntax structure, each check one
    rule of the spec in its order; the errors are collected, not raised (§6.7)."""

    def __init__(self, ps: ParsedStream) -> None:
        self.ps, self.errs = ps, []
        self.sh_rec = next(u for u in ps.units if u.unit_type == UnitType.SEQUENCE_HEADER and u.body is not None)
        self.sh: SequenceHeader = self.sh_rec.body
        self.profile = Profile(ps.header.profile)
        self.tools = PROFILE_TOOLS[self.profile]

    def bad(self, rec: UnitRecord, field: str, code: str, msg: str) -> None:
        self.errs.append(error(code, msg, offset=rec.field_offset(field),
                               path=f"{_unit_name(rec)}.{field}" if field else _unit_name(rec)))

    def sequence_header(self) -> None:
        """§5.2: profile tools, keyframe_index, declared models."""
        sh = self.sh
        sh_rec = self.sh_rec
        profile = self.profile
        tools = self.tools
        bad = self.bad
        if sh.mode not in tools["mode"]:
            bad(sh_rec, "mode", "E028", f"mode {sh.mode.name} is not allowed in profile {profile.name}")
        if sh.recon_profile not in tools["recon"]:
            bad(sh_rec, "recon_profile", "E028", f"recon_profile {sh.recon_profile.name} is not allowed in profile {profile.name}")
        if (sh.mode == Mode.TT2V) != (sh.recon_profile.name == "T2V_PIPELINE"):
            bad(sh_rec, "recon_profile", "E028", "recon_profile T2V_PIPELINE is used exactly in mode TT2V")
        if sh.recon_param and sh.recon_profile.name == "BLEND":
            bad(sh_rec, "recon_param", "E019", "recon_param must be 0 for BLEND")
        kf = sh.keyframe_index
        if sh.mode == Mode.IT2V:
            if len(kf) < 2:
                bad(sh_rec, "num_keyframes", "E016", f"IT2V needs at least 2 keyframes, got {len(kf)}")
            else:
                if kf[0] != 0:
                    bad(sh_rec, "keyframe_index[0]", "E016", f"the first keyframe is frame {kf[0]}, not 0")
                if kf[-1] != sh.frame_count - 1:
                    bad(sh_rec, f"keyframe_index[{len(kf) - 1}]", "E016",
                        f"the last keyframe is frame {kf[-1]}, not frame_count-1 = {sh.frame_count - 1}")
                for i in range(1, len(kf)):
                    if kf[i] <= kf[i - 1]:
                        bad(sh_rec, f"keyframe_index[{i}]", "E016", f"keyframe_index[{i}] = {kf[i]} is not greater than {kf[i - 1]}")
        elif kf:
            bad(sh_rec, "num_keyframes", "E016", "TT2V streams carry no keyframes")
        for i, m in enumerate(sh.models):
            if m.flags.registered_model_flag and m.model_name not in ZOO:
                bad(sh_rec, f"models[{i}].model_name", "E011", f"model {m.model_name!r} is declared as registered "
                                                                "(registered_model_flag) but is not in §10.9")
        need = RECON_NEEDS_MODEL.get(sh.recon_profile)
        if sh.recon_model != NO_MODEL:
            if sh.recon_model >= len(sh.models):
                bad(sh_rec, "recon_model", "E018", f"recon_model {sh.recon_model} is not declared ({len(sh.models)} models)")
            elif need is not None and sh.models[sh.recon_model].role != need:
                bad(sh_rec, "recon_model", "E018", f"recon_model must have role {need.name}")
        elif need is not None:
            bad(sh_rec, "recon_model", "E018", f"recon_profile {sh.recon_profile.name} needs a model of role {need.name}")

    def keyframes(self) -> None:
        """§5.4, §5.9: keyframe units and groups against keyframe_index and the profile."""
        sh = self.sh
        sh_rec = self.sh_rec
        ps = self.ps
        profile = self.profile
        tools = self.tools
        kf = self.sh.keyframe_index
        errs = self.errs
        bad = self.bad
        refs = keyframe_refs(ps)
        expected = list(kf)
        codecs = {r.body.codec_id for r in refs}
        for rec in ps.of_type(UnitType.KEYFRAME_GROUP):
            g = rec.body
            first = sum(1 for r in refs if r.rec.offset < rec.offset)
            if g.first_keyframe != first:
                bad(rec, "first_keyframe", "E017", f"first_keyframe {g.first_keyframe} != {first}, the number of "
                                                   "keyframes coded before the unit")
            if g.codec_id == CodecId.HYPERPRIOR:
                bad(rec, "codec_id", "E019", "HYPERPRIOR keyframes cannot be grouped: their codec_params differ per picture")
            if sum(g.keyframe_size) >= len(g.keyframe_data):
                bad(rec, "keyframe_size[0]", "E019", f"keyframe_size[] sums to {sum(g.keyframe_size)} of the "
                                                     f"{len(g.keyframe_data)} bytes of keyframe_data: none left for the last keyframe")
        for n, ref in enumerate(refs):
            k, rec, grouped = ref.body, ref.rec, ref.member is not None
            if n >= len(expected) or k.frame_index != expected[n]:
                if grouped:
                    if n >= len(expected):
                        bad(rec, "num_extra_keyframes", "E017", f"the unit codes keyframe {n}; there are {len(expected)} keyframes")
                else:
                    want = f"frame {expected[n]}" if n < len(expected) else "no further keyframe unit"
                    bad(rec, "frame_index", "E017", f"keyframe unit for frame {k.frame_index}; expected {want}")
            if k.codec_id not in tools["codec"]:
                bad(rec, "codec_id", "E028", f"codec {k.codec_id.name} is not allowed in profile {profile.name}")
            if k.codec_id in SEQUENCE_CODECS:
                field = SEQUENCE_CODECS[k.codec_id]
                if len(codecs) > 1:
                    bad(rec, "codec_id", "E028", f"{k.codec_id.name} keyframes cannot be mixed with other keyframe codecs")
                if getattr(k.codec_params, field) != n:
                    got = getattr(k.codec_params, field) - (ref.member or 0)
                    bad(rec, f"codec_params.{field}", "E019", f"{field} {got} != keyframe ordinal {n - (ref.member or 0)}")
            if isinstance(k.codec_params, HyperpriorParams) and not grouped:
                mi = k.codec_params.model_index
                if mi >= len(sh.models) or sh.models[mi].role != ModelRole.KEYFRAME_CODEC:
                    bad(rec, "codec_params.model_index", "E018", f"model_index {mi} is not a declared KEYFRAME_CODEC model")
                if k.codec_params.y_string_size > len(k.keyframe_data):
                    bad(rec, "codec_params.y_string_size", "E019", "y_string_size exceeds keyframe_data")
        if len(refs) < len(expected) and ps.complete:
            eos = ps.units[-1]
            errs.append(error("E017", f"{len(expected) - len(refs)} keyframes have no keyframe unit "
                                      f"(first: frame {expected[len(refs)]})", offset=eos.offset,
                              path=f"{_unit_name(sh_rec)}.keyframe_index[{len(refs)}]"))

    def text_units(self) -> None:
        """§5.5, chapter 8: frame spans and text_data."""
        sh = self.sh
        ps = self.ps
        errs = self.errs
        bad = self.bad
        recs = list(ps.of_type(UnitType.TEXT))
        for rec in recs:
            t = rec.body
            if not t.frame_start <= t.frame_end < sh.frame_count:  # §6.6: the span's start if it lies outside, else its end
                bad(rec, "frame_start" if t.frame_start >= sh.frame_count else "frame_end", "E022", f"frame span {t.frame_start}..{t.frame_end} not within 0..{sh.frame_count - 1}")

        def load(index, entry):  # a missing, altered or malformed text model: at its declaration (§5.3)
            from .text.l1 import load_model

            with at_model_entry(ps, index):
                return load_model(entry.model_name, entry.sha256.hex())

        for rec, r in zip(recs, decode_text_units([rec.body for rec in recs], sh.models, load)):
            if not isinstance(r, CmvcError):
                continue
            if r.fault == "environment":  # at the model's declaration (reported once: check_semantics dedups)
                errs.append(r)
            elif r.code in ("E029", "E030"):  # the unit's coding_method (no model) or num_tokens (too many) is at fault
                bad(rec, "coding_method" if r.code == "E029" else "num_tokens", r.code, r.message)
            else:
                errs.append(r.relocate(rec.field_offset("text_data"), f"{_unit_name(rec)}.text_data"))

    def interp_params(self) -> None:
        """§5.6: covered segments, one unit per segment, param_data."""
        sh = self.sh
        ps = self.ps
        kf = self.sh.keyframe_index
        errs = self.errs
        bad = self.bad
        seen: set[int] = set()
        for rec in ps.of_type(UnitType.INTERP_PARAMS):
            p = rec.body
            segs = covered_segments(p)
            if sh.mode != Mode.IT2V or not 0 <= segs[0] or segs[-1] >= len(kf) - 1:
                what = f"segment {segs[0]}" if len(segs) == 1 else f"segments {segs[0]}..{segs[-1]}"
                field = "segment_index" if len(segs) == 1 or not 0 <= segs[0] < len(kf) - 1 else "num_extra_segments"
                bad(rec, field, "E022", f"{what} do{'es' if len(segs) == 1 else ''} not exist "
                                        f"({max(len(kf) - 1, 0)} segments)")
                continue
            for s in segs:
                if s in seen:
                    bad(rec, "segment_index", "E025", f"a second interpolation-parameter unit for segment {s}")
                    break
            seen.update(segs)
            try:
                decode_segments(p, [kf[s + 1] - kf[s] - 1 for s in segs])
            except CmvcError as e:
                errs.append(e.relocate(rec.field_offset("param_data"), f"{_unit_name(rec)}.param_data"))

    def frame_hashes(self) -> None:
        """§5.7: spans within the frames, no frame hashed twice."""
        sh = self.sh
        ps = self.ps
        bad = self.bad
        covered: list[tuple[int, int]] = []  # disjoint [start, end) spans, sorted: memory per unit, not per frame
        for rec in ps.of_type(UnitType.FRAME_HASH):
            h = rec.body
            if h.first_frame + h.num_frames > sh.frame_count:  # §6.6: as for text spans
                bad(rec, "first_frame" if h.first_frame >= sh.frame_count else "num_frames", "E022", f"frames {h.first_frame}..{h.first_frame + h.num_frames - 1} "
                                                f"exceed frame_count {sh.frame_count}")
            first = first_overlap(covered, h.first_frame, h.first_frame + h.num_frames)
            if first is not None:
                bad(rec, "first_frame", "E025", f"frame {first} already has a hash")
            add_span(covered, h.first_frame, h.first_frame + h.num_frames)

    def padding(self) -> None:
        """§5.8: padding bytes are zero."""
        ps = self.ps
        errs = self.errs
        for rec in ps.of_type(UnitType.PADDING):
            data = rec.body.padding_data
            if data.count(0) != len(data):
                nz = len(data) - len(data.lstrip(b"\0"))
                errs.append(error("E026", f"padding byte {nz} is {data[nz]:#04x}", offset=rec.field_offset("padding_data") + nz,
                                  path=f"{_unit_name(rec)}.padding_data"))


def check_semantics(ps: ParsedStream) -> list[CmvcError]:
    """Every §6.5 semantic error of *ps*, in the order of §6.7, each once."""
    c = _Semantics(ps)
    for step in (c.sequence_header, c.keyframes, c.text_units, c.interp_params, c.frame_hashes, c.padding):
        step()
    errs = c.errs
    unique: dict[tuple, CmvcError] = {}  # the keyframes of one group share its fields: one error each
    for e in errs:
        unique.setdefault((e.code, e.path, e.offset), e)
    return list(unique.values())
