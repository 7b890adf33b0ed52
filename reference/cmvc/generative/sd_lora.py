"""§7.6 SD_LORA: the paper's IT2V model (Fig. 3), Stable Diffusion with one LoRA per keyframe.

Decoder, for segment s with decoded keyframes I0, I1 and the stream's global caption c:
1. LoRA_k (rank 4 on the UNet's attention projections) is trained on keyframe k alone with the
   diffusion loss of paper Eq. 4, ||eps - eps_theta(z_t, t, c)||^2, for the preset's number of steps
   (Adam, lr 1e-4); noise and time steps come from a torch generator seeded with rng_seed + k.
2. Inner frame j: the input blend I'_w = w_i I0 + (1 - w_i) I1 (Eq. 5, RGB in [0, 1]) is encoded by
   the VAE, noised to STRENGTH of the DDIM schedule, and denoised with the preset's sampling steps
   by the UNet carrying both LoRAs with weights w_l and 1 - w_l (Eq. 6: the UNet's weight update is
   w_l * dW_0 + (1 - w_l) * dW_1), then decoded by the VAE and converted by §7.2.2.
The encoder fits (w_i, w_l) per frame by gradient descent on the L2 error (Eq. 7-8, lr 0.001) and
transmits them quantised.  Floating point and training make this profile same-platform only.
"""
from __future__ import annotations

import numpy as np

from ..colour import picture_to_rgb_float, rgb_to_picture
from ..errors import error
from ..picture import Picture
from . import LORA_LR, LORA_RANK, PRESETS, STRENGTH, check_model


class SdLora:
    """The diffusion components, loaded from a diffusers StableDiffusionPipeline directory."""

    def __init__(self, path: str, device: str = "cpu", seed: int = 0, preset: int = 0, caption: str = ""):
        try:
            from diffusers import DDIMScheduler, StableDiffusionPipeline
        except ImportError:
            raise error("E203", "SD_LORA needs the 'gen' extra (diffusers, peft, transformers)") from None
        import torch

        try:
            pipe = StableDiffusionPipeline.from_pretrained(path, safety_checker=None, requires_safety_checker=False)
        except Exception as e:
            raise error("E201", f"cannot load a Stable Diffusion pipeline from {path}: {e}") from None
        self.vae, self.unet, self.tok, self.te = pipe.vae, pipe.unet, pipe.tokenizer, pipe.text_encoder
        self.sched = DDIMScheduler.from_config(pipe.scheduler.config)
        self.device = device
        for m in (self.vae, self.unet, self.te):
            m.to(device).requires_grad_(False).eval()
        self.seed = seed
        self.train_steps, self.sample_steps = PRESETS[preset]
        ids = self.tok([caption], padding="max_length", max_length=self.tok.model_max_length, truncation=True,
                       return_tensors="pt").input_ids.to(device)
        with torch.no_grad():
            self.emb = self.te(ids)[0]
        self.scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.sf = getattr(self.vae.config, "scaling_factor", 0.18215)
        self.adapters: list[str] = []

    # -- pictures <-> latents
    def _rgb(self, pic: Picture, mc: int, fr: bool):
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(picture_to_rgb_float(pic, mc, fr)).permute(2, 0, 1)[None].float().to(self.device)
        h, w = x.shape[2:]
        m = 8 * self.scale
        return F.pad(x, (0, -w % m, 0, -h % m), mode="replicate"), (h, w)

    def encode(self, x):
        return self.vae.encode(x * 2 - 1).latent_dist.mean * self.sf

    def decode(self, z):
        return (self.vae.decode(z / self.sf).sample + 1) / 2

    # -- Eq. 4: one LoRA per keyframe
    def train_lora(self, name: str, x, k: int) -> None:
        import torch
        from peft import LoraConfig

        cfg = LoraConfig(r=LORA_RANK, lora_alpha=LORA_RANK, init_lora_weights="gaussian",
                         target_modules=["to_q", "to_k", "to_v", "to_out.0"])
        torch.manual_seed(self.seed + k)  # LoRA initialisation
        self.unet.add_adapter(cfg, adapter_name=name)
        self.unet.set_adapters([name])
        params = [p for n, p in self.unet.named_parameters() if f".{name}." in n]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=LORA_LR)
        g = torch.Generator().manual_seed(self.seed + k)
        with torch.no_grad():
            z0 = self.encode(x)
        for _ in range(self.train_steps):
            t = torch.randint(0, self.sched.config.num_train_timesteps, (1,), generator=g)
            eps = torch.randn(z0.shape, generator=g).to(self.device)
            zt = self.sched.add_noise(z0, eps, t.to(self.device))
            loss = ((self.unet(zt, t.to(self.device), self.emb).sample - eps) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        for p in params:
            p.requires_grad_(False)
        self.adapters.append(name)

    # -- Eq. 5-6: one inner frame (differentiable in w_i, w_l when grad is enabled)
    def generate(self, x0, x1, w_i, w_l, k: int):
        import torch

        names = self.adapters[-2:]
        self.unet.set_adapters(names, weights=[float(w_l), 1.0 - float(w_l)]) if not torch.is_tensor(w_l) else None
        if torch.is_tensor(w_l):  # differentiable Eq. 6 for the encoder's fit
            self.unet.set_adapters(names, weights=[1.0, 1.0])
            self._scale_lora(names, w_l)
        blend = w_i * x0 + (1 - w_i) * x1  # Eq. 5
        z = self.encode(blend)
        self.sched.set_timesteps(self.sample_steps)
        ts = self.sched.timesteps[int(len(self.sched.timesteps) * (1 - STRENGTH)):]
        g = torch.Generator().manual_seed(self.seed + 1000 + k)
        z = self.sched.add_noise(z, torch.randn(z.shape, generator=g).to(self.device), ts[:1])
        for t in ts:
            z = self.sched.step(self.unet(z, t, self.emb).sample, t, z).prev_sample
        if torch.is_tensor(w_l):
            self._scale_lora(names, None)
        return self.decode(z).clamp(0, 1)

    def _scale_lora(self, names, w_l):
        """Multiply each adapter's output by w_l / (1 - w_l) through its scaling dict (differentiably)."""
        for mod in self.unet.modules():
            if hasattr(mod, "scaling") and isinstance(mod.scaling, dict) and names[0] in mod.scaling:
                if w_l is None:
                    mod.scaling[names[0]] = mod.scaling[names[1]] = LORA_RANK / LORA_RANK
                else:
                    mod.scaling[names[0]] = w_l
                    mod.scaling[names[1]] = 1 - w_l


class SdLoraReconstructor:
    """The decoder side of §7.6 (used by :func:`cmvc.decode.reconstructor`)."""

    name = "sd_lora"

    def __init__(self, sh, model_path: str | None = None, device: str = "cpu", caption: str = ""):
        if model_path is None:
            raise error("E201", "SD_LORA streams need the Stable Diffusion model: cmvc decode --sd-model PATH")
        entry = sh.models[sh.recon_model]
        check_model(model_path, entry.sha256, entry.model_name)
        self.sh = sh
        self.sd = SdLora(model_path, device, sh.rng_seed, sh.recon_param, caption)
        self.segment_no = 0

    def prepare(self, i0: Picture, i1: Picture) -> None:
        """Train the segment's two LoRAs (Eq. 4) on its decoded keyframes."""
        mc, fr = self.sh.matrix_coefficients, self.sh.colour_flags.full_range_flag
        x0, (h, w) = self.sd._rgb(i0, mc, fr)
        x1, _ = self.sd._rgb(i1, mc, fr)
        s = self.segment_no
        self.sd.train_lora(f"k{s}a", x0, 2 * s)
        self.sd.train_lora(f"k{s}b", x1, 2 * s + 1)
        self.cur = (x0, x1, h, w)

    def finish(self) -> None:
        self.sd.unet.delete_adapters(self.sd.adapters[-2:])
        del self.sd.adapters[-2:]
        self.segment_no += 1

    def segment(self, i0: Picture, i1: Picture, q_i: list[int], q_l: list[int] | None, w_bits: int) -> list[Picture]:
        import torch

        mc, fr = self.sh.matrix_coefficients, self.sh.colour_flags.full_range_flag
        self.prepare(i0, i1)
        x0, x1, h, w = self.cur
        top = 1 << w_bits
        out = []
        with torch.no_grad():
            for j, (qi, ql) in enumerate(zip(q_i, q_l or q_i)):
                y = self.sd.generate(x0, x1, qi / top, ql / top, 1000 * self.segment_no + j)[0, :, :h, :w]
                rgb = (y.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
                out.append(rgb_to_picture(rgb, mc, fr))
        self.finish()
        return out


def fit_weights(rec: SdLoraReconstructor, i0: Picture, i1: Picture, truth: list[Picture], w_bits: int,
                iters: int = 10, lr: float = 1e-3) -> tuple[list[int], list[int], list[list[float]]]:
    """Eq. 7-8: per frame, gradient descent (Adam, lr 0.001) on ||G(w_i, w_l) - I_j||^2 from the
    linear timing; returns quantised q_i, q_l and each frame's loss history."""
    import torch

    mc, fr = rec.sh.matrix_coefficients, rec.sh.colour_flags.full_range_flag
    rec.prepare(i0, i1)
    x0, x1, h, w = rec.cur
    n = len(truth)
    top = 1 << w_bits
    qi, ql, losses = [], [], []
    for j, t in enumerate(truth, 1):
        target, _ = rec.sd._rgb(t, mc, fr)
        hist = []
        w_i = torch.tensor((n + 1 - j) / (n + 1), requires_grad=True)
        w_l = torch.tensor((n + 1 - j) / (n + 1), requires_grad=True)
        opt = torch.optim.Adam([w_i, w_l], lr=lr)
        for _ in range(iters):
            opt.zero_grad()
            y = rec.sd.generate(x0, x1, w_i.clamp(0, 1), w_l.clamp(0, 1), 1000 * rec.segment_no + j - 1)
            loss = ((y[..., :h, :w] - target[..., :h, :w]) ** 2).mean()
            loss.backward()
            opt.step()
            hist.append(float(loss))
        losses.append(hist)
        qi.append(int(round(float(w_i.clamp(0, 1)) * top)))
        ql.append(int(round(float(w_l.clamp(0, 1)) * top)))
    rec.finish()
    return qi, ql, losses
