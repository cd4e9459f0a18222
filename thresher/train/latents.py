"""VAE latents for latent-space training: the encoder of a source's latent store, and decoding samples.

Latents are the mean of the ``AutoencoderKL`` posterior, shifted and scaled as the VAE's config says
((z − shift_factor)·scaling_factor, which gives roughly unit variance), so the flow works at the noise
scale it assumes. The mean rather than a posterior draw keeps the latents deterministic.

They are computed once per (source revision, VAE weights, image size, background) into an image store
(:mod:`thresher.catalog.image_store`; :class:`VaeEncoder` is its encoder): a streaming pass that every
subset of the source reuses, split across processes under ``accelerate launch``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL

from thresher.device import autocast_dtype
from thresher.errors import ThresherError
from thresher.progress import track


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


@torch.no_grad()
def encode_images(
    images: torch.Tensor,
    vae: AutoencoderKL,
    batch_size: int = 32,
    precision: str = "auto",
    progress: bool = True,
) -> torch.Tensor:
    """Scaled latents (float32, CPU) of uint8 N×C×H×W ``images``."""
    device = next(vae.parameters()).device
    dtype = autocast_dtype(device, precision)
    chunks = []
    starts = range(0, len(images), batch_size)
    for start in track(starts, "encoding latents", unit="batch", enabled=progress):
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


def weights_sha1(module: torch.nn.Module) -> str:
    """SHA-1 of a module's parameters and buffers (names, dtypes, shapes, bytes): its identity as an encoder."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class VaeEncoder:
    """An autoencoder as the encoder of a latent image store (:class:`thresher.catalog.image_store_build.Encoder`):
    uint8 pixel batches to scaled posterior means."""

    def __init__(self, name: str, device: torch.device | str | None = None, batch_size: int = 32) -> None:
        self.name = name
        self.vae = load_vae(name, torch.device(device) if device is not None else None)
        self.sha1 = weights_sha1(self.vae)
        self.in_channels = int(self.vae.config.in_channels)
        self.factor = vae_downsample_factor(self.vae)
        self.batch_size = batch_size

    def check_side(self, side: int, patch_size: int) -> None:
        """Refuse an image side the VAE and the DiT patches cannot tile (before any row is encoded)."""
        if side % (self.factor * patch_size):
            raise ThresherError(
                f"image size {side} is not divisible by the VAE factor {self.factor} × patch size {patch_size} "
                f"= {self.factor * patch_size}; resize the images or pick another patch size"
            )

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        return encode_images(torch.from_numpy(pixels), self.vae, self.batch_size, progress=False).numpy()
