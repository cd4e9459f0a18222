"""Memorization distances: exact copies, known offsets, held-out baseline."""

from __future__ import annotations

import numpy as np
import pytest

from thresher.evaluate.metrics.memorization import (
    exact_knn_distances,
    memorization_stats,
    nearest_train_distances,
)


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


def brute_force_nearest(queries: np.ndarray, train: np.ndarray, k: int = 1) -> np.ndarray:
    q, t = queries.astype(np.float64), train.astype(np.float64)
    squared = ((q[:, None, :] - t[None, :, :]) ** 2).sum(axis=-1)
    return np.sqrt(np.sort(squared, axis=1)[:, :k])


def test_copies_measure_exactly_zero_even_far_from_the_origin() -> None:
    # At |x|² ~ 6e7 float32's |q|² + |t|² - 2q·t is off by whole units: only an exact re-rank gives 0.
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        train = (1000.0 + rng.normal(size=(400, 64))).astype(dtype)
        copies = train[rng.integers(0, 400, 150)]
        distances = nearest_train_distances(copies, train)
        assert distances.dtype == np.float64
        assert np.all(distances == 0.0)
        stats = memorization_stats(copies, train, train[:50] + 0.5)
        assert stats["mean"] == 0.0 and stats["median"] == 0.0 and stats["ratio"] == 0.0


@pytest.mark.parametrize("centre", [0.0, 1000.0])  # faiss's ranking is trusted / float32 noise dominates
def test_distances_equal_a_float64_brute_force(centre: float) -> None:
    rng = np.random.default_rng(2)
    train = centre + rng.normal(size=(600, 48))
    queries = np.concatenate(
        [
            train[:40],  # copies
            train[40:80] + 1e-3 * rng.normal(size=(40, 48)),  # near-copies, below float32's error at 1000
            train[80:120] + rng.normal(size=(40, 48)),
            centre + rng.normal(size=(40, 48)),
        ]
    )
    for q, t in ((queries, train), (queries.astype(np.float32), train.astype(np.float32))):
        expected = brute_force_nearest(q, t)[:, 0]
        np.testing.assert_allclose(nearest_train_distances(q, t), expected, rtol=1e-9, atol=0)
        np.testing.assert_allclose(
            exact_knn_distances(q, t, 3), brute_force_nearest(q, t, 3), rtol=1e-9, atol=0
        )


def test_a_crowd_of_near_ties_is_resolved_exactly() -> None:
    # 60 training rows around one point, all within float32 noise of each other at this magnitude:
    # faiss's top candidates are a random pick of them, so the exhaustive float64 path must decide.
    rng = np.random.default_rng(3)
    centre = 1000.0 + rng.normal(size=32)
    crowd = centre + 1e-3 * rng.normal(size=(60, 32))
    train = np.concatenate([crowd, 1000.0 + rng.normal(size=(300, 32))])
    queries = centre + 1e-3 * rng.normal(size=(20, 32))
    np.testing.assert_allclose(
        nearest_train_distances(queries, train), brute_force_nearest(queries, train)[:, 0], rtol=1e-9, atol=0
    )
    np.testing.assert_allclose(
        exact_knn_distances(queries, train, 5, candidates=5),
        brute_force_nearest(queries, train, 5),
        rtol=1e-9,
    )


def test_bad_k_and_shapes_are_rejected() -> None:
    with pytest.raises(ValueError):
        exact_knn_distances(np.zeros((2, 3)), np.zeros((4, 3)), k=5)
    with pytest.raises(ValueError):
        nearest_train_distances(np.zeros((2, 3)), np.zeros((4, 2)))
