"""Real images that may not fit in memory: a sequence of uint8 H×W×C rows read a batch at a time.

Training and evaluation see a source's rows through this protocol instead of one whole-set array, so their
memory does not grow with the number of rows (docs/architecture.md, "Image stores"). The store-backed
implementation is :class:`thresher.catalog.image_store.StoreView` (rows read from part files); :class:`ArrayRows`
wraps an array already in memory (generated images, tests, small sets).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class ImageRows(Protocol):
    """``len`` rows of one shape H×W×C (uint8), readable in order by batches or by position."""

    def __len__(self) -> int: ...

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(rows, height, width, channels), like the array the rows would make."""
        ...

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """uint8 (b, H, W, C) arrays of consecutive rows, in row order, b <= batch_size."""
        ...

    def take(self, positions: np.ndarray) -> np.ndarray:
        """uint8 (len(positions), H, W, C): the rows at ``positions`` (any order, repeats allowed)."""
        ...


@dataclass
class ArrayRows:
    """:class:`ImageRows` over an N×H×W×C uint8 array in memory."""

    array: np.ndarray

    def __post_init__(self) -> None:
        if self.array.ndim != 4:
            raise ValueError(f"ArrayRows needs an N×H×W×C array, got shape {self.array.shape}")

    def __len__(self) -> int:
        return len(self.array)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        n, h, w, c = self.array.shape
        return n, h, w, c

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, len(self.array), batch_size):
            yield self.array[start : start + batch_size]

    def take(self, positions: np.ndarray) -> np.ndarray:
        return self.array[np.asarray(positions, dtype=np.int64)]


def as_rows(images: np.ndarray | ImageRows) -> ImageRows:
    """Rows as given, or an array wrapped in :class:`ArrayRows`."""
    return ArrayRows(images) if isinstance(images, np.ndarray) else images


def read_all(rows: ImageRows, batch_size: int = 1024) -> np.ndarray:
    """Every row in one array: only for sets known to be small (a capped reference, generated samples)."""
    if isinstance(rows, ArrayRows):
        return rows.array
    chunks = list(rows.batches(batch_size))
    if not chunks:
        _, h, w, c = rows.shape
        return np.zeros((0, h, w, c), np.uint8)
    return np.concatenate(chunks)
