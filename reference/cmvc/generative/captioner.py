"""V2T: captions from a transformers vision-language model (``cmvc encode --captioner PATH_OR_ID``).

Produces a KEYFRAME_CAPTION for each keyframe and a MOTION_CAPTION for each segment (the caption of
the segment's middle frame, prefixed by the prompt when the model takes one).  Any image-to-text
model that ``AutoModelForImageTextToText`` or ``VisionEncoderDecoderModel`` loads, with its
processor, works; weights come from the given path (or a hub id where a hub is reachable).
"""
from __future__ import annotations

from ..colour import picture_to_rgb8
from ..errors import error


class Captioner:
    def __init__(self, path: str, device: str = "cpu", max_new_tokens: int = 24, prompt: str | None = None):
        try:
            import transformers as T
        except ImportError:
            raise error("E203", "captioning needs the 'gen' extra (transformers)") from None
        try:
            cfg = T.AutoConfig.from_pretrained(path)
            if cfg.model_type == "vision-encoder-decoder":
                self.model = T.VisionEncoderDecoderModel.from_pretrained(path)
                self.processor = T.AutoImageProcessor.from_pretrained(path)
                self.tokenizer = T.AutoTokenizer.from_pretrained(path)
            else:
                self.model = T.AutoModelForImageTextToText.from_pretrained(path)
                self.processor = T.AutoProcessor.from_pretrained(path)
                self.tokenizer = getattr(self.processor, "tokenizer", None)
        except Exception as e:
            raise error("E201", f"cannot load a captioning model from {path}: {e}") from None
        self.model.to(device).eval()
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt

    def caption(self, pic, matrix: int = 1, full_range: bool = False) -> str:
        import torch
        from PIL import Image

        img = Image.fromarray(picture_to_rgb8(pic, matrix, full_range))
        with torch.no_grad():
            if hasattr(self, "tokenizer") and self.model.config.model_type == "vision-encoder-decoder":
                pix = self.processor(images=img, return_tensors="pt").pixel_values.to(self.device)
                ids = self.model.generate(pixel_values=pix, max_new_tokens=self.max_new_tokens, do_sample=False)
                text = self.tokenizer.decode(ids[0], skip_special_tokens=True)
            else:
                inputs = self.processor(images=img, text=self.prompt or "", return_tensors="pt").to(self.device)
                ids = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
                text = self.processor.batch_decode(ids, skip_special_tokens=True)[0]
        return " ".join(text.split())

    def captions(self, pics, keyframes: list[int], matrix: int = 1, full_range: bool = False):
        from ..encoder.caption import Caption
        from ..registry import TextRole

        out = [Caption(TextRole.KEYFRAME_CAPTION, k, k, self.caption(pics[k], matrix, full_range)) for k in keyframes]
        for a, b in zip(keyframes, keyframes[1:]):
            if b - a > 1:
                out.append(Caption(TextRole.MOTION_CAPTION, a, b, self.caption(pics[(a + b) // 2], matrix, full_range)))
        return out
