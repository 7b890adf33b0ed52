"""float32 arithmetic for the tolerance-defined networks (§7.5, §7.2.3, chapter 11).

The spec makes the RIFE network's arithmetic IEEE binary32, and Table 11-1's bounds hold only then
(reduced precision fails them: spec 11.1, docs/experiments.md §4.3).  torch lets a host process lower
the precision of float32 convolutions and matrix products process-wide (e.g.
``torch.backends.mkldnn.conv.fp32_precision = "bf16"``; its cuDNN convolutions default to TF32), so a
library decoder cannot assume the default.  :func:`ieee_float32` sets every such knob this torch has
to full precision for the duration of a network call and puts the host's values back afterwards.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

# (object path under torch.backends, attribute): the per-operation precision knobs of torch >= 2.9,
# whose value "ieee" means IEEE float32; the most specific one decides, so the operation-level knobs
# are the ones set.  Older torch has only the legacy flags below.
_KNOBS = (("mkldnn.conv", "fp32_precision"), ("mkldnn.matmul", "fp32_precision"),
          ("cudnn.conv", "fp32_precision"), ("cuda.matmul", "fp32_precision"))
_LEGACY = (("cudnn", "allow_tf32", False), ("cuda.matmul", "allow_tf32", False))


def _resolve(path: str):
    obj = torch.backends
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _available() -> list[tuple[object, str, object]]:
    """(object, attribute, full-precision value) for each knob this torch has."""
    found = []
    for path, attr in _KNOBS:
        obj = _resolve(path)
        if obj is not None and hasattr(obj, attr):
            found.append((obj, attr, "ieee"))
    if not found:
        for path, attr, value in _LEGACY:
            obj = _resolve(path)
            if obj is not None and hasattr(obj, attr):
                found.append((obj, attr, value))
    return found


@contextlib.contextmanager
def ieee_float32() -> Iterator[None]:
    """Run the block with float32 convolutions and matrix products at full (IEEE) precision, whatever
    the process set; restore the previous settings on exit, also on error."""
    saved = []
    try:
        for obj, attr, value in _available():
            saved.append((obj, attr, getattr(obj, attr)))
            setattr(obj, attr, value)
        yield
    finally:
        for obj, attr, old in reversed(saved):
            setattr(obj, attr, old)


def current_settings() -> dict[str, object]:
    """The knobs :func:`ieee_float32` controls and their values now (for tests and diagnostics)."""
    out = {}
    for path, attr in _KNOBS:
        obj = _resolve(path)
        if obj is not None and hasattr(obj, attr):
            out[f"{path}.{attr}"] = getattr(obj, attr)
    return out
