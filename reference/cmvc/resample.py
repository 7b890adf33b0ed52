"""§7.8 Output upsampling: from the coded size to the output size, normative, in integers.

Separable 4-tap bicubic (a = -0.5) interpolation with 16 phases and 6-bit coefficients
(Table 7-2). For an output sample x of a dimension coded with ``n_in`` samples and output with
``n_out``:

    p = ((2*x + 1) * n_in * 8) // n_out - 8      (source position in 1/16 sample, centre-aligned)
    i = p >> 4, f = p & 15
    taps at i-1, i, i+1, i+2, each clamped to 0..n_in-1, weighted by COEF[f][0..3]

The horizontal pass keeps full precision; the vertical pass rounds: (sum + 2048) >> 12, clipped
to 0..255.
"""
from __future__ import annotations

import numpy as np

from .picture import Picture


def _coefficients() -> list[tuple[int, int, int, int]]:
    a = -0.5

    def w(d: float) -> float:
        d = abs(d)
        if d <= 1:
            return (a + 2) * d**3 - (a + 3) * d**2 + 1
        if d < 2:
            return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
        return 0.0

    out = []
    for f in range(16):
        t = f / 16
        c = [int(np.floor(64 * w(d) + 0.5)) for d in (1 + t, t, 1 - t, 2 - t)]
        c[1 if t < 0.5 else 2] += 64 - sum(c)
        out.append(tuple(c))
    return out


COEF = _coefficients()
_C = np.array(COEF, dtype=np.int64)


def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n_out, dtype=np.int64)
    p = ((2 * x + 1) * n_in * 8) // n_out - 8
    i, f = p >> 4, p & 15
    idx = np.clip(i[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
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
    return np.clip((out + 2048) >> 12, 0, 255).astype(np.uint8)


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
