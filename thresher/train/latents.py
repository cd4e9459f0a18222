"""VAE latents for latent-space training: encode a training set once, cache it, decode samples.

Latents are the mean of the ``AutoencoderKL`` posterior, shifted and scaled as the VAE's config says
((z − shift_factor)·scaling_factor, which gives roughly unit variance), so the flow works at the noise
scale it assumes. The mean rather than a posterior draw keeps the cache deterministic.

The cache is one safetensors file per (source fingerprint or revision, VAE, resolution), holding latents
and the sample ids they belong to. Every subset of that source reuses it; rows it lacks are encoded and
appended. Under ``accelerate launch`` rank 0 encodes first and the other ranks then read its file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import torch
from accelerate import PartialState
from diffusers import AutoencoderKL
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from thresher.device import autocast_dtype, pick_device
from thresher.errors import ThresherError
from thresher.train.training_set import TrainingSet


def load_vae(name: str, device: torch.device | None = None) -> AutoencoderKL:
    """An ``AutoencoderKL`` from a Hub id or local folder (a pipeline folder's ``vae/`` subfolder works too)."""
    local = Path(name)
    subfolder = (
        "vae" if (local / "vae" / "config.json").is_file() and not (local / "config.json").is_file() else None
    )
    try:
        if _is_tiny_autoencoder(local):
            from thresher.train.autoencoder import TinyAutoencoder

            vae = TinyAutoencoder.from_pretrained(name)
        else:
            vae = AutoencoderKL.from_pretrained(name, subfolder=subfolder)
    except (OSError, ValueError) as exc:
        raise ThresherError(f"cannot load the VAE {name!r}: {str(exc).splitlines()[0]}") from None
    return vae.to(device or "cpu").eval().requires_grad_(False)


def _is_tiny_autoencoder(folder: Path) -> bool:
    config = folder / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("_class_name") == "TinyAutoencoder"


def vae_downsample_factor(vae: AutoencoderKL) -> int:
    """How many pixels one latent cell spans per side (8 for the Stable Diffusion VAEs)."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def _shift(vae: AutoencoderKL) -> float:
    return vae.config.shift_factor or 0.0


def latent_cache_path(cache_dir: Path, source_key: str, vae_name: str, resolution: int) -> Path:
    """The cache file for one (source fingerprint/revision, VAE, resolution)."""
    digest = hashlib.sha256(f"{source_key}\n{vae_name}\n{resolution}".encode()).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{vae_name}-{resolution}px").strip("_")[-60:]
    return cache_dir / f"latents-{readable}-{digest}.safetensors"


def _read_cache(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    if not path.is_file():
        return torch.empty(0, dtype=torch.long), torch.empty(0)
    with safe_open(path, framework="pt") as cache:
        return cache.get_tensor("sample_ids"), cache.get_tensor("latents")


@torch.no_grad()
def encode_images(
    images: torch.Tensor, vae: AutoencoderKL, batch_size: int = 32, precision: str = "auto"
) -> torch.Tensor:
    """Scaled latents (float32, CPU) of uint8 N×C×H×W ``images``."""
    device = next(vae.parameters()).device
    dtype = autocast_dtype(device, precision)
    chunks = []
    for start in tqdm(range(0, len(images), batch_size), desc="encoding latents", unit="batch"):
        pixels = images[start : start + batch_size].to(device).float() / 127.5 - 1.0
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            mean = vae.encode(pixels).latent_dist.mode()
        chunks.append(((mean.float() - _shift(vae)) * vae.config.scaling_factor).cpu())
    return torch.cat(chunks)


@torch.no_grad()
def decode_latents(latents: torch.Tensor, vae: AutoencoderKL, batch_size: int = 32) -> torch.Tensor:
    """uint8 N×C×H×W images from scaled latents (the inverse of :func:`encode_images`)."""
    device = next(vae.parameters()).device
    chunks = []
    for start in range(0, len(latents), batch_size):
        z = latents[start : start + batch_size].to(device).float() / vae.config.scaling_factor + _shift(vae)
        pixels = vae.decode(z).sample
        chunks.append(((pixels.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu())
    return torch.cat(chunks)


def encode_training_set(
    data: TrainingSet,
    vae_name: str,
    cache_dir: Path,
    source_key: str,
    *,
    patch_size: int,
    batch_size: int = 32,
    device: str | None = None,
) -> TrainingSet:
    """The latent-space version of a pixel :class:`TrainingSet`, encoded once and cached under ``cache_dir``.

    ``source_key`` identifies the pixels (the source's fingerprint or pinned revision); rows are matched
    by sample id. Raises :class:`ThresherError` when the image side is not a multiple of the VAE's
    downsampling factor times the DiT ``patch_size``.
    """
    if data.space != "pixel":
        raise ThresherError(f"training set {data.name!r} is already in latent space")
    resolution = data.resolution
    state = PartialState()
    vae = load_vae(vae_name, pick_device(device) if device else state.device)
    factor = vae_downsample_factor(vae)
    if resolution % (factor * patch_size):
        raise ThresherError(
            f"image size {resolution} is not divisible by the VAE factor {factor} × patch size {patch_size} "
            f"= {factor * patch_size}; resize the images or pick another patch size"
        )
    path = latent_cache_path(cache_dir, source_key, vae_name, resolution)
    with state.main_process_first():
        cached_ids, cached = _read_cache(path)
        missing = ~torch.isin(data.sample_ids, cached_ids)
        if missing.any() and state.is_main_process:
            fresh = encode_images(data.images[missing], vae, batch_size)
            cached_ids = torch.cat([cached_ids, data.sample_ids[missing].long()])
            cached = torch.cat([cached, fresh]) if len(cached) else fresh
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            save_file({"sample_ids": cached_ids.contiguous(), "latents": cached.contiguous()}, partial)
            partial.replace(path)  # readers never see a half-written cache
    order = torch.argsort(cached_ids)
    position = order[torch.searchsorted(cached_ids[order], data.sample_ids).clamp(max=len(order) - 1)]
    if not torch.equal(cached_ids[position], data.sample_ids.long()):
        raise ThresherError(f"latent cache {path} lacks rows of {data.name!r}; delete it and encode again")
    return replace(data, images=cached[position], space="latent", vae=vae_name)
