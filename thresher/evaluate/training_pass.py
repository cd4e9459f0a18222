"""What evaluation needs from the training rows, gathered in one pass over them, a batch at a time.

The training set can have millions of rows, so nothing n_train × features (or × pixels) is ever held:
each batch's features update the running nearest-training distance of every generated and held-out
query (:class:`thresher.evaluate.metrics.RunningNearest`, exact, so streaming changes no figure), and
only per-row int labels (predicted class, nearest cluster) are kept for the training shares.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from thresher.evaluate import metrics
from thresher.evaluate.features import RowBatch

MEMORIZATION_BLOCK_ROWS = 8192
"""Training rows gathered before one exact nearest-neighbour pass: every pass re-ranks each query's
candidates in float64, so few large blocks cost less than many batch-sized ones (1.8x faster at 4096 than
at 512 rows, measured on 2000 queries x 5000 32-px rows); 8192 rows of 32-px pixel vectors are 100 MB."""

Labeler = Callable[[RowBatch], np.ndarray]
"""Labels (one int per row) of a batch, from its images, features or probabilities."""


@dataclass
class TrainingSummary:
    """The training set as evaluation sees it: its size, nearest distances to it, its rows' labels."""

    n: int
    nearest: np.ndarray  # per generated row, feature space
    nearest_heldout: np.ndarray | None
    pixel_nearest: np.ndarray | None  # per generated row, pixel space (when pixel vectors were asked)
    pixel_nearest_heldout: np.ndarray | None
    class_labels: np.ndarray | None  # per training row, when a class labeler was given
    cluster_labels: np.ndarray | None  # per training row, when a cluster labeler was given
    seconds: dict[str, float] = field(default_factory=dict)  # extract, memorization, balance_* parts


def _timed(batches: Iterable[RowBatch], seconds: dict[str, float]) -> Iterator[RowBatch]:
    """``batches``, adding the time spent producing each (reading and extracting) to ``seconds["extract"]``."""
    it = iter(batches)
    while True:
        start = time.perf_counter()
        batch = next(it, None)
        seconds["extract"] += time.perf_counter() - start
        if batch is None:
            return
        yield batch


def scan_training(
    batches: Iterable[RowBatch],
    *,
    generated: np.ndarray,
    heldout: np.ndarray | None,
    pixels: Callable[[np.ndarray], np.ndarray] | None = None,
    generated_pixels: np.ndarray | None = None,
    heldout_pixels: np.ndarray | None = None,
    class_labeler: Labeler | None = None,
    cluster_labeler: Labeler | None = None,
) -> TrainingSummary:
    """One pass over the training ``batches``: nearest-training distances of ``generated`` and ``heldout``
    features (and, with ``pixels`` turning a batch of images into pixel vectors, of ``generated_pixels`` and
    ``heldout_pixels``), and the training rows' class and cluster labels where labelers are given."""
    nearest = metrics.RunningNearest(generated)
    near_held = None if heldout is None else metrics.RunningNearest(heldout)
    pixel_near = pixel_held = None
    if pixels is not None and generated_pixels is not None:
        pixel_near = metrics.RunningNearest(generated_pixels)
        pixel_held = None if heldout_pixels is None else metrics.RunningNearest(heldout_pixels)
    class_parts: list[np.ndarray] = []
    cluster_parts: list[np.ndarray] = []
    seconds = {"extract": 0.0, "memorization": 0.0, "balance_class": 0.0, "balance_cluster": 0.0}
    n = 0
    feature_block: list[np.ndarray] = []
    pixel_block: list[np.ndarray] = []

    def flush() -> None:
        for block, trackers in (
            (feature_block, (nearest, near_held)),
            (pixel_block, (pixel_near, pixel_held)),
        ):
            if block:
                rows = np.concatenate(block)
                for tracker in trackers:
                    if tracker is not None:
                        tracker.add(rows)
                block.clear()

    for batch in _timed(batches, seconds):
        n += len(batch.images)
        start = time.perf_counter()
        feature_block.append(batch.features)
        if pixel_near is not None and pixels is not None:
            pixel_block.append(pixels(batch.images))
        if sum(len(b) for b in feature_block) >= MEMORIZATION_BLOCK_ROWS:
            flush()
        seconds["memorization"] += time.perf_counter() - start
        for labeler, parts, key in (
            (class_labeler, class_parts, "balance_class"),
            (cluster_labeler, cluster_parts, "balance_cluster"),
        ):
            if labeler is not None:
                start = time.perf_counter()
                parts.append(np.asarray(labeler(batch)))
                seconds[key] += time.perf_counter() - start

    start = time.perf_counter()
    flush()
    seconds["memorization"] += time.perf_counter() - start

    def joined(parts: list[np.ndarray], labeler: Labeler | None) -> np.ndarray | None:
        if labeler is None:
            return None
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    return TrainingSummary(
        n=n,
        nearest=nearest.result(),
        nearest_heldout=None if near_held is None else near_held.result(),
        pixel_nearest=None if pixel_near is None else pixel_near.result(),
        pixel_nearest_heldout=None if pixel_held is None else pixel_held.result(),
        class_labels=joined(class_parts, class_labeler),
        cluster_labels=joined(cluster_parts, cluster_labeler),
        seconds=seconds,
    )


def array_batches(
    images: np.ndarray, features: np.ndarray, probs: np.ndarray | None, batch_size: int
) -> Iterator[RowBatch]:
    """Rows already extracted (the reference, when it is the training set) as batches for :func:`scan_training`."""
    for start in range(0, len(images), batch_size):
        stop = start + batch_size
        yield RowBatch(images[start:stop], features[start:stop], None if probs is None else probs[start:stop])
