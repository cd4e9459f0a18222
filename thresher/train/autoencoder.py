"""A small autoencoder trained once per source, for latent-space training of small images on a CPU.

The pruning research trains its diffusion models in the latent space of its own small VQ-VAE; for
28×28 digits a pixel-space DiT on two CPU cores learns blobs before it learns strokes (see README,
"Demo recipe"). This module trains a tiny convolutional autoencoder (factor 4: 28×28 → 4×7×7) on a
source's images and saves it with ``save_pretrained``, so the trainer's ``--vae PATH`` code path
(encode once, cache latents, decode when sampling) uses it like any Stable Diffusion VAE
(:func:`thresher.train.latents.load_vae` recognizes it by its ``_class_name``).

Training is deterministic-encoder style with a binary cross-entropy reconstruction: the decoder sees the latent mean plus fixed Gaussian noise
(so nearby latents decode to plausible images, which the DiT's samples need), with a small L2 pull on
the latents instead of a KL term. ``scaling_factor``/``shift_factor`` are set so cached latents have
zero mean and unit variance, the scale flow matching expects.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from tqdm.auto import tqdm

from thresher.catalog.staging import new_temp_staging, remove_abandoned, seal
from thresher.errors import ThresherError

AUTOENCODER_NAME = "thresher-ae"


@dataclass(frozen=True)
class AutoencoderConfig:
    latent_channels: int = 4
    width: int = 16
    steps: int = 300
    batch_size: int = 64
    lr: float = 2e-3
    latent_noise: float = 0.1
    latent_l2: float = 1e-3
    seed: int = 0
    # A source with more ok rows trains it on a seeded sample of this many: a 30k-parameter autoencoder
    # learns nothing more from a million digits, and the sample bounds its memory.
    max_rows: int = 20_000


class _LatentDist:
    """Deterministic stand-in for diffusers' DiagonalGaussianDistribution (only ``mode``/``mean`` are used)."""

    def __init__(self, mean: torch.Tensor) -> None:
        self.mean = mean

    def mode(self) -> torch.Tensor:
        return self.mean

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.mean


class TinyAutoencoder(ModelMixin, ConfigMixin):
    """Conv autoencoder, factor 4 (28×28 → C×7×7), with the slice of the AutoencoderKL interface the
    trainer uses: ``encode(x).latent_dist.mode()``, ``decode(z).sample``, ``config.scaling_factor``,
    ``config.shift_factor`` and ``config.block_out_channels`` (its length gives the factor).

    Plain convolutions cost about a quarter of a diffusers AutoencoderKL of the same width per step on a
    CPU (measured: 0.37 vs 1.4 CPU-seconds per batch of 64), and digits need nothing more.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 1,
        latent_channels: int = 4,
        width: int = 16,
        block_out_channels: tuple[int, ...] = (16, 32, 32),
        scaling_factor: float = 1.0,
        shift_factor: float = 0.0,
    ) -> None:
        super().__init__()
        act = nn.SiLU
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1), act(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), act(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), act(),
            nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1), act(),
            nn.Conv2d(2 * w, latent_channels, 1),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, 2 * w, 3, padding=1), act(),
            nn.ConvTranspose2d(2 * w, 2 * w, 4, stride=2, padding=1), act(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), act(),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), act(),
            nn.Conv2d(w, in_channels, 3, padding=1),
        )  # fmt: skip

    def encode(self, x: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(latent_dist=_LatentDist(self.encoder(x)))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Per-pixel logits of intensity in [0, 1]: trained with binary cross-entropy, which on mostly-black
        digits learns strokes in a few hundred steps where MSE on tanh outputs stalls at the mean image."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(sample=torch.sigmoid(self.decoder(z)) * 2.0 - 1.0)


def build_autoencoder(channels: int, config: AutoencoderConfig) -> TinyAutoencoder:
    w = config.width
    return TinyAutoencoder(
        in_channels=channels,
        latent_channels=config.latent_channels,
        width=w,
        block_out_channels=(w, 2 * w, 2 * w),
    )


def train_autoencoder(images: torch.Tensor, config: AutoencoderConfig, out_dir: Path) -> Path:
    """Train on uint8 N×C×H×W ``images`` and save to ``out_dir`` (diffusers format); returns ``out_dir``."""
    if images.ndim != 4 or images.dtype != torch.uint8:
        raise ThresherError("the autoencoder trains on uint8 N×C×H×W images")
    factor = 4
    if images.shape[-1] % factor or images.shape[-2] % factor:
        raise ThresherError(
            f"image size {tuple(images.shape[-2:])} is not divisible by the autoencoder factor {factor}"
        )
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    vae = build_autoencoder(images.shape[1], config)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.steps, pct_start=0.1
    )
    pixels = images.float() / 127.5 - 1.0
    bar = tqdm(range(config.steps), desc="autoencoder", unit="step")
    for _ in bar:
        batch = pixels[torch.randint(len(pixels), (config.batch_size,), generator=generator)]
        mean = vae.encode(batch).latent_dist.mean
        noisy = mean + config.latent_noise * torch.randn(mean.shape, generator=generator)
        logits = vae.decode_logits(noisy)
        target = (batch + 1.0) / 2.0
        loss = (
            nn.functional.binary_cross_entropy_with_logits(logits, target)
            + config.latent_l2 * mean.pow(2).mean()
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    vae.eval().requires_grad_(False)
    with torch.no_grad():
        latents = torch.cat(
            [vae.encode(pixels[i : i + 256]).latent_dist.mean for i in range(0, len(pixels), 256)]
        )
    shift, scale = latents.mean().item(), 1.0 / max(latents.std().item(), 1e-6)
    vae.register_to_config(scaling_factor=scale, shift_factor=shift)
    out_dir.mkdir(parents=True, exist_ok=True)
    vae.save_pretrained(str(out_dir))
    (out_dir / "thresher.json").write_text(
        json.dumps(
            {"config": asdict(config), "n_images": len(images), "final_loss": float(loss.item())}, indent=1
        )
    )
    return out_dir


def autoencoder_dir(cache_dir: Path, source_key: str, config: AutoencoderConfig) -> Path:
    digest = hashlib.sha256(
        f"{source_key}\n{json.dumps(asdict(config), sort_keys=True)}".encode()
    ).hexdigest()[:16]
    return cache_dir / f"ae-{digest}"


def ensure_autoencoder(
    cache_dir: Path,
    source_key: str,
    images: np.ndarray | torch.Tensor,
    config: AutoencoderConfig | None = None,
) -> Path:
    """The source's autoencoder folder: trained on first use, reused by every subset of the source."""
    config = config or AutoencoderConfig()
    folder = autoencoder_dir(cache_dir, source_key, config)
    if (folder / "config.json").is_file():
        return folder
    tensor = torch.as_tensor(images)
    if tensor.ndim == 4 and tensor.shape[-1] in (1, 3) and tensor.shape[1] not in (1, 3):
        tensor = tensor.permute(0, 3, 1, 2)  # N×H×W×C → N×C×H×W
    # A staging folder of this process alone, renamed in: two processes that train the same autoencoder at
    # once (Slurm array tasks) never write into each other's files, the first rename wins and the other's
    # copy is dropped, so every user of the key reads one autoencoder (docs/architecture.md, 'Executors').
    cache_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned(cache_dir, f"{folder.name}.partial-*")
    staging = new_temp_staging(cache_dir, f"{folder.name}.partial-")
    train_autoencoder(tensor.contiguous(), config, staging)
    try:
        staging.rename(folder)
    except OSError:
        if not (folder / "config.json").is_file():
            raise
        shutil.rmtree(staging, ignore_errors=True)
    seal(folder)
    return folder
