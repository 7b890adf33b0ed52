"""The device the networks run on (RIFE, HYPERPRIOR; spec §7.5: IEEE float32 on any device)."""
from __future__ import annotations

from .errors import error

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(name: str) -> str:
    """``cpu``, ``cuda`` (or ``cuda:N``) or ``auto`` (cuda when torch sees one): the device of the
    networks.  ``cpu`` does not import torch; another name is E113, cuda without a CUDA device E210."""
    cuda_n = name.startswith("cuda:") and name[5:].isdigit()
    if name not in DEVICES and not cuda_n and not (name.startswith("cpu:") and name[4:].isdigit()):
        raise error("E113", f"unknown device {name!r} (use one of {', '.join(DEVICES)})")
    if name == "cpu" or (name.startswith("cpu:") and name[4:].isdigit()):  # torch's names of the CPU
        return name
    import torch

    if torch.cuda.is_available():
        if cuda_n and int(name[5:]) >= torch.cuda.device_count():
            raise error("E210", f"device {name} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)")
        return "cuda" if name == "auto" else name
    if name != "auto":
        raise error("E210", f"device {name} asked for, but torch sees no CUDA device")
    return "cpu"
