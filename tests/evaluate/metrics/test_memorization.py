"""Memorization distances: exact copies, known offsets, held-out baseline."""

from __future__ import annotations

import numpy as np
import pytest

from thresher.evaluate.metrics.memorization import memorization_stats, nearest_train_distances


def test_copies_of_training_samples_have_zero_distance() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 32)).astype(np.float32)
    heldout = rng.normal(size=(100, 32)).astype(np.float32)
    stats = memorization_stats(train[rng.integers(0, 500, 200)], train, heldout)
    assert stats["mean"] == pytest.approx(0.0, abs=1e-3)
    assert stats["median"] == pytest.approx(0.0, abs=1e-3)
    assert stats["heldout_mean"] > 1.0
    assert stats["ratio"] < 1e-3


def test_distance_is_the_offset_to_the_nearest_sample() -> None:
    # Training points far apart on a grid; queries offset by a vector of norm 0.5 from one of them.
    train = np.arange(10, dtype=np.float32)[:, None] * np.array([[100.0, 0.0]], dtype=np.float32)
    queries = train[[2, 5, 7]] + np.array([[0.3, 0.4]], dtype=np.float32)
    np.testing.assert_allclose(nearest_train_distances(queries, train), [0.5, 0.5, 0.5], rtol=1e-4)


def test_without_heldout_only_generated_stats() -> None:
    stats = memorization_stats(np.ones((3, 2)), np.zeros((4, 2)))
    assert set(stats) == {"mean", "median"}
    assert stats["mean"] == pytest.approx(np.sqrt(2), rel=1e-5)
