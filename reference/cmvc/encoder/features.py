"""Frame features for keyframe selection (paper Eq. 1).

* ``thumbnail`` (the offline default, no weights): the frame's luma area-averaged to 32x32 and its
  two chroma planes to 16x16, each made zero-mean; cosine similarity of these vectors is the
  correlation of coarse appearance, which falls as content moves or changes.
* ``clip``: CLIP image embeddings through open_clip, with a user-supplied checkpoint
  (``clip:ARCH:PATH``, e.g. ``clip:ViT-B-32:/models/open_clip_vit_b32.pt``).
"""
from __future__ import annotations

import numpy as np

from ..errors import error
from ..picture import Picture


def _area(p: np.ndarray, n: int) -> np.ndarray:
    h, w = p.shape
    ys = (np.arange(n + 1) * h) // n
    xs = (np.arange(n + 1) * w) // n
    c = np.cumsum(np.cumsum(np.pad(p.astype(np.float64), ((1, 0), (1, 0))), 0), 1)
    tot = c[ys[1:]][:, xs[1:]] - c[ys[:-1]][:, xs[1:]] - c[ys[1:]][:, xs[:-1]] + c[ys[:-1]][:, xs[:-1]]
    area = np.maximum(np.outer(np.diff(ys), np.diff(xs)), 1)
    return tot / area


def thumbnail_features(pics: list[Picture]) -> np.ndarray:
    out = []
    for p in pics:
        parts = [_area(p.y, 32), _area(p.u, 16), _area(p.v, 16)]
        out.append(np.concatenate([(x - x.mean()).ravel() for x in parts]))
    return np.stack(out)


def clip_features(pics: list[Picture], spec: str, matrix: int = 1, full_range: bool = False) -> np.ndarray:
    """CLIP image embeddings; *spec* is ``ARCH:CHECKPOINT_PATH``."""
    try:
        import open_clip
        import torch
    except ImportError:
        raise error("E203", "CLIP features need the 'gen' extra (open_clip_torch)") from None
    from PIL import Image

    from ..colour import picture_to_rgb8

    arch, _, path = spec.rpartition(":") if spec.count(":") > 1 or spec.endswith(".json") else spec.partition(":")
    if spec.count(":") > 1:
        arch, path = spec.split(":", 1)
    if not path:
        raise error("E101", "CLIP features need ARCH:CHECKPOINT_PATH, e.g. ViT-B-32:/path/open_clip.pt")
    if arch.endswith(".json"):  # a model config file: register it under its file name
        from pathlib import Path as _P

        open_clip.add_model_config(arch)
        arch = _P(arch).stem
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=path)
    except Exception as e:
        raise error("E201", f"cannot load CLIP {arch} from {path}: {e}") from None
    model.eval()
    feats = []
    with torch.no_grad():
        for p in pics:
            x = preprocess(Image.fromarray(picture_to_rgb8(p, matrix, full_range)))[None]
            feats.append(model.encode_image(x)[0].float().numpy())
    return np.stack(feats)


def features(pics: list[Picture], kind: str = "thumbnail", **colour) -> np.ndarray:
    if kind == "thumbnail":
        return thumbnail_features(pics)
    if kind.startswith("clip:"):
        return clip_features(pics, kind[5:], **colour)
    raise error("E101", f"unknown feature extractor {kind!r} (thumbnail, clip:ARCH:PATH)")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(a @ b / (na * nb))
