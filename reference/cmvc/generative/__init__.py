"""Generative modes (spec §7.6, §7.7): the paper's own models through diffusers, peft and transformers.

No weights ship offline: every model is loaded from a user-given directory (``from_pretrained``),
identified in the stream by the SHA-256 of that directory (:func:`dir_sha256`), and every code path
is tested on tiny randomly initialised models built from configs.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import error


def dir_sha256(path: str | os.PathLike) -> str:
    """SHA-256 identity of a model: of a file, its bytes; of a directory, of the sorted lines
    ``<sha256 of file>  <relative path>`` of every file in it (as ``sha256sum`` prints them)."""
    from ..zoo import sha256_file

    p = Path(path)
    if p.is_file():
        return sha256_file(p)
    if not p.is_dir():
        raise error("E201", f"model path {p} does not exist")
    lines = [f"{sha256_file(f)}  {f.relative_to(p).as_posix()}\n" for f in sorted(p.rglob("*")) if f.is_file()]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def check_model(path: str, declared: bytes, name: str) -> None:
    got = dir_sha256(path)
    if got != declared.hex():
        raise error("E202", f"{path} has SHA-256 {got}, but the stream declares {name} as {declared.hex()}")


def device(name: str = "auto") -> str:
    if name == "cpu":  # no torch import for it: a BLEND or PNG decode never loads torch (issue 31)
        return name
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise error("E203", "--device cuda but no CUDA device is available")
    return name


#: SD_LORA / T2V presets selected by recon_param (§7.6): (LoRA training steps, sampling steps)
PRESETS = {0: (100, 50), 1: (20, 10), 2: (4, 3)}
LORA_RANK = 4
LORA_LR = 1e-4
STRENGTH = 0.5  # fraction of the schedule the blended input is noised to (img2img)
