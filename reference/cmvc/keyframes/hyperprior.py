"""§7.2.3 HYPERPRIOR keyframes: Balle et al. 2018 scale hyperprior (CompressAI ``bmshj2018-hyperprior``).

No weights ship offline: the user gives a checkpoint (a CompressAI state dict; ``cmvc encode
--hyperprior-checkpoint PATH``), the stream declares it by SHA-256 (role KEYFRAME_CODEC), and a
decoder loads it from the model store (``cmvc models add PATH``).  Its entropy coding depends on
floating-point model outputs, so it is same-platform only (spec chapter 11).
"""
from __future__ import annotations

import numpy as np

from ..colour import picture_to_rgb_float, rgb_to_picture
from ..errors import describe, error
from ..registry import CodecId
from ..syntax import HyperpriorParams

CODEC_ID = CodecId.HYPERPRIOR
PAD = 64


def build_model(quality: int, state_dict: dict | None = None):
    try:
        from compressai.zoo import bmshj2018_hyperprior
    except ImportError:
        raise error("E203", "the HYPERPRIOR codec needs CompressAI (pip install 'cmvc[gen]')") from None
    model = bmshj2018_hyperprior(quality=quality, pretrained=False)
    if state_dict is not None:
        try:
            model.load_state_dict(state_dict, strict=False)
        except RuntimeError as e:
            raise error("E202", f"the checkpoint does not fit bmshj2018-hyperprior quality {quality}: {e}") from None
    model.update(force=True)
    model.eval()
    model.requires_grad_(False)  # inference only; encode and decode run under no_grad (not a global switch)
    return model


def _to_tensor(pic, colour):
    import torch
    import torch.nn.functional as F

    rgb = picture_to_rgb_float(pic, colour.matrix_coefficients if colour else 1, colour.full_range if colour else False)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    h, w = x.shape[2:]
    return F.pad(x, (0, -w % PAD, 0, -h % PAD), mode="replicate")


def encode(pictures, quality: int = 1, colour=None, model=None, model_index: int = 0):
    if model is None:
        raise error("E101", "HYPERPRIOR keyframes need a checkpoint (--hyperprior-checkpoint PATH)")
    import torch

    from ..precision import ieee_float32

    out = []
    for p in pictures:
        with torch.no_grad(), ieee_float32():  # the decoder's entropy model must see the same scales
            r = model.compress(_to_tensor(p, colour))
        y, z = r["strings"][0][0], r["strings"][1][0]
        zh, zw = r["shape"]
        out.append((HyperpriorParams(model_index=model_index, quality=quality, latent_height=zh, latent_width=zw,
                                     y_string_size=len(y)), y + z))
    return out


class _Decoder:
    def __init__(self, sh, model=None, device: str = "cpu"):
        self.sh = sh
        self.model = model
        self.device = device  # cpu, cuda or auto (resolved when the model is built)

    def _model(self, params):
        if self.model is None:
            from ..zoo import find_model, load_state_dict

            entry = self.sh.models[params.model_index]
            self.model = build_model(params.quality, load_state_dict(find_model(entry.model_name, entry.sha256.hex())))
        if self.device != "cpu":
            from ..device import resolve_device

            self.device = resolve_device(self.device)
            self.model.to(self.device)
        return self.model

    def decode(self, unit):
        p = unit.codec_params
        want = (-(-self.sh.coded_height // PAD), -(-self.sh.coded_width // PAD))
        if (p.latent_height, p.latent_width) != want:  # §7.2.3: checked before anything is decoded
            raise error("E024", f"keyframe {unit.frame_index}: latent {p.latent_height}x{p.latent_width} (height x "
                                f"width), expected {want[0]}x{want[1]} for {self.sh.coded_width}x{self.sh.coded_height}")
        m = self._model(p)
        y, z = unit.keyframe_data[:p.y_string_size], unit.keyframe_data[p.y_string_size:]
        import torch

        from ..precision import ieee_float32

        try:
            with torch.no_grad(), ieee_float32():  # chapter 11's tolerance assumes float32
                x = m.decompress([[y], [z]], [p.latent_height, p.latent_width])["x_hat"]
        except Exception as e:
            raise error("E024", f"keyframe {unit.frame_index}: hyperprior strings do not decode: {describe(e)}") from None
        w, h = self.sh.coded_width, self.sh.coded_height
        if x.shape[2] < h or x.shape[3] < w:
            raise error("E024", f"keyframe {unit.frame_index}: decoded {x.shape[3]}x{x.shape[2]}, need {w}x{h}")
        rgb = (x[0, :, :h, :w].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        return rgb_to_picture(rgb, self.sh.matrix_coefficients, self.sh.colour_flags.full_range_flag)


def decoder(sh, models=None, device: str = "cpu"):
    return _Decoder(sh, models, device)
