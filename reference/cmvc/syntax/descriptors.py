"""Syntax descriptors (spec §2.3) as construct classes.

Every field of every syntax structure is one of these (or a construct primitive mapped to a
descriptor in :func:`descriptor_of`).  Each class knows how to describe itself for the spec's
syntax tables (``descriptor`` and ``constraint``), and raises the package's own errors with the
field's offset and path; no construct exception leaves :mod:`cmvc.parse`.

Offsets raised here are relative to the stream the construct reads; the unit layer makes them
absolute with :meth:`cmvc.errors.CmvcError.relocate`.
"""
from __future__ import annotations

import operator

from typing import Any, Callable

import construct as cs
from construct import Construct, stream_read, stream_tell, stream_write

from ..errors import error

U8, U16, U32, U64 = cs.Int8ub, cs.Int16ub, cs.Int32ub, cs.Int64ub


def field_path(path: str) -> str:
    """Turn construct's ``(parsing) -> a -> b`` into ``a.b``."""
    parts = [p.strip() for p in path.split("->")]
    parts = [p[4:] if p.startswith("None") else p for p in parts]
    parts = [p for p in parts if p and not p.startswith("(")]
    return ".".join(parts).replace(".[", "[")


def _eval(value: Any, context: Any) -> Any:
    return value(context) if callable(value) else value


def limits_of(context: Any):
    """The :class:`cmvc.levels.Level` passed to parse/build as ``level=``, or None."""
    params = getattr(context, "_params", None) or {}
    return params.get("level") if hasattr(params, "get") else None


class Leb128(Construct):
    """``leb128()``: unsigned LEB128, 1 to 5 bytes, minimal, value at most 2^32-1 (§2.3)."""

    descriptor = "leb128()"

    def _parse(self, stream, context, path):
        start = stream_tell(stream, path)
        value = 0
        for i in range(5):
            byte = stream_read(stream, 1, path)[0]
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if i > 0 and byte == 0:
                    raise error("E007", "leb128() is not minimal (last byte is 0x00)", offset=start,
                                path=field_path(path))
                if value > 0xFFFFFFFF:
                    raise error("E007", f"leb128() value {value} exceeds 2^32-1", offset=start,
                                path=field_path(path))
                return value
        raise error("E007", "leb128() longer than 5 bytes", offset=start, path=field_path(path))

    def _build(self, obj, stream, context, path):
        try:  # any integer type (numpy's too), not bool
            value = operator.index(obj) if not isinstance(obj, bool) else None
        except TypeError:
            value = None
        if value is None or not 0 <= value <= 0xFFFFFFFF:
            raise error("E101", f"leb128() value must be an integer in 0..2^32-1, got {obj!r} "
                        f"({type(obj).__name__})", path=field_path(path))
        obj = value
        data = encode_leb128(obj)
        stream_write(stream, data, len(data), path)
        return obj

    def _sizeof(self, context, path):
        raise cs.SizeofError("leb128() is variable-length", path=path)


def encode_leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class String(Construct):
    """``string()``: a leb128() byte count followed by that many bytes of UTF-8 (§2.3)."""

    descriptor = "string()"

    def __init__(self, max_bytes: int = 4096):
        super().__init__()
        self.max_bytes = max_bytes
        self._len = Leb128()

    def _parse(self, stream, context, path):
        start = stream_tell(stream, path)
        n = self._len._parsereport(stream, context, path)
        if n > self.max_bytes:
            raise error("E019", f"string() of {n} bytes exceeds {self.max_bytes}", offset=start, path=field_path(path))
        data = stream_read(stream, n, path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise error("E021", f"string() is not valid UTF-8 ({e.reason})", offset=start, path=field_path(path))

    def _build(self, obj, stream, context, path):
        if not isinstance(obj, str):
            raise error("E101", f"string() needs str, got {type(obj).__name__}", path=field_path(path))
        data = obj.encode("utf-8")
        if len(data) > self.max_bytes:
            raise error("E101", f"string() of {len(data)} bytes exceeds {self.max_bytes}", path=field_path(path))
        self._len._build(len(data), stream, context, path)
        stream_write(stream, data, len(data), path)
        return obj

    @property
    def constraint(self) -> str:
        return f"at most {self.max_bytes} bytes"


class Rest(Construct):
    """``b(*)``: all remaining bytes of the payload."""

    descriptor = "b(*)"

    def _parse(self, stream, context, path):
        return stream.read()

    def _build(self, obj, stream, context, path):
        if not isinstance(obj, (bytes, bytearray)):
            raise error("E101", f"b(*) needs bytes, got {type(obj).__name__}", path=field_path(path))
        stream_write(stream, bytes(obj), len(obj), path)
        return obj


class Checked(cs.Subconstruct):
    """A field whose value must satisfy a rule; the rule text goes into the spec table.

    ``rule(value, context)`` returns None when the value is valid, else ``(code, message)``.
    """

    def __init__(self, subcon: Construct, rule: Callable[[Any, Any], tuple[str, str] | None], constraint: str):
        super().__init__(subcon)
        self.rule = rule
        self.constraint = constraint

    def _parse(self, stream, context, path):
        start = stream_tell(stream, path)
        value = self.subcon._parsereport(stream, context, path)
        bad = self.rule(value, context)
        if bad:
            raise error(bad[0], bad[1], offset=start, path=field_path(path))
        return value

    def _build(self, obj, stream, context, path):
        try:
            bad = self.rule(obj, context)
        except (TypeError, AttributeError):
            bad = ("E101", f"value {obj!r} has the wrong type")
        if bad:
            raise error("E101", f"cannot build: {bad[1]}", path=field_path(path))
        return self.subcon._build(obj, stream, context, path)


def Range(subcon: Construct, lo: int, hi: Any = None, *, level: str | None = None,
          hi_text: str | None = None) -> Checked:
    """A value in ``lo..hi`` (E019), and at most the bound *level* of the stream's level (E008)."""

    def rule(value, context):
        top = _eval(hi, context) if hi is not None else None
        if value < lo or (top is not None and value > top):
            return "E019", f"value {value} outside {lo}..{top if top is not None else 'inf'}"
        lim = limits_of(context)
        if level and lim is not None and value > getattr(lim, level):
            return "E008", f"value {value} exceeds {level} = {getattr(lim, level)} of level {lim.name}"
        return None

    text = f"{lo} <= value" + (f" <= {hi_text or hi}" if hi is not None else "")
    if level:
        text += f"; value <= {level} of the level"
    return Checked(subcon, rule, text)


class Present(cs.IfThenElse):
    """An element read only when a condition on earlier elements holds (the spec's ``if (cond)``
    rows); absent, its value is None and its semantics give the inferred value."""

    def __init__(self, cond: Callable[[Any], bool], subcon: Construct, cond_text: str):
        super().__init__(cond, subcon, cs.Pass)
        self.cond_text = cond_text

    def _build(self, obj, stream, context, path):
        if not self.condfunc(context):
            if obj is not None:
                raise error("E101", f"{field_path(path)} must be None when not ({self.cond_text})",
                            path=field_path(path))
            return None
        if obj is None:
            raise error("E101", f"{field_path(path)} is required when {self.cond_text}", path=field_path(path))
        return self.thensubcon._build(obj, stream, context, path)


def optional_field(subcon: Present, doc: str) -> Any:
    """A dataclass field for a :class:`Present` element: keyword-only, None by default."""
    import dataclasses

    return dataclasses.field(default=None, kw_only=True, metadata={"subcon": cs.Renamed(subcon, newdocs=doc)})


class Registered(cs.Subconstruct):
    """A value of a registry (:mod:`cmvc.registry`); other values are reserved (E011)."""

    def __init__(self, subcon: Construct, enum: type, code: str = "E011"):
        super().__init__(subcon)
        self.enum = enum
        self.code = code

    @property
    def constraint(self) -> str:
        return f"registered in {self.enum.__name__} (Table {registry_table(self.enum)})"

    def _parse(self, stream, context, path):
        start = stream_tell(stream, path)
        value = self.subcon._parsereport(stream, context, path)
        try:
            return self.enum(value)
        except ValueError:
            raise error(self.code, f"{value} is not a registered {self.enum.__name__}", offset=start,
                        path=field_path(path)) from None

    def _build(self, obj, stream, context, path):
        try:
            obj = self.enum(obj)
        except ValueError:
            raise error("E101", f"{obj!r} is not a registered {self.enum.__name__}", path=field_path(path)) from None
        self.subcon._build(int(obj), stream, context, path)
        return obj


def registry_table(enum: type) -> str:
    from ..registry import REGISTRIES

    for num, e in REGISTRIES:
        if e is enum:
            return num
    return "?"


class Repeat(cs.Subconstruct):
    """``name[i]`` for i in 0..count-1; puts the index into error paths."""

    def __init__(self, count: Any, subcon: Construct, count_text: str):
        super().__init__(subcon)
        self.count = count
        self.count_text = count_text

    def _parse(self, stream, context, path):
        n = _eval(self.count, context)
        out = cs.ListContainer()
        offsets = getattr(context._params, "offsets", None)
        for i in range(n):
            if offsets is not None:
                offsets[field_path(f"{path}[{i}]")] = stream_tell(stream, path)
            out.append(self.subcon._parsereport(stream, context, f"{path}[{i}]"))
        return out

    def _build(self, obj, stream, context, path):
        n = _eval(self.count, context)
        if len(obj) != n:
            raise error("E101", f"expected {n} items, got {len(obj)}", path=field_path(path))
        for i, item in enumerate(obj):
            self.subcon._build(item, stream, context, f"{path}[{i}]")
        return obj


class Payload(Construct):
    """``b(n)``: exactly *n* bytes; checks that they exist before reading them (E002)."""

    def __init__(self, length: Any, length_text: str):
        super().__init__()
        self.length = length
        self.descriptor = f"b({length_text})"

    def _parse(self, stream, context, path):
        n = _eval(self.length, context)
        pos = stream_tell(stream, path)
        size = getattr(context._params, "stream_size", None)
        if size is not None and pos + n > size:
            raise error("E002", f"{field_path(path)} needs {n} bytes from byte {pos}; the data ends at byte {size}",
                        offset=size, path=field_path(path))
        return stream_read(stream, n, path)

    def _build(self, obj, stream, context, path):
        stream_write(stream, bytes(obj), len(obj), path)
        return obj


def Zero(bits: int) -> Checked:
    """``f(n)`` reserved bits that shall be 0 (E010)."""
    return Checked(cs.BitsInteger(bits), lambda v, c: None if v == 0 else ("E010", f"reserved bits are {v:#x}, not 0"),
                   "= 0")


class BitGroup(cs.Subconstruct):
    """A byte-aligned group of ``f(n)`` fields; errors inside point at the group's first byte."""

    def _parse(self, stream, context, path):
        from ..errors import CmvcError

        start = stream_tell(stream, path)
        try:
            return self.subcon._parsereport(stream, context, path)
        except CmvcError as e:
            e.offset = start
            raise


def Flags(dc_type) -> BitGroup:
    from construct_typed import DataclassBitStruct

    return BitGroup(DataclassBitStruct(dc_type))


class Tracked(cs.Subconstruct):
    """Records the field's start offset under its path in ``offsets`` (a parse parameter)."""

    def _parse(self, stream, context, path):
        offsets = getattr(context._params, "offsets", None)
        if offsets is not None:
            offsets[field_path(path)] = stream_tell(stream, path)
        return self.subcon._parsereport(stream, context, path)

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, context, path)


class Syntax:
    """Factory: a DataclassStruct whose fields record their offsets (see :class:`Tracked`)."""

    def __new__(cls, dc_type):
        import dataclasses as _dc

        from construct_typed import DataclassStruct

        st = DataclassStruct(dc_type)
        st.subcon = cs.Struct(**{f.name: Tracked(f.metadata["subcon"]) for f in _dc.fields(dc_type)})
        st.syntax_name = getattr(dc_type, "syntax_name", None)
        return st
