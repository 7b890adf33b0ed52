"""The reference encoder (not normative: any encoder whose output conforms is a CMVC encoder).

A decoder needs nothing from this package.  Its modules (docs/encoder.md):

* :mod:`.pipeline`: pictures -> stream (:func:`encode`, :class:`EncoderConfig`);
* :mod:`.keyframe_select`, :mod:`.features`: which frames become keyframes;
* :mod:`.fit`: the interpolation weights of the inner frames;
* :mod:`.rate_control`: the operating point for a bit budget (``--bpp`` / ``--kbps``);
* :mod:`.chunking`: streaming, chunk-parallel encoding of a file;
* :mod:`.caption`: a caption to code as a text unit.

``encode``, ``EncoderConfig``, ``EncodeResult`` and ``Caption`` are loaded on first use, so that
importing one of the light modules (features, caption) does not load the pipeline.
"""
_LAZY = {"encode": "pipeline", "EncoderConfig": "pipeline", "EncodeResult": "pipeline", "Caption": "caption"}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
