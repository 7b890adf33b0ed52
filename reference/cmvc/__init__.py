"""CMVC reference implementation."""
__version__ = "0.1.0"


def __getattr__(name: str):
    """``cmvc.decode_frames``: the streaming decoder (:func:`cmvc.decode.decode_frames`), imported on first use."""
    if name == "decode_frames":
        from .decode import decode_frames

        return decode_frames
    raise AttributeError(f"module 'cmvc' has no attribute {name!r}")
