"""§7.8 Output upsampling: from the coded size to the output size, normative, in integers.

Separable 8-tap Lanczos (a = 4) interpolation with 16 phases and 7-bit coefficients (Table 7-2).
For an output sample x of a dimension coded with ``n_in`` samples and output with ``n_out``:

    p = ((2*x + 1) * n_in * 8) // n_out - 8      (source position in 1/16 sample, centre-aligned)
    i = p >> 4, f = p & 15
    taps at i-3 .. i+4, each clamped to 0..n_in-1, weighted by COEF[f][0..7]

The horizontal pass keeps full precision; the vertical pass rounds: (sum + 8192) >> 14, clipped
to 0..255.  Why Lanczos-4 and not bicubic or Lanczos-3: docs/experiments.md §5.
"""
from __future__ import annotations

import math

import numpy as np

from .picture import Picture

TAPS = 8  # taps at i-3 .. i+4
PHASES = 16
COEF_BITS = 7  # each row of COEF sums to 1 << COEF_BITS


def _lanczos(d: float, a: int = TAPS // 2) -> float:
    if d == 0:
        return 1.0
    if abs(d) >= a:
        return 0.0
    x = math.pi * d
    return a * math.sin(x) * math.sin(x / a) / (x * x)


def _coefficients() -> list[tuple[int, ...]]:
    """Table 7-2: Lanczos (a = 4) at the tap offsets of phase f/16, times 128, rounded to nearest
    (halves up); the tap nearest the position takes what makes the row sum to 128."""
    one, half = 1 << COEF_BITS, TAPS // 2
    out = []
    for f in range(PHASES):
        t = f / PHASES
        c = [int(math.floor(one * _lanczos(k - (half - 1) - t) + 0.5)) for k in range(TAPS)]
        c[half - 1 if t < 0.5 else half] += one - sum(c)
        out.append(tuple(c))
    return out


COEF = _coefficients()
_C = np.array(COEF, dtype=np.int64)


def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n_out, dtype=np.int64)
    p = ((2 * x + 1) * n_in * 8) // n_out - 8
    i, f = p >> 4, p & 15
    idx = np.clip(i[:, None] + np.arange(1 - TAPS // 2, TAPS // 2 + 1)[None, :], 0, n_in - 1)
    return idx, _C[f]


def resize_plane(plane: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    h, w = plane.shape
    if (h, w) == (out_h, out_w):
        return plane.copy()
    s = plane.astype(np.int64)
    ix, cx = _taps(w, out_w)
    tmp = np.einsum("rxk,xk->rx", s[:, ix], cx)
    iy, cy = _taps(h, out_h)
    out = np.einsum("ykx,yk->yx", tmp[iy], cy)
    return np.clip((out + (1 << (2 * COEF_BITS - 1))) >> (2 * COEF_BITS), 0, 255).astype(np.uint8)


def upsample(pic: Picture, width: int, height: int) -> Picture:
    """§7.8: a coded-size picture to the output size."""
    cw, ch = (width + 1) // 2, (height + 1) // 2
    return Picture(resize_plane(pic.y, height, width), resize_plane(pic.u, ch, cw), resize_plane(pic.v, ch, cw))


def downsample(pic: Picture, width: int, height: int) -> Picture:
    """Encoder-side (informative) downscaling with Lanczos filtering."""
    from PIL import Image

    def r(a: np.ndarray, w: int, h: int) -> np.ndarray:
        return np.asarray(Image.fromarray(a).resize((w, h), Image.LANCZOS))

    cw, ch = (width + 1) // 2, (height + 1) // 2
    return Picture(r(pic.y, width, height), r(pic.u, cw, ch), r(pic.v, cw, ch))
