"""Decoded pictures (8-bit 4:2:0) and the frame hash of §7.9."""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np


@dataclasses.dataclass
class Picture:
    """One 8-bit 4:2:0 picture: Y (H x W), Cb and Cr (ceil(H/2) x ceil(W/2)), uint8."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    @classmethod
    def blank(cls, width: int, height: int, value: int = 128) -> "Picture":
        cw, ch = (width + 1) // 2, (height + 1) // 2
        return cls(np.full((height, width), value, np.uint8), np.full((ch, cw), 128, np.uint8),
                   np.full((ch, cw), 128, np.uint8))

    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.y, self.u, self.v

    def md5(self, h=None) -> bytes:
        """§7.9: MD5 of Y, then Cb, then Cr, each in raster order, one byte per sample.

        With *h* (a hashlib object) the samples are fed into it instead (for MD5_SPAN)."""
        own = h is None
        h = hashlib.md5() if own else h
        for p in self.planes():
            h.update(np.ascontiguousarray(p, dtype=np.uint8).tobytes())
        return h.digest() if own else b""

    def check(self, width: int, height: int) -> None:
        cw, ch = (width + 1) // 2, (height + 1) // 2
        if self.y.shape != (height, width) or self.u.shape != (ch, cw) or self.v.shape != (ch, cw):
            raise ValueError(f"picture planes {self.y.shape}/{self.u.shape}/{self.v.shape} do not fit {width}x{height}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Picture) and all(np.array_equal(a, b) for a, b in zip(self.planes(), other.planes()))


def span_md5(pics) -> bytes:
    """§7.9 MD5_SPAN: one MD5 over the frames in order."""
    h = hashlib.md5()
    for p in pics:
        p.md5(h)
    return h.digest()
