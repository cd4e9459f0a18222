"""Streamed memorization (training rows a block at a time) equals the whole-array figures exactly."""

from __future__ import annotations

import numpy as np
import pytest

from thresher.evaluate.evaluator import pixel_vectors
from thresher.evaluate.metrics.memorization import (
    RunningNearest,
    memorization_stats,
    memorization_stats_from_nearest,
    memorization_stats_streaming,
    nearest_distances_streaming,
    nearest_train_distances,
)


def blocks(rows: np.ndarray, size: int) -> list[np.ndarray]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]


@pytest.fixture(scope="module")
def feature_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training features far from the origin (where float32 faiss is off by whole units), queries that
    are copies of training rows, near misses and fresh rows; held-out rows from the same law."""
    rng = np.random.default_rng(3)
    train = (100.0 + rng.normal(size=(120, 48))).astype(np.float32)
    queries = np.concatenate(
        [train[rng.integers(0, 120, 20)], train[:15] + 1e-3, 100.0 + rng.normal(size=(25, 48))]
    ).astype(np.float32)
    heldout = (100.0 + rng.normal(size=(30, 48))).astype(np.float32)
    return queries, train, heldout


@pytest.fixture(scope="module")
def pixel_case(mnist) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel vectors of real digits, as pixel-space memorization compares them; queries include copies."""
    images = mnist[0][:200]
    train, heldout = pixel_vectors(images[:150], 1, 32), pixel_vectors(images[150:], 1, 32)
    queries = np.concatenate([train[::5], heldout[:20]])
    return queries, train, heldout


@pytest.mark.parametrize("case", ["feature_case", "pixel_case"])
@pytest.mark.parametrize("block", [1, 7, None])  # None: one block larger than the whole set
def test_streamed_nearest_distances_equal_the_whole_array_ones_exactly(case, block, request) -> None:
    queries, train, heldout = request.getfixturevalue(case)
    size = len(train) + 5 if block is None else block
    whole = nearest_train_distances(queries, train)
    streamed = nearest_distances_streaming(queries, blocks(train, size))
    assert streamed.dtype == np.float64 and np.array_equal(streamed, whole)
    assert np.count_nonzero(streamed == 0.0) >= 20  # the copies measure exactly 0 in every block split

    expected = memorization_stats(queries, train, heldout)
    assert memorization_stats_streaming(queries, blocks(train, size), heldout) == expected
    assert memorization_stats_streaming(queries, iter(blocks(train, size))) == memorization_stats(
        queries, train
    )


def test_stats_from_nearest_distances_are_the_stats() -> None:
    stats = memorization_stats_from_nearest(np.array([0.0, 1.0, 2.0]), np.array([2.0, 4.0]))
    assert stats == {"mean": 1.0, "median": 1.0, "heldout_mean": 3.0, "heldout_median": 3.0, "ratio": 1 / 3}
    assert set(memorization_stats_from_nearest(np.array([1.0]))) == {"mean", "median"}


def test_running_nearest_skips_empty_blocks_and_needs_some_training_row(feature_case) -> None:
    queries, train, _ = feature_case
    nearest = RunningNearest(queries)
    nearest.add(train[:0])
    with pytest.raises(ValueError, match="no training rows"):
        nearest.result()
    for part in (train[:50], train[:0], train[50:]):
        nearest.add(part)
    assert nearest.rows_seen == len(train)
    assert np.array_equal(nearest.result(), nearest_train_distances(queries, train))
    empty = RunningNearest(queries[:0])
    empty.add(train)
    assert empty.result().shape == (0,)
