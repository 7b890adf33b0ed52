"""Quality metrics on 8-bit 4:2:0 pictures: PSNR, MS-SSIM (pytorch-msssim) and VMAF (ffmpeg's libvmaf).

All comparisons are made in Y'CbCr as decoded: no colour conversion stands between a codec's output
and the metric (VMAF reads the Y4M files directly).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..picture import Picture
from ..quality import ms_ssim_y, psnr_y  # re-exported: the metrics of the evaluation


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def vmaf(dist_y4m: str, ref_y4m: str, threads: int | None = None) -> float:
    """Pooled mean VMAF (default model) of two Y4M files, frames paired by index."""
    threads = threads or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "vmaf.json")
        graph = (f"[0:v]setpts=N/(25*TB)[d];[1:v]setpts=N/(25*TB)[r];"
                 f"[d][r]libvmaf=log_path={log}:log_fmt=json:n_threads={threads}")
        p = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", dist_y4m, "-i", ref_y4m,
                            "-lavfi", graph, "-f", "null", "-"], capture_output=True, text=True)
        if p.returncode:
            from ..errors import error

            raise error("E203", f"ffmpeg libvmaf failed: {p.stderr.strip()[-300:]}")
        with open(log) as f:
            return float(json.load(f)["pooled_metrics"]["vmaf"]["mean"])


def vmaf_scorer(dist: list[Picture], ref: list[Picture], fps: Fraction = Fraction(25)) -> float:
    """Pooled mean VMAF of two picture sequences (a rate-control scorer, :func:`cmvc.encoder.rate_control.plan`)."""
    from .video import write_y4m

    with tempfile.TemporaryDirectory() as d:
        write_y4m(os.path.join(d, "d.y4m"), dist, fps)
        write_y4m(os.path.join(d, "r.y4m"), ref, fps)
        return vmaf(os.path.join(d, "d.y4m"), os.path.join(d, "r.y4m"))


def all_metrics(dist: list[Picture], ref: list[Picture], fps: Fraction = Fraction(25), with_vmaf: bool = True) -> dict:
    out = {"psnr_y": psnr_y(dist, ref), "ms_ssim": ms_ssim_y(dist, ref)}
    if with_vmaf:
        out["vmaf"] = vmaf_scorer(dist, ref, fps)
    return out


# ---------------------------------------------------------------- temporal quality
def flicker(dist: list[Picture], ref: list[Picture]) -> float:
    """Temporal flicker: mean over t of mean |(D_t - D_{t-1}) - (S_t - S_{t-1})| on luma (8-bit units).
    0 when the decoded video changes from frame to frame exactly as the source does; lower is better."""
    vals = []
    for t in range(1, len(dist)):
        dd = dist[t].y.astype(np.int32) - dist[t - 1].y.astype(np.int32)
        ds = ref[t].y.astype(np.int32) - ref[t - 1].y.astype(np.int32)
        vals.append(float(np.mean(np.abs(dd - ds))))
    return float(np.mean(vals)) if vals else 0.0


def consistency(dist: list[Picture], ref: list[Picture] | None = None) -> float:
    """Subject/background consistency in the spirit of VBench: mean cosine similarity of the
    features (cmvc.encoder.features thumbnail) of consecutive frames, in [-1, 1]; with *ref*, the decoded
    value minus the source's (0 = as consistent as the source, negative = less)."""
    from ..encoder.features import cosine, thumbnail_features

    def score(pics):
        f = thumbnail_features(pics)
        return float(np.mean([cosine(f[t], f[t - 1]) for t in range(1, len(pics))])) if len(pics) > 1 else 1.0

    return score(dist) - (score(ref) if ref is not None else 0.0)


def motion_smoothness(dist: list[Picture], net=None) -> float:
    """VBench's motion smoothness: drop every odd frame, re-create it with a frame interpolator
    (RIFE) from its neighbours, and score 1 - mean |interpolated - actual| / 255 (1 = perfectly smooth)."""
    from ..recon.rife import RifeReconstructor, load_ifnet
    from ..write import make_sequence_header

    if len(dist) < 3:
        return 1.0
    sh = make_sequence_header(dist[0].width, dist[0].height, 3, [0, 2], recon_profile=1, recon_model=0)
    r = RifeReconstructor(sh, net=net or load_ifnet())
    vals = []
    for t in range(1, len(dist) - 1, 2):
        mid = r.frames_at(dist[t - 1], dist[t + 1], [0.5])[0]
        vals.append(1.0 - float(np.mean(np.abs(mid.y.astype(np.int32) - dist[t].y.astype(np.int32)))) / 255.0)
    return float(np.mean(vals))


# ---------------------------------------------------------------- learned metrics (weights from the user)
def _rgb_batch(pics: list[Picture]):
    import torch

    from ..colour import picture_to_rgb_float

    return torch.from_numpy(np.stack([picture_to_rgb_float(p, 1, False) for p in pics])).permute(0, 3, 1, 2).float()


def lpips_distance(dist: list[Picture], ref: list[Picture], backbone: str) -> float:
    """LPIPS (Zhang et al. 2018, AlexNet v0.1) with the linear layers shipped in the ``lpips``
    package and the AlexNet backbone from *backbone* (a torchvision ``alexnet`` state dict)."""
    import torch

    from ..errors import error
    from ..zoo import load_state_dict

    try:
        import lpips
    except ImportError:
        raise error("E203", "LPIPS needs the 'eval' extra (pip install 'cmvc[eval]')") from None
    model = lpips.LPIPS(pretrained=True, net="alex", pnet_rand=True, verbose=False)
    sd = load_state_dict(Path(backbone))
    where = {}
    for name, _ in model.net.named_modules():
        parts = name.split(".")
        if len(parts) == 2 and parts[0].startswith("slice"):
            where[parts[1]] = parts[0]
    mapped = {}
    for k, v in sd.items():
        m = k.split(".")
        if m[0] == "features" and m[1] in where:
            mapped[f"{where[m[1]]}.{m[1]}.{m[2]}"] = v
    missing = model.net.load_state_dict(mapped, strict=False).missing_keys
    if missing:
        raise error("E202", f"{backbone} is not an AlexNet state dict (missing {missing[:3]})")
    vals = []
    with torch.no_grad():
        for k in range(0, len(dist), 8):
            a, b = _rgb_batch(dist[k:k + 8]) * 2 - 1, _rgb_batch(ref[k:k + 8]) * 2 - 1
            vals += model(a, b).flatten().tolist()
    return float(np.mean(vals))


DISTS_CHANNELS = (3, 64, 128, 256, 512, 512)  # the image itself, then VGG16's five conv stages
_VGG_STAGES = ((0, 4), (5, 9), (10, 16), (17, 23), (24, 30))  # features[a:b]; the max-pools between are replaced
VGG16_FEATURES = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _dists_net(backbone: str):
    """VGG16's convolution stages with each max-pool replaced by L2 pooling (DISTS, Sec. 3.1): sqrt of
    a depthwise 3x3 Hann-window (1 2 1 x 1 2 1 / 16) average of the squared input, stride 2."""
    import torch
    from torch import nn

    from ..errors import error
    from ..zoo import load_state_dict

    layers: list[nn.Module] = []  # torchvision's vgg16().features, configuration D, same indices
    cin = 3
    for v in VGG16_FEATURES:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
            cin = v
    features = nn.Sequential(*layers)
    sd = load_state_dict(Path(backbone))
    want = {f"features.{k}": v for k, v in features.state_dict().items()}
    bad = [k for k, v in want.items() if k not in sd or sd[k].shape != v.shape]
    if bad:
        raise error("E202", f"{backbone} is not a torchvision VGG16 state dict (missing or misshapen {bad[:3]})")
    features.load_state_dict({k.removeprefix("features."): sd[k] for k in want})

    class L2Pool(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            g = torch.tensor([1.0, 2.0, 1.0])
            self.register_buffer("w", (g[:, None] * g[None, :] / 16).expand(c, 1, 3, 3).contiguous())

        def forward(self, x):
            return (nn.functional.conv2d(x * x, self.w, stride=2, padding=1, groups=x.shape[1]) + 1e-12).sqrt()

    stages = []
    for i, (a, b) in enumerate(_VGG_STAGES):
        stages.append(nn.Sequential(*([L2Pool(DISTS_CHANNELS[i])] if i else []), *features[a:b]))
    net = nn.ModuleList(stages).eval()
    net.requires_grad_(False)
    return net


def dists(dist: list[Picture], ref: list[Picture], backbone: str, weights: str | None = None) -> float:
    """DISTS (Ding, Ma, Wang, Simoncelli, "Image Quality Assessment: Unifying Structure and Texture
    Similarity", TPAMI 2020), mean over frames; 0 for identical frames, higher is worse.

    For each stage k (the RGB image in [0, 1], then VGG16's conv stages on ImageNet-normalised input)
    and channel c, with spatial means mx, my, variances vx, vy and covariance cxy of the two feature
    maps: texture l = (2 mx my + c1) / (mx^2 + my^2 + c1), structure s = (2 cxy + c2) / (vx + vy + c2),
    c1 = c2 = 1e-6; DISTS = 1 - sum over k, c of (alpha_kc l + beta_kc s), alpha and beta normalised to
    sum to 1 together.  *backbone*: torchvision VGG16 weights (the user's); *weights*: alpha and beta
    (default: the zoo's ``dists-v0.1``, fetched once from the authors' PyPI wheel)."""
    import torch

    from ..zoo import DISTS_V01, load_state_dict, weights_path

    ab = load_state_dict(Path(weights) if weights else weights_path(DISTS_V01.name))
    alpha, beta = ab["alpha"].flatten().double(), ab["beta"].flatten().double()
    if alpha.numel() != sum(DISTS_CHANNELS) or beta.numel() != sum(DISTS_CHANNELS):
        from ..errors import error

        raise error("E202", f"DISTS weights need {sum(DISTS_CHANNELS)} alpha and beta values")
    total = alpha.sum() + beta.sum()
    alpha, beta = torch.split(alpha / total, DISTS_CHANNELS), torch.split(beta / total, DISTS_CHANNELS)
    net = _dists_net(backbone)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def feats(x):
        out, h = [x], (x - mean) / std
        for stage in net:
            h = stage(h)
            out.append(h)
        return out

    vals: list[float] = []
    with torch.no_grad():
        for k in range(0, len(dist), 4):
            fx, fy = feats(_rgb_batch(dist[k:k + 4])), feats(_rgb_batch(ref[k:k + 4]))
            score = 0.0
            for i, (x, y) in enumerate(zip(fx, fy)):
                x, y = x.double(), y.double()
                mx, my = x.mean((2, 3)), y.mean((2, 3))
                vx, vy = ((x - mx[..., None, None]) ** 2).mean((2, 3)), ((y - my[..., None, None]) ** 2).mean((2, 3))
                cxy = (x * y).mean((2, 3)) - mx * my
                tex = (2 * mx * my + 1e-6) / (mx ** 2 + my ** 2 + 1e-6)
                struct = (2 * cxy + 1e-6) / (vx + vy + 1e-6)
                score = score + (tex * alpha[i]).sum(1) + (struct * beta[i]).sum(1)
            vals += (1 - score).tolist()
    return float(np.mean(vals))


def fid(dist: list[Picture], ref: list[Picture], weights: str) -> float:
    """Frechet Inception Distance between the frames of two videos, with Inception-v3 pool features
    (torchvision architecture, weights from *weights*).  With fewer frames than feature dimensions
    (2048) the covariances are singular and FID is a coarse, biased figure: compare it only between
    codecs on the same clip."""
    import torch
    import torch.nn.functional as F
    from torchvision.models import inception_v3

    from ..zoo import load_state_dict

    net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    net.load_state_dict(load_state_dict(Path(weights)), strict=False)
    net.fc = torch.nn.Identity()
    net.eval()

    def feats(pics):
        out = []
        with torch.no_grad():
            for k in range(0, len(pics), 8):
                x = F.interpolate(_rgb_batch(pics[k:k + 8]), size=(299, 299), mode="bilinear", align_corners=False)
                x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
                out.append(net(x).double().numpy())
        return np.concatenate(out)

    a, b = feats(dist), feats(ref)
    return frechet_distance(a, b)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr(sqrt(S_a S_b)) for feature rows *a*, *b*.

    With centred features A, B the non-zero eigenvalues of S_a S_b are the squared singular values
    of M = A B^T / sqrt((n_a - 1)(n_b - 1)), so Tr(sqrt(S_a S_b)) is the sum of M's singular values:
    exact, and cheap when there are fewer samples than feature dimensions.
    """
    mu1, mu2 = a.mean(0), b.mean(0)
    A, B = a - mu1, b - mu2
    na, nb = max(len(a) - 1, 1), max(len(b) - 1, 1)
    tr_sqrt = np.linalg.svd(A @ B.T / math.sqrt(na * nb), compute_uv=False).sum()
    return float(((mu1 - mu2) ** 2).sum() + (A * A).sum() / na + (B * B).sum() / nb - 2 * tr_sqrt)

