"""§4.6 interp_params_unit(): quantised w_i (Eq. 5) and w_l (Eq. 6) for the frames of one segment.

A *segment* s lies between keyframes ``keyframe_index[s]`` and ``keyframe_index[s+1]``; its
``N = keyframe_index[s+1] - keyframe_index[s] - 1`` inner frames are numbered j = 1..N.
Weights are ``w = q / 2^w_bits`` with integer ``q`` in ``0..2^w_bits``; w weighs the earlier keyframe.
"""
from __future__ import annotations

import dataclasses

import construct as cs
from construct_typed import DataclassMixin, csfield

from ..errors import error
from ..registry import ParamCoding
from .descriptors import U8, Flags, Leb128, Present, Range, Registered, Rest, Zero, Syntax, optional_field

MAX_W_BITS = 12


@dataclasses.dataclass
class InterpFlags(DataclassMixin):
    has_w_i: bool = csfield(cs.Flag, doc="1: param_data carries q_i for every inner frame.")
    has_w_l: bool = csfield(cs.Flag, doc="1: param_data carries q_l for every inner frame.")
    multi_segment_flag: bool = csfield(cs.Flag, doc="1: num_extra_segments follows; the unit covers more than one segment.")
    reserved_zero_5bits: int = csfield(Zero(5), doc="Reserved, 0.")


@dataclasses.dataclass
class InterpParamsUnit(DataclassMixin):
    """§4.6 interp_params_unit()."""

    segment_index: int = csfield(Leb128(), doc="First segment s covered; 0 <= s < num_keyframes-1.")
    w_bits: int = csfield(Range(U8, 1, MAX_W_BITS), doc="Quantiser precision B: w = q / 2^B.")
    flags: InterpFlags = csfield(Flags(InterpFlags))
    num_extra_segments: int | None = optional_field(
        Present(lambda c: c.flags.multi_segment_flag, Range(Leb128(), 1), "multi_segment_flag"),
        doc="The unit covers segments segment_index..segment_index+num_extra_segments; 0 when absent.")
    param_coding: ParamCoding = csfield(Registered(U8, ParamCoding), doc="Table 10-8.")
    param_data: bytes = csfield(Rest(), doc="interp_values() (§4.6.1), then zero bits to the byte boundary.")


INTERP_PARAMS_UNIT = Syntax(InterpParamsUnit)


def covered_segments(unit: InterpParamsUnit) -> range:
    """§5.6: the segments whose weights *unit* carries."""
    return range(unit.segment_index, unit.segment_index + 1 + (unit.num_extra_segments or 0))


def predict(j: int, n: int, w_bits: int) -> int:
    """§4.6.2 linear prediction: round(2^B * (N+1-j) / (N+1)), ties up, in integers."""
    return ((n + 1 - j) * (2 << w_bits) + (n + 1)) // (2 * (n + 1))


class BitReader:
    """Reads bits MSB first (§2.3 ``u(n)`` bit fields, ``ue(v)``, ``se(v)``)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0  # in bits

    def bit(self) -> int:
        if self.pos >= 8 * len(self.data):
            raise error("E027", "param_data ends before all values are read", offset=len(self.data))
        b = (self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return b

    def bits(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit()
        return v

    def ue(self, max_leading: int) -> int:
        start = self.pos >> 3
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > max_leading:
                raise error("E019", f"Exp-Golomb code with more than {max_leading} leading zeros", offset=start)
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self, max_leading: int) -> int:
        k = self.ue(max_leading)
        return (k + 1) >> 1 if k & 1 else -(k >> 1)

    def finish(self) -> None:
        """The rest of the last byte must be zero bits and no byte may follow (E012)."""
        nbytes = (self.pos + 7) >> 3
        if nbytes != len(self.data):
            raise error("E027", f"param_data has {len(self.data) - nbytes} bytes after the last value", offset=nbytes)
        while self.pos & 7:
            at = self.pos >> 3  # the byte holding the bit (§6.6), read before bit() moves past it
            if self.bit():
                raise error("E010", "trailing bits of param_data are not zero", offset=at)


class BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.n = 0

    def bits(self, value: int, n: int) -> None:
        for i in range(n - 1, -1, -1):
            if self.n % 8 == 0:
                self.out.append(0)
            self.out[-1] |= ((value >> i) & 1) << (7 - self.n % 8)
            self.n += 1

    def ue(self, k: int) -> None:
        zeros = (k + 1).bit_length() - 1
        self.bits(0, zeros)
        self.bits(k + 1, zeros + 1)

    def se(self, v: int) -> None:
        self.ue(2 * v - 1 if v > 0 else -2 * v)


def se_bits(v: int) -> int:
    """Length in bits of se(v)."""
    k = 2 * v - 1 if v > 0 else -2 * v
    return 2 * (k + 1).bit_length() - 1


def decode_segments(unit: InterpParamsUnit, counts: list[int]) -> list[tuple[list[int] | None, list[int] | None]]:
    """§4.6.1 interp_values(): (q_i[1..N], q_l[1..N]) of each covered segment, N = counts[k] (lists
    of N, or None when absent).  Errors carry offsets relative to the start of param_data."""
    r = BitReader(unit.param_data)
    top = 1 << unit.w_bits
    series = [k for k, on in (("i", unit.flags.has_w_i), ("l", unit.flags.has_w_l)) if on]
    result = []
    for k_seg, n in enumerate(counts):
        where = f"segment[{unit.segment_index + k_seg}]." if len(counts) > 1 else ""
        out: dict[str, list[int]] = {k: [] for k in series}
        for j in range(1, n + 1 if series else 1):  # no series: nothing to read, whatever N is
            for k in series:
                start = r.pos >> 3
                if unit.param_coding == ParamCoding.FIXED:
                    q = r.bits(unit.w_bits + 1)
                else:
                    q = predict(j, n, unit.w_bits) + r.se(unit.w_bits + 2)
                if not 0 <= q <= top:
                    raise error("E019", f"{where}q_{k}[{j}] = {q} outside 0..{top}", offset=start,
                                path=f"{where}q_{k}[{j}]")
                out[k].append(q)
        result.append((out.get("i"), out.get("l")))
    r.finish()
    return result


def decode_values(unit: InterpParamsUnit, n: int) -> tuple[list[int] | None, list[int] | None]:
    """:func:`decode_segments` for a unit covering one segment of *n* inner frames."""
    return decode_segments(unit, [n])[0]


def encode_segments(counts: list[int], w_bits: int, values: list[tuple[list[int] | None, list[int] | None]],
                    coding: ParamCoding) -> bytes:
    """Inverse of :func:`decode_segments`: the param_data bytes of (q_i, q_l) per segment (every
    segment carries the same series)."""
    w = BitWriter()
    top = 1 << w_bits
    if len(values) != len(counts) or len({(qi is None, ql is None) for qi, ql in values}) > 1:
        raise error("E101", "one (q_i, q_l) per segment, every segment with the same series")
    for n, (q_i, q_l) in zip(counts, values):
        for name, seq in (("q_i", q_i), ("q_l", q_l)):
            if seq is not None and (len(seq) != n or any(not 0 <= q <= top for q in seq)):
                raise error("E101", f"{name} must hold {n} values in 0..{top}")
        for j in range(1, n + 1):
            for seq in (q_i, q_l):
                if seq is None:
                    continue
                q = seq[j - 1]
                if coding == ParamCoding.FIXED:
                    w.bits(q, w_bits + 1)
                else:
                    w.se(q - predict(j, n, w_bits))
    return bytes(w.out)


def encode_values(n: int, w_bits: int, q_i: list[int] | None, q_l: list[int] | None,
                  coding: ParamCoding) -> bytes:
    """Inverse of :func:`decode_values`: the param_data bytes."""
    return encode_segments([n], w_bits, [(q_i, q_l)], coding)


def values_cost_bits(n: int, w_bits: int, q: list[int], coding: ParamCoding) -> int:
    """Bits that :func:`encode_values` spends on one series (before byte alignment)."""
    if coding == ParamCoding.FIXED:
        return n * (w_bits + 1)
    return sum(se_bits(v - predict(j, n, w_bits)) for j, v in enumerate(q, 1))
