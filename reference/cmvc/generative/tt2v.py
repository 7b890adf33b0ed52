"""§7.7 TT2V: frames generated from the stream's captions by a diffusers text-to-video pipeline.

The GENERATION model is a diffusers pipeline directory (TextToVideoSDPipeline, or any pipeline that
takes prompt, num_frames, height, width, num_inference_steps and generator and returns frames),
declared by its directory SHA-256.  The prompt is the GLOBAL caption followed by the MOTION captions
in stream order, joined by ". "; the generator is seeded with rng_seed; the preset (recon_param)
gives the sampling steps; frames are generated at the coded size rounded up to a multiple of 8 and
resized to the output size (Lanczos), then converted by §7.2.2.
"""
from __future__ import annotations

import numpy as np

from ..colour import rgb_to_picture
from ..errors import error
from ..registry import TextRole, UnitType
from . import PRESETS, check_model


def prompt_of(ps) -> str:
    from ..text import decode_text_unit

    caps = [(u.body.role, decode_text_unit(u.body.coding_method, u.body.num_tokens, u.body.text_data))
            for u in ps.of_type(UnitType.TEXT)]
    glob = [t for r, t in caps if r == TextRole.GLOBAL]
    motion = [t for r, t in caps if r == TextRole.MOTION_CAPTION]
    return ". ".join(x for x in glob + motion if x)


def generate(ps, model_path: str | None, device: str = "cpu") -> list:
    """The stream's frame_count pictures from its text (§7.7)."""
    sh = ps.sequence_header
    if model_path is None:
        raise error("E201", "TT2V streams need the text-to-video model: cmvc decode --t2v-model PATH")
    entry = sh.models[sh.recon_model]
    check_model(model_path, entry.sha256, entry.model_name)
    try:
        import torch
        from diffusers import DiffusionPipeline
        from PIL import Image
    except ImportError:
        raise error("E203", "TT2V needs the 'gen' extra (diffusers)") from None
    try:
        pipe = DiffusionPipeline.from_pretrained(model_path).to(device)
    except Exception as e:
        raise error("E201", f"cannot load a text-to-video pipeline from {model_path}: {e}") from None
    pipe.set_progress_bar_config(disable=True)
    h8, w8 = -(-sh.coded_height // 8) * 8, -(-sh.coded_width // 8) * 8
    g = torch.Generator(device="cpu").manual_seed(sh.rng_seed)
    out = pipe(prompt=prompt_of(ps), num_frames=sh.frame_count, height=h8, width=w8,
               num_inference_steps=PRESETS[sh.recon_param][1], generator=g, output_type="np")
    frames = np.asarray(out.frames[0] if isinstance(out.frames, (list, tuple)) or np.ndim(out.frames) == 5 else out.frames)
    pics = []
    for f in frames[: sh.frame_count]:
        img = Image.fromarray((np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((sh.width, sh.height), Image.LANCZOS)
        pics.append(rgb_to_picture(np.asarray(img), sh.matrix_coefficients, sh.colour_flags.full_range_flag))
    if len(pics) != sh.frame_count:
        raise error("E201", f"the pipeline made {len(pics)} frames, the stream needs {sh.frame_count}")
    return pics
