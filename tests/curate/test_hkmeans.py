"""Hierarchical k-means with resampling and the balanced sampling order (thresher.curate.hkmeans)."""

from __future__ import annotations

import numpy as np
import pytest

from thresher.curate.hkmeans import HierarchyConfig, balanced_order, fit_hierarchy
from thresher.curate.scores.methods.hkmeans import (
    MAX_DEFAULT_LEAVES,
    HKMeansOptions,
    check_level_ks,
    default_level_ks,
    resolve_resampling,
)
from thresher.errors import ThresherError


def _water_fill(sizes: list[int], target: int, tie: np.ndarray) -> list[int]:
    """The reference split of ``target`` over groups of ``sizes``: the largest s with Σ min(nᵢ, s) ≤ target,
    then one more to the groups that still have room, first in ``tie`` order (smallest rank first)."""
    s = 0
    while sum(min(n, s + 1) for n in sizes) <= target and s < max(sizes):
        s += 1
    quotas = [min(n, s) for n in sizes]
    left = target - sum(quotas)
    for i in sorted((i for i, n in enumerate(sizes) if n > s), key=lambda i: tie[i])[:left]:
        quotas[i] += 1
    return quotas


def _recursive_sample(assignments: np.ndarray, key: np.ndarray, seed: int, target: int) -> set[int]:
    """Vo et al.'s sampling written top-down, as the paper describes it: split the target over the top
    clusters, each cluster's share over its children, down to the leaves; the first of each leaf by key."""
    n, levels = assignments.shape
    ties = [
        np.random.default_rng(np.random.SeedSequence([seed, level])).permutation(
            int(assignments[:, level].max()) + 1
        )
        for level in range(levels)
    ]

    def take(rows: np.ndarray, level: int, budget: int) -> list[int]:
        if level < 0:  # inside a leaf
            return rows[np.lexsort((rows, key[rows]))][:budget].tolist()
        children = np.unique(assignments[rows, level])
        members = [rows[assignments[rows, level] == c] for c in children]
        quotas = _water_fill([len(m) for m in members], budget, ties[level][children])
        return [i for m, q in zip(members, quotas, strict=True) for i in take(m, level - 1, q)]

    return set(take(np.arange(n), levels - 1, target))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_prefix_of_the_order_is_the_top_down_balanced_sample_of_its_size(seed):
    rng = np.random.default_rng(seed)
    n = 70
    leaf = rng.integers(0, 12, n)  # 12 leaves of very unequal sizes, 4 parents, 2 top clusters
    leaf[:30] = 0
    middle = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3])[leaf]
    top = np.array([0, 0, 1, 1])[middle]
    assignments = np.stack([leaf, middle, top], axis=1)
    key = rng.random(n)
    position = balanced_order(assignments, key, seed)
    assert sorted(position.tolist()) == list(range(n))
    for m in range(n + 1):
        assert set(np.flatnonzero(position < m).tolist()) == _recursive_sample(assignments, key, seed, m)


def test_one_level_order_takes_one_row_of_every_cluster_before_any_cluster_gives_a_second():
    cluster = np.array([0] * 50 + [1] * 3 + [2] * 1 + [3] * 9)
    position = balanced_order(cluster[:, None], np.random.default_rng(0).random(len(cluster)), seed=5)
    first = cluster[np.argsort(position)]
    assert set(first[:4].tolist()) == {0, 1, 2, 3}
    assert sorted(first[4:7].tolist()) == [0, 1, 3]  # cluster 2 has nothing more to give


def test_inside_a_leaf_rows_come_in_key_order():
    cluster = np.zeros(10, dtype=np.int64)
    key = np.random.default_rng(3).random(10)
    position = balanced_order(cluster[:, None], key, seed=0)
    assert np.array_equal(np.argsort(position), np.argsort(key))


def _blobs() -> np.ndarray:
    """One dense blob of 3000 points at the origin and 8 sparse blobs of 30 on a circle of radius 5."""
    rng = np.random.default_rng(0)
    angles = np.arange(8) * np.pi / 4
    sparse = [np.c_[5 * np.cos(a), 5 * np.sin(a)] + rng.normal(0, 0.3, (30, 2)) for a in angles]
    return np.concatenate([rng.normal(0, 0.3, (3000, 2)), *sparse]).astype(np.float32)


def test_resampling_moves_centroids_out_of_the_dense_region():
    x = _blobs()
    for seed in (0, 1):
        plain = fit_hierarchy(x, HierarchyConfig(ks=(16,), resampling_steps=(0,), seed=seed, progress=False))
        resampled = fit_hierarchy(
            x, HierarchyConfig(ks=(16,), resampling_steps=(10,), seed=seed, progress=False)
        )
        in_dense = [int((np.linalg.norm(h.centroids[0], axis=1) < 2).sum()) for h in (plain, resampled)]
        assert in_dense[1] <= in_dense[0] - 2, in_dense  # measured: 7 → 3 for both seeds
        assert resampled.sample_sizes == [102]  # ⌈3240 / (2·16)⌉


def test_levels_nest_and_each_row_sits_in_its_nearest_leaf():
    x = _blobs()
    h = fit_hierarchy(x, HierarchyConfig(ks=(20, 6, 2), resampling_steps=(0, 3, 3), seed=1, progress=False))
    assert h.assignments.shape == (len(x), 3) and h.ks == (20, 6, 2)
    for level in range(2):  # a row's cluster one level up is its cluster's parent
        assert np.array_equal(h.assignments[:, level + 1], h.parents[level][h.assignments[:, level]])
    distances = np.linalg.norm(x[:, None, :] - h.centroids[0][None, :, :], axis=2)
    np.testing.assert_allclose(h.distance, distances.min(axis=1), rtol=1e-4, atol=1e-5)
    assert np.array_equal(h.assignments[:, 0], distances.argmin(axis=1))


def test_the_same_seed_gives_the_same_hierarchy():
    x = _blobs()
    config = HierarchyConfig(ks=(12, 3), resampling_steps=(2, 2), seed=4, progress=False)
    assert np.array_equal(fit_hierarchy(x, config).assignments, fit_hierarchy(x, config).assignments)


@pytest.mark.parametrize(
    ("ks", "n", "message"),
    [
        ((10, 10), None, "must decrease"),
        ((5, 8, 2), None, "level 2 has k=8, level 1 k=5"),
        ((0,), None, "at least 1"),
        ((50, 5), 40, "more than its 40 points"),
    ],
)
def test_bad_level_ks_are_one_line_errors(ks, n, message):
    with pytest.raises(ThresherError, match=message):
        check_level_ks(ks, n)


def test_options_refuse_levels_that_contradict_the_ks_and_bad_resampling():
    with pytest.raises(ThresherError, match="--levels 3 but --level-ks names 2"):
        HKMeansOptions(levels=3, level_ks=[10, 2])
    with pytest.raises(ThresherError, match="names 2 levels but there are 3"):
        HKMeansOptions(levels=3, resampling_steps=[1, 2])
    assert HKMeansOptions(level_ks=[30, 9, 3]).resolved_levels == 3
    assert resolve_resampling(None, 3) == (0, 10, 10) and resolve_resampling([4], 2) == (4, 4)


@pytest.mark.parametrize("n", [1000, 1703, 50_000, 1_000_000])
@pytest.mark.parametrize("levels", [1, 2, 3, 4])
def test_default_ks_decrease_fit_the_rows_and_cap_the_finest_level(n, levels):
    ks = default_level_ks(n, levels)
    check_level_ks(ks, n)
    assert len(ks) == levels and ks[-1] >= 2 and ks[0] <= MAX_DEFAULT_LEAVES
    assert default_level_ks(1703, 2) == (143, 12) and default_level_ks(10**6, 3) == (1024, 180, 32)
