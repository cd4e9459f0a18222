"""Balance: shares, entropy, distances between share vectors, per-group FID, centroid assignment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thresher.evaluate.metrics.balance import (
    group_shares,
    min_share_ratio,
    nearest_centroid,
    normalized_entropy,
    per_group_fid,
    spread,
    total_variation,
)


def test_shares_count_missing_groups_as_zero() -> None:
    shares = group_shares(np.array([0, 0, 1, 1, 1, 3]), np.arange(4))
    np.testing.assert_allclose(shares, [2 / 6, 3 / 6, 0, 1 / 6])


def test_entropy_is_one_for_uniform_and_zero_for_one_group() -> None:
    assert normalized_entropy(np.full(7, 1 / 7)) == pytest.approx(1.0)
    assert normalized_entropy(np.array([1.0, 0, 0, 0])) == pytest.approx(0.0)
    assert math.copysign(1.0, normalized_entropy(np.array([1.0, 0, 0, 0]))) == 1.0  # +0, never printed -0
    # Two of four groups equally used: log 2 / log 4.
    assert normalized_entropy(np.array([0.5, 0.5, 0, 0])) == pytest.approx(0.5)


def test_total_variation_and_worst_ratio() -> None:
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.4, 0.4, 0.2])
    assert total_variation(p, q) == pytest.approx(0.3)
    assert total_variation(q, q) == 0.0
    assert min_share_ratio(p, q) == pytest.approx(0.5)


def test_per_group_fid_is_small_for_matching_groups_and_skips_rare_ones() -> None:
    rng = np.random.default_rng(0)
    ref = np.vstack([rng.normal(size=(300, 4)), rng.normal(5, 1, size=(300, 4))])
    ref_groups = np.repeat([0, 1], 300)
    gen = np.vstack([rng.normal(size=(200, 4)), rng.normal(8, 1, size=(200, 4)), rng.normal(size=(3, 4))])
    gen_groups = np.concatenate([np.zeros(200), np.ones(200), np.full(3, 2)])
    fids = per_group_fid(gen, gen_groups, ref, ref_groups, np.array([0, 1, 2]), min_samples=10)
    assert fids[0] < 0.3  # same distribution
    assert fids[1] == pytest.approx(4 * 9, rel=0.15)  # mean shifted by 3 in each of 4 dimensions
    assert np.isnan(fids[2])  # 3 generated samples, none in the reference
    stats = spread(fids)
    assert stats["max"] == fids[1] and stats["min"] == fids[0]
    assert stats["max_over_min"] == pytest.approx(fids[1] / fids[0])


def test_nearest_centroid_normalizes_rows_like_kmeans_on_normalized_embeddings() -> None:
    centroids = np.array([[1.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    x = np.array([[0.5, 2.0], [10.0, 1.0]], dtype=np.float32)
    # (0.5, 2) normalized is (0.24, 0.97): nearer (1, 0) than (0, 3); unnormalized it is nearer (0, 3).
    np.testing.assert_array_equal(nearest_centroid(x, centroids), [0, 0])
    np.testing.assert_array_equal(nearest_centroid(x, centroids, normalize=False), [1, 0])
    with pytest.raises(ValueError, match="different dimensions"):
        nearest_centroid(x, np.ones((2, 3)))
