"""CMVC reference implementation (spec/README.md).

The Python API (:mod:`cmvc.api`), loaded on first use so that ``import cmvc`` stays light:

* ``cmvc.encode_file(path, out, **options)``: encode a video file;
* ``cmvc.validate_file(source)``: validate a stream (§6.5);
* ``cmvc.decode_frames(source, device=...)``: decode a stream, frame by frame (§7).
"""
__version__ = "0.1.0"

_API = {"encode_file": "api", "validate_file": "api", "decode_frames": "decode"}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
