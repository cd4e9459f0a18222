"""The rows a training run sees, in memory, and how torch iterates over them.

A :class:`TrainingSet` is what a resolved subset (``name@vN``) becomes: pixels (uint8) or VAE latents
(float), labels, per-sample weights (e.g. DRO group weights) and the catalog's sample ids, which the trainer
reports back so "distinct rows seen == subset size" can be checked. The rows are a tensor in memory or
:class:`StoredRows`, a view of an image store read row by row from its part files (what training
from a workspace uses: memory does not grow with the number of rows, docs/architecture.md, "Image stores").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from thresher.errors import ThresherError
from thresher.train.flow import NULL_LABEL

SPACES = ("pixel", "latent")


class StoredRows:
    """An image store view (:class:`thresher.catalog.image_store.StoreView`) with the part of the tensor
    interface a :class:`TrainingSet` uses: ``len``, ``shape`` N×C×H×W, ``dtype``, and indexing by an int
    (one C×H×W row) or by a slice, index array or mask (a tensor of those rows). Pixel rows are stored
    H×W×C and turned channels-first per row."""

    ndim = 4

    def __init__(self, view) -> None:  # a StoreView; not imported here so training sets stay light
        self.view = view
        self.pixels = view.is_pixels

    def __len__(self) -> int:
        return len(self.view)

    @property
    def shape(self) -> torch.Size:
        n, *row = self.view.shape
        return torch.Size((n, row[2], row[0], row[1]) if self.pixels else (n, *row))

    @property
    def dtype(self) -> torch.dtype:
        return torch.uint8 if self.pixels else torch.float32

    def is_floating_point(self) -> bool:
        return not self.pixels

    def _channels_first(self, rows: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(rows))
        return tensor.permute(0, 3, 1, 2).contiguous() if self.pixels else tensor

    def __getitem__(self, index: int | slice | np.ndarray | torch.Tensor) -> torch.Tensor:
        if isinstance(index, int | np.integer) or (isinstance(index, torch.Tensor) and index.ndim == 0):
            return self._channels_first(self.view.row(int(index))[None])[0]
        if isinstance(index, slice):
            positions = np.arange(len(self))[index]
        else:
            positions = np.asarray(index)
            if positions.dtype == bool:
                positions = np.flatnonzero(positions)
        return self._channels_first(self.view.take(positions))


@dataclass
class TrainingSet:
    """Training rows. ``images``: uint8 N×C×H×W (space "pixel") or float N×C×h×w latents (space "latent"),
    in memory or :class:`StoredRows`.

    ``labels`` are int64 class indices in [0, num_classes) or None; ``condition`` says what they are: the
    catalog's class labels ("label") or the clusters of a k-means run ("clusters:<run>", see
    :mod:`thresher.train.conditioning`). ``weights`` are non-negative per-sample weights or None (uniform).
    ``vae`` names the VAE that made latents, so samples can be decoded.
    """

    images: torch.Tensor | StoredRows
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
