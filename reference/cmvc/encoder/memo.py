"""Remembered keyframe encodes (not normative): rate control's trial encodes, looked up by the
encode of the plan it chooses (:func:`cmvc.encoder.pipeline._code_keyframes`), so that the same
keyframes are not coded twice (the keyframe encoders are deterministic)."""
from __future__ import annotations

import hashlib
from collections import OrderedDict

MEMO_SIZE = 32  # trial encodes remembered for the encode (coded_memo)
_MEMO: OrderedDict = OrderedDict()


def memo_key(codec, pictures, quality, colour, options: dict) -> tuple:
    """The key of a keyframe encode: codec, quality, colour, codec options and the pictures' samples."""
    h = hashlib.blake2b(digest_size=16)
    for p in pictures:
        h.update(f"{p.width}x{p.height}".encode())
        for plane in p.planes():
            h.update(plane.tobytes())
    q = tuple(quality) if isinstance(quality, (list, tuple)) else int(quality)
    return codec, q, colour, tuple(sorted(options.items())), h.digest()


def coded_memo(key: tuple, coded: list | None = None) -> list | None:
    """The coded keyframes remembered under *key* (None if not); with *coded*, remember them (the last
    MEMO_SIZE).  Rate control's trial encodes are remembered, so that the encode of the plan it
    chooses does not code the same keyframes again (the keyframe encoders are deterministic)."""
    if coded is not None:
        _MEMO[key] = coded
        _MEMO.move_to_end(key)
        while len(_MEMO) > MEMO_SIZE:
            _MEMO.popitem(last=False)
        return coded
    return _MEMO.get(key)
