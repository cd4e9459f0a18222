"""Images from a trained run: load its EMA model, integrate the flow ODE, decode, save.

Noise for all ``n`` images is drawn up front from one seeded CPU generator, so the images depend on the
seed only, not on the batch size or the device's RNG.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from diffusers import AutoencoderKL
from PIL import Image
from torchvision.utils import make_grid

from thresher.device import autocast_dtype, pick_device
from thresher.errors import ThresherError
from thresher.progress import track
from thresher.train.conditioning import CLUSTER_CONDITION, prior_labels
from thresher.train.flow import integrate
from thresher.train.latents import decode_latents, load_vae
from thresher.train.model import FlowDiT, load_model

Labels = str | Sequence[int] | None


@dataclass
class LoadedRun:
    """A run's EMA model ready to sample, with the VAE that decodes it when it was trained on latents."""

    model: FlowDiT
    vae: AutoencoderKL | None
    device: torch.device
    condition: str | None = None  # "label", "clusters:<run>" or None (unconditional)
    label_counts: list[int] | None = None  # training frequency of each label: the prior of "prior"

    @property
    def num_classes(self) -> int | None:
        return self.model.config.num_classes


def _vae_location(run_dir: Path, payload: dict) -> str:
    """The run's autoencoder: the local copy beside the run (moved workspaces) when recorded, else as named."""
    relative = payload.get("vae_relative")
    if relative and (run_dir / relative).is_dir():
        return str((run_dir / relative).resolve())
    return payload["vae"]


def load_run_model(run_dir: Path, device: str | None = None) -> LoadedRun:
    """Load ``run_dir``'s ``model.json`` + ``ema.safetensors`` (and its VAE for latent runs) onto ``device``."""
    target = pick_device(device)
    model, payload = load_model(Path(run_dir))
    vae = (
        load_vae(_vae_location(Path(run_dir), payload), target) if payload.get("space") == "latent" else None
    )
    condition = payload.get("condition", "label" if model.config.num_classes is not None else None)
    return LoadedRun(model.to(target), vae, target, condition, payload.get("label_counts"))


def resolve_labels(
    labels: Labels,
    n: int,
    num_classes: int | None,
    *,
    counts: list[int] | None = None,
    condition: str | None = None,
    seed: int = 0,
) -> torch.Tensor | None:
    """Per-image class labels: None (unconditional), "uniform" (image i gets class i mod num_classes,
    so every class gets n/num_classes images), "prior" (classes in proportion to their training
    ``counts``, in a ``seed``-ed order), an explicit list of length n, or "auto": "prior" for a model
    conditioned on clusters (``condition``), so it samples like an unconditional model of its training
    set, and "uniform" for a class-conditional one."""
    if labels == "auto":
        clustered = condition is not None and condition.startswith(CLUSTER_CONDITION)
        labels = "prior" if clustered else "uniform"
    if labels is None or (num_classes is None and labels in ("uniform", "prior")):
        return None
    if num_classes is None:
        raise ThresherError("this model is unconditional; it cannot generate given class labels")
    if isinstance(labels, str):
        if labels == "uniform":
            return torch.arange(n) % num_classes
        if labels != "prior":
            raise ThresherError(
                f"unknown labels {labels!r}; pass None, 'uniform', 'prior' or a list of class indices"
            )
        if counts is None or len(counts) != num_classes:
            raise ThresherError("this model records no training label frequencies; 'prior' needs them")
        return prior_labels(counts, n, seed)
    chosen = torch.as_tensor(list(labels), dtype=torch.long)
    if len(chosen) != n:
        raise ThresherError(f"{len(chosen)} labels given for {n} images")
    if len(chosen) and (int(chosen.min()) < 0 or int(chosen.max()) >= num_classes):
        raise ThresherError(f"labels must lie in [0, {num_classes})")
    return chosen


@torch.no_grad()
def sample_images(
    model: FlowDiT,
    n: int,
    *,
    seed: int = 0,
    labels: torch.Tensor | None = None,
    steps: int = 50,
    sampler: str = "heun",
    cfg_scale: float = 1.0,
    cfg_interval: tuple[float, float] = (0.0, 1.0),
    batch_size: int = 64,
    vae: AutoencoderKL | None = None,
    precision: str = "auto",
    progress: bool = True,
) -> torch.Tensor:
    """uint8 N×C×H×W images from ``model`` (decoded through ``vae`` when it works on latents)."""
    device = next(model.parameters()).device
    config = model.config
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, config.in_channels, config.sample_size, config.sample_size, generator=generator)
    dtype = autocast_dtype(device, precision)
    was_training = model.training
    model.eval()
    chunks = []
    for start in track(range(0, n, batch_size), "generating", unit="batch", enabled=progress):
        batch_labels = None if labels is None else labels[start : start + batch_size].to(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            x = integrate(
                model, noise[start : start + batch_size].to(device), steps, sampler,
                labels=batch_labels, cfg_scale=cfg_scale, cfg_interval=cfg_interval,
            )  # fmt: skip
        x = x.float()
        if vae is not None:
            chunks.append(decode_latents(x, vae))
        else:
            chunks.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu())
    model.train(was_training)
    return torch.cat(chunks)


def generate(
    run_dir: Path | LoadedRun,
    n: int,
    seed: int = 0,
    labels: Labels = "auto",
    steps: int = 50,
    sampler: str = "heun",
    cfg_scale: float = 1.0,
    cfg_interval: tuple[float, float] = (0.0, 1.0),
    batch_size: int = 64,
    device: str | None = None,
) -> np.ndarray:
    """``n`` images (uint8 N×H×W×C) from a run's EMA model; see :func:`resolve_labels` for ``labels``.

    An unconditional model ignores ``labels`` "auto", "uniform" and "prior".
    """
    run = run_dir if isinstance(run_dir, LoadedRun) else load_run_model(Path(run_dir), device)
    chosen = resolve_labels(
        labels, n, run.num_classes, counts=run.label_counts, condition=run.condition, seed=seed
    )
    images = sample_images(
        run.model, n, seed=seed, labels=chosen, steps=steps, sampler=sampler,
        cfg_scale=cfg_scale, cfg_interval=cfg_interval, batch_size=batch_size, vae=run.vae,
    )  # fmt: skip
    return images.permute(0, 2, 3, 1).numpy()


def _to_pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def save_images(images: np.ndarray, dest: Path, labels: Sequence[int] | None = None) -> Path:
    """Write N×H×W×C uint8 images as ``dest/000000.png`` ... or, when ``dest`` ends in ``.parquet``, as one
    Parquet file with an ``image`` column ({bytes, path}, readable by ``datasets`` as Image) and ``label``."""
    dest = Path(dest)
    if dest.suffix == ".parquet":
        encoded = []
        for i, image in enumerate(images):
            buffer = io.BytesIO()
            _to_pil(image).save(buffer, format="PNG")
            encoded.append({"bytes": buffer.getvalue(), "path": f"{i:06d}.png"})
        columns = {"image": pa.array(encoded, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))}
        features: dict = {"image": {"_type": "Image"}}
        if labels is not None:
            columns["label"] = pa.array(list(labels), pa.int64())
            features["label"] = {"dtype": "int64", "_type": "Value"}
        table = pa.table(columns)
        metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
        dest.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.replace_schema_metadata(metadata), dest)
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        _to_pil(image).save(dest / f"{i:06d}.png")
    return dest


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    """One PNG tiling uint8 N×C×H×W ``images`` (``nrow`` per row; default about square)."""
    nrow = nrow or max(1, int(np.ceil(np.sqrt(len(images)))))
    grid = make_grid(images, nrow=nrow, padding=2, pad_value=255)
    _to_pil(grid.permute(1, 2, 0).numpy()).save(path)
    return path
