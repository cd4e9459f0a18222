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

Colour sources get one addition, a linear path for each 4×4 cell's mean colour (``colour_shortcut``):
the plain convolutions learned colour one channel at a time and left the rest at their mean, a sepia
cast (benchmarks/autoencoder_colour.py). Greyscale sources train exactly as before. Training ends with
the reconstruction error per channel, stored in ``thresher.json``, printed, and warned about when poor.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from thresher.errors import ThresherError
from thresher.progress import note, task

AUTOENCODER_NAME = "thresher-ae"
FACTOR = 4  # pixels per latent cell per side: two stride-2 convolutions

# Colour autoencoders are cached under a name of their own that says their recipe (greyscale ones keep the
# name caches already have): bump it when the colour recipe changes, so an older one is never reused.
COLOUR_RECIPE = 2  # 1: the plain convolutions (sepia); 2: with the linear colour path
# Warn when a channel's reconstruction, or on colour sources the colour itself (each pixel minus its grey),
# explains less than this share of its variance: the error is then over half that of painting every pixel
# in the set's mean value (or tint), so latents lose most of it and so do samples decoded from them.
# Measured on 2000 MNIST digits: 0.96 after the default 300 steps, 0.82 after 100, -0.10 after 30 (the quick
# demo's). On 256 coloured shapes after 80 steps the old colour recipe explained red 0.05, green 0.65, blue
# 0.28 and colour 0.42 (a cast); this one 0.85, 0.83, 0.86 and 0.84 (tests/train/test_autoencoder_colour.py).
POOR_EXPLAINED = 0.5
# Below this variance (on [-1, 1]; RMS 0.01, about one level in 255) there is nothing to explain: a channel
# that is (almost) constant, or the chroma of grey images stored as RGB. Its share is not judged (None).
_NO_VARIANCE = 1e-4

log = logging.getLogger(__name__)


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
        colour_shortcut: bool = False,
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
        self.colour_shortcut = colour_shortcut
        if colour_shortcut:  # created after the rest, so a model without it initializes as it always did
            # Each cell's mean colour, linearly into the latent and back (a linear autoencoder of the
            # 4×4-mean image, which learns in tens of steps); the convolutions add the detail. Without it,
            # 80 steps on coloured shapes left two channels at their mean (MSE 0.26-0.35 vs 0.05 with it).
            self.colour_in = nn.Conv2d(in_channels, latent_channels, 1)
            self.colour_out = nn.Conv2d(latent_channels, in_channels, 1)

    def encode(self, x: torch.Tensor) -> SimpleNamespace:
        mean = self.encoder(x)
        if self.colour_shortcut:
            mean = mean + self.colour_in(nn.functional.avg_pool2d(x, FACTOR))
        return SimpleNamespace(latent_dist=_LatentDist(mean))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Per-pixel logits of intensity in [0, 1]: trained with binary cross-entropy, which on mostly-black
        digits learns strokes in a few hundred steps where MSE on tanh outputs stalls at the mean image
        (on colour, MSE on the sigmoid did no better than cross-entropy: benchmarks/autoencoder_colour.py)."""
        logits = self.decoder(z)
        if self.colour_shortcut:
            cells = self.colour_out(z)
            logits = logits + nn.functional.interpolate(cells, scale_factor=FACTOR, mode="nearest")
        return logits

    def decode(self, z: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(sample=torch.sigmoid(self.decode_logits(z)) * 2.0 - 1.0)


def build_autoencoder(channels: int, config: AutoencoderConfig) -> TinyAutoencoder:
    w = config.width
    return TinyAutoencoder(
        in_channels=channels,
        latent_channels=config.latent_channels,
        width=w,
        block_out_channels=(w, 2 * w, 2 * w),
        colour_shortcut=channels > 1,
    )


@dataclass(frozen=True)
class Reconstruction:
    """How well the trained autoencoder reconstructs its training images (on [-1, 1]): per channel the MSE
    and the share of the channel's variance it explains (1 − MSE / variance); on colour, that share for
    the colour too (each pixel minus its grey), which a sepia cast takes to about 0."""

    n_images: int
    channels: list[str]
    mse: list[float]
    explained: list[float | None]  # None: a channel without variance to explain
    colour_explained: float | None  # None: greyscale, or no colour in the images to keep

    def line(self) -> str:
        mse = " ".join(f"{c} {m:.4f}" for c, m in zip(self.channels, self.mse, strict=True))
        return f"{AUTOENCODER_NAME} reconstruction of {self.n_images} images: MSE on [-1, 1] {mse}; {self._shares()}"

    def poor(self) -> bool:
        return any(
            share is not None and share < POOR_EXPLAINED for share in [*self.explained, self.colour_explained]
        )

    def warning(self) -> str:
        return (
            f"{AUTOENCODER_NAME} reconstructs poorly ({self._shares()}, below {POOR_EXPLAINED}): its latents "
            "lose that much of the images, and samples of models trained on them will too (an autoencoder "
            "that keeps brightness but not colour draws everything in one tint); train it longer "
            "(AutoencoderConfig.steps) or use a diffusers AutoencoderKL"
        )

    def _shares(self) -> str:
        shares = " ".join(
            f"{c} {'-' if e is None else f'{e:.2f}'}"
            for c, e in zip(self.channels, self.explained, strict=True)
        )
        colour = f", colour {self.colour_explained:.2f}" if self.colour_explained is not None else ""
        return f"variance explained {shares}{colour}"


def _channel_names(channels: int) -> list[str]:
    return {1: ["grey"], 3: ["red", "green", "blue"]}.get(channels, [f"channel {i}" for i in range(channels)])


def _moments(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Per channel Σx, Σx² and Σ(x̂ − x)² of a batch, float64, 3×C."""
    x, recon, dims = x.double(), recon.double(), (0, 2, 3)
    return torch.stack([x.sum(dims), x.pow(2).sum(dims), (recon - x).pow(2).sum(dims)])


def _chroma(x: torch.Tensor) -> torch.Tensor:
    """Each pixel minus its grey (the mean of its channels): what a sepia cast loses."""
    return x - x.mean(dim=1, keepdim=True)


@torch.no_grad()
def _encode_and_measure(vae: TinyAutoencoder, pixels: torch.Tensor) -> tuple[torch.Tensor, Reconstruction]:
    """The latent means of ``pixels`` (N×C×H×W on [-1, 1]) and how well they decode back."""
    latents = []
    moments = torch.zeros(2, 3, pixels.shape[1], dtype=torch.float64)  # of the pixels, of their chroma
    for start in range(0, len(pixels), 256):
        batch = pixels[start : start + 256]
        latent = vae.encode(batch).latent_dist.mean
        recon = vae.decode(latent).sample
        latents.append(latent)
        moments[0] += _moments(batch, recon)
        moments[1] += _moments(_chroma(batch), _chroma(recon))
    # each 2×C: row 0 of the pixels, row 1 of their chroma
    mean, square, error = (moments / (len(pixels) * pixels.shape[-2] * pixels.shape[-1])).unbind(dim=1)
    variance = (square - mean.pow(2)).clamp_min(0)
    colour = None
    if pixels.shape[1] > 1 and variance[1].sum() > _NO_VARIANCE:
        colour = float(1 - error[1].sum() / variance[1].sum())
    return torch.cat(latents), Reconstruction(
        n_images=len(pixels),
        channels=_channel_names(pixels.shape[1]),
        mse=error[0].tolist(),
        explained=[
            float(1 - e / v) if v > _NO_VARIANCE else None for e, v in zip(error[0], variance[0], strict=True)
        ],
        colour_explained=colour,
    )


def train_autoencoder(images: torch.Tensor, config: AutoencoderConfig, out_dir: Path) -> Path:
    """Train on uint8 N×C×H×W ``images`` and save to ``out_dir`` (diffusers format); returns ``out_dir``."""
    if images.ndim != 4 or images.dtype != torch.uint8:
        raise ThresherError("the autoencoder trains on uint8 N×C×H×W images")
    if images.shape[-1] % FACTOR or images.shape[-2] % FACTOR:
        raise ThresherError(
            f"image size {tuple(images.shape[-2:])} is not divisible by the autoencoder factor {FACTOR}"
        )
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    vae = build_autoencoder(images.shape[1], config)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.steps, pct_start=0.1
    )
    pixels = images.float() / 127.5 - 1.0
    bar = task("autoencoder", config.steps, unit="step")
    for _ in range(config.steps):
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
        bar.advance(message=f"loss={loss.item():.4f}")
    bar.close()
    vae.eval().requires_grad_(False)
    latents, reconstruction = _encode_and_measure(vae, pixels)
    note(reconstruction.line())
    if reconstruction.poor():
        log.warning(reconstruction.warning())
    shift, scale = latents.mean().item(), 1.0 / max(latents.std().item(), 1e-6)
    vae.register_to_config(scaling_factor=scale, shift_factor=shift)
    out_dir.mkdir(parents=True, exist_ok=True)
    vae.save_pretrained(str(out_dir))
    (out_dir / "thresher.json").write_text(
        json.dumps(
            {
                "config": asdict(config),
                "n_images": len(images),
                "final_loss": float(loss.item()),
                "reconstruction": asdict(reconstruction),
            },
            indent=1,
        )
    )
    return out_dir


def autoencoder_dir(cache_dir: Path, source_key: str, config: AutoencoderConfig) -> Path:
    """The folder of the source's autoencoder, known before its images are decoded (so a cached one is
    found without them): the colour folder (:func:`_folder_for`) when one is there or when the greyscale
    name holds a colour autoencoder (of recipe 1, which saved there: never reused), else the greyscale one."""
    grey = _folder_for(cache_dir, source_key, config, channels=1)
    colour = _folder_for(cache_dir, source_key, config, channels=3)
    if (colour / "config.json").is_file() or _saved_channels(grey) not in (None, 1):
        return colour
    return grey


def _folder_for(cache_dir: Path, source_key: str, config: AutoencoderConfig, channels: int) -> Path:
    """``ae-<digest>`` for greyscale, the name caches have always had; colour adds its recipe."""
    digest = hashlib.sha256(
        f"{source_key}\n{json.dumps(asdict(config), sort_keys=True)}".encode()
    ).hexdigest()[:16]
    return cache_dir / (f"ae-{digest}" if channels == 1 else f"ae-{digest}-colour{COLOUR_RECIPE}")


def _saved_channels(folder: Path) -> int | None:
    config = folder / "config.json"
    return int(json.loads(config.read_text())["in_channels"]) if config.is_file() else None


def ensure_autoencoder(
    cache_dir: Path,
    source_key: str,
    images: np.ndarray | torch.Tensor,
    config: AutoencoderConfig | None = None,
) -> Path:
    """The source's autoencoder folder: trained on first use, reused by every subset of the source."""
    config = config or AutoencoderConfig()
    tensor = torch.as_tensor(images)
    if tensor.ndim == 4 and tensor.shape[-1] in (1, 3) and tensor.shape[1] not in (1, 3):
        tensor = tensor.permute(0, 3, 1, 2)  # N×H×W×C → N×C×H×W
    folder = _folder_for(cache_dir, source_key, config, tensor.shape[1] if tensor.ndim == 4 else 1)
    if (folder / "config.json").is_file():
        return folder
    staging = folder.with_name(folder.name + ".partial")
    train_autoencoder(tensor.contiguous(), config, staging)
    staging.replace(folder)
    return folder
