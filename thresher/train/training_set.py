"""The rows a training run sees, in memory, and how torch iterates over them.

A :class:`TrainingSet` is what a resolved subset (``name@vN``) becomes: pixels (uint8) or cached VAE
latents (float), labels, per-sample weights (e.g. DRO group weights) and the catalog's sample ids, which
the trainer reports back so "distinct rows seen == subset size" can be checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Sampler

from thresher.errors import ThresherError
from thresher.train.flow import NULL_LABEL

SPACES = ("pixel", "latent")


@dataclass
class TrainingSet:
    """Training rows. ``images``: uint8 N×C×H×W (space "pixel") or float N×C×h×w latents (space "latent").

    ``labels`` are int64 class indices in [0, num_classes) or None; ``condition`` says what they are: the
    catalog's class labels ("label") or the clusters of a k-means run ("clusters:<run>", see
    :mod:`thresher.train.conditioning`). ``weights`` are non-negative per-sample weights or None (uniform).
    ``vae`` names the VAE that made latents, so samples can be decoded.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    sample_ids: torch.Tensor
    weights: torch.Tensor | None = None
    num_classes: int | None = None
    name: str = "dataset"
    space: str = "pixel"
    vae: str | None = None
    condition: str = "label"

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.space not in SPACES:
            raise ThresherError(f"unknown data space {self.space!r}; choose pixel or latent")
        if self.images.ndim != 4 or n == 0:
            raise ThresherError(f"training set {self.name!r} needs a non-empty N×C×H×W tensor")
        if self.space == "pixel" and self.images.dtype != torch.uint8:
            raise ThresherError(f"pixel training set {self.name!r} must hold uint8 images")
        if self.space == "latent" and not self.images.is_floating_point():
            raise ThresherError(f"latent training set {self.name!r} must hold float latents")
        if len(self.sample_ids) != n:
            raise ThresherError(
                f"training set {self.name!r}: {len(self.sample_ids)} sample ids for {n} images"
            )
        if self.labels is not None:
            if len(self.labels) != n:
                raise ThresherError(f"training set {self.name!r}: {len(self.labels)} labels for {n} images")
            if self.num_classes is None:
                self.num_classes = int(self.labels.max()) + 1
            if int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes:
                raise ThresherError(f"training set {self.name!r}: labels outside [0, {self.num_classes})")
        if self.weights is not None:
            if len(self.weights) != n:
                raise ThresherError(f"training set {self.name!r}: {len(self.weights)} weights for {n} images")
            if not torch.isfinite(self.weights).all() or (self.weights < 0).any() or self.weights.sum() <= 0:
                raise ThresherError(f"training set {self.name!r}: weights must be finite, >= 0 and not all 0")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def resolution(self) -> int:
        """Side of the (square) images or latents."""
        height, width = self.images.shape[-2:]
        if height != width:
            raise ThresherError(f"training set {self.name!r} has non-square {height}×{width} images")
        return height

    def normalized_weights(self) -> torch.Tensor:
        """Per-sample weights scaled to mean 1 (all ones when unweighted), so weighting keeps the loss scale."""
        if self.weights is None:
            return torch.ones(len(self))
        weights = self.weights.double()
        return (weights * len(weights) / weights.sum()).float()


class TrainingSetDataset(Dataset):
    """Items ``(x, label, weight, sample_id)``: x float in [-1, 1] (pixels) or the latent; label −1 if none."""

    def __init__(self, data: TrainingSet) -> None:
        self.data = data
        self.weights = data.normalized_weights()

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        image = self.data.images[index]
        x = image.float() / 127.5 - 1.0 if self.data.space == "pixel" else image.float()
        label = self.data.labels[index] if self.data.labels is not None else torch.tensor(NULL_LABEL)
        return x, label.long(), self.weights[index], self.data.sample_ids[index].long()


class EpochSampler(Sampler[int]):
    """Indices for one epoch, a pure function of (seed, epoch): a permutation, or ``len(weights)`` draws with
    replacement proportional to ``weights`` (what WeightedRandomSampler does). Being stateless is what lets
    a resumed run rebuild the exact epoch it stopped in and skip the batches already done."""

    def __init__(self, size: int, seed: int, weights: torch.Tensor | None = None) -> None:
        self.size = size
        self.seed = seed
        self.weights = weights
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if self.weights is None:
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.multinomial(self.weights.double(), self.size, replacement=True, generator=generator)
        return iter(order.tolist())
