"""§7.4 BLEND: paper Eq. 5 in the pixel domain, integer arithmetic, bit-exact.

    out = (q * I0 + (Top - q) * I1 + Top/2) >> B,   Top = 2^B, w_i = q / Top

for each sample of each plane, I0 the earlier and I1 the later decoded keyframe.
"""
from __future__ import annotations

import numpy as np

from ..picture import Picture


def blend(i0: Picture, i1: Picture, q: int, w_bits: int) -> Picture:
    top = 1 << w_bits

    def one(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return ((q * a.astype(np.int32) + (top - q) * b.astype(np.int32) + (top >> 1)) >> w_bits).astype(np.uint8)

    return Picture(one(i0.y, i1.y), one(i0.u, i1.u), one(i0.v, i1.v))


class BlendReconstructor:
    """Reconstructs the inner frames of a segment (stateless)."""

    name = "blend"

    def __init__(self, sh, models=None) -> None:
        self.sh = sh

    def segment(self, i0: Picture, i1: Picture, q_i: list[int], q_l: list[int] | None, w_bits: int) -> list[Picture]:
        return list(self.iter_segment(i0, i1, q_i, q_l, w_bits))

    def iter_segment(self, i0: Picture, i1: Picture, q_i: list[int], q_l: list[int] | None, w_bits: int):
        """The segment's frames one at a time (the streaming decoder holds one)."""
        for q in q_i:
            yield blend(i0, i1, q, w_bits)
