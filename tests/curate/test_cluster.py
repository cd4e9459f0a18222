from __future__ import annotations

import faiss
import numpy as np
import pytest

from thresher.curate.cluster import (
    ClusterConfig,
    assign,
    assign_chunks,
    cluster_table,
    fit_kmeans,
    kmeans_plusplus,
    restart_seeds,
    sample_for_training,
)
from thresher.errors import ThresherError


def blobs(
    n: int, dim: int, k: int, spread: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim), dtype=np.float32)
    labels = rng.integers(0, k, n)
    return centres[labels] + spread * rng.standard_normal((n, dim), dtype=np.float32), labels, centres


def sum_sq_to_nearest(x: np.ndarray, centroids: np.ndarray) -> float:
    d2 = ((x[:, None, :].astype(np.float64) - centroids[None].astype(np.float64)) ** 2).sum(-1)
    return float(d2.min(1).sum())


def chunked(x: np.ndarray, sizes: list[int]):
    start = 0
    for size in sizes:
        yield np.arange(start, min(start + size, len(x))), x[start : start + size]
        start += size


@pytest.fixture(scope="module")
def separated():
    # 40 groups in 64-d: far apart relative to their spread, the case where random seeds fail
    return blobs(3000, 64, 40, spread=0.5, seed=1)


def test_kmeanspp_beats_random_init_and_reaches_the_true_partition(separated):
    x, labels, centres = separated
    optimum = sum_sq_to_nearest(x, centres)
    for seed in (0, 1):
        plus = fit_kmeans(x, ClusterConfig(k=40, seed=seed, normalize=False, progress=False))
        rand = fit_kmeans(x, ClusterConfig(k=40, seed=seed, normalize=False, init="random", progress=False))
        assert plus.inertia < 1.01 * optimum
        assert rand.inertia > 1.2 * plus.inertia
    _, cluster, _ = assign(plus, x)
    # every true group maps to exactly one cluster: a perfect partition up to renaming
    assert len({(a, b) for a, b in zip(labels, cluster, strict=True)}) == 40


def test_kmeanspp_seeds_cover_every_group(separated):
    x, labels, _ = separated
    seeds = kmeans_plusplus(x[:2000], 40, seed=3)
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    _, found = index.search(seeds, 1)  # seeds are rows of x: recover their group
    assert len(set(labels[found[:, 0]])) == 40


def test_seeded_runs_are_reproducible_and_seed_matters(separated):
    x, _, _ = separated
    config = ClusterConfig(k=16, seed=5, progress=False)
    a, b = fit_kmeans(x, config), fit_kmeans(x, config)
    assert np.array_equal(a.centroids, b.centroids) and a.inertia == b.inertia
    c = fit_kmeans(x, ClusterConfig(k=16, seed=6, progress=False))
    assert not np.array_equal(a.centroids, c.centroids)


def test_restarts_keep_the_best_of_the_seeded_runs():
    x, _, _ = blobs(1500, 16, 20, spread=1.0, seed=2)
    seeds = restart_seeds(4, 3)
    singles = [
        fit_kmeans(x, ClusterConfig(k=20, seed=s, init="random", progress=False)).inertia for s in seeds
    ]
    best = fit_kmeans(x, ClusterConfig(k=20, seed=4, init="random", restarts=3, progress=False))
    # restart r is the single run seeded with restart_seeds(seed, restarts)[r]
    assert best.restart_seeds == tuple(seeds)
    assert list(best.restart_inertias) == pytest.approx(singles, rel=1e-9)
    assert best.inertia == pytest.approx(min(singles), rel=1e-9)
    assert len(set(singles)) > 1  # the restarts really differ


def test_restart_seeds_of_distinct_seeds_never_overlap():
    lists = {seed: restart_seeds(seed, 3) for seed in range(50)}
    for seed, seeds in lists.items():
        assert seeds[0] == seed and len(set(seeds)) == 3
        assert all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds)  # faiss takes a C int
        assert restart_seeds(seed, 5)[:3] == seeds == restart_seeds(seed, 3)  # more restarts extend the list
    every = [s for seeds in lists.values() for s in seeds]
    assert len(set(every)) == len(every)  # no restart seed is shared between --seed 0..49
    assert restart_seeds(7, 1) == [7]  # a single run is seeded by --seed itself
    with pytest.raises(ThresherError):
        restart_seeds(-1, 2)


def test_seeds_0_and_1_with_3_restarts_run_disjoint_restarts():
    # With seed + r, seeds 0 and 1 shared restarts 1 and 2 (the same two k-means runs).
    x, _, _ = blobs(1200, 16, 20, spread=1.0, seed=6)

    def fit(seed: int):
        return fit_kmeans(x, ClusterConfig(k=20, seed=seed, init="random", restarts=3, progress=False))

    a, b = fit(0), fit(1)
    assert not set(a.restart_seeds) & set(b.restart_seeds)
    assert len(set(a.restart_inertias) | set(b.restart_inertias)) == 6  # six different k-means runs
    again = fit(0)
    assert np.array_equal(a.centroids, again.centroids) and a.restart_inertias == again.restart_inertias


@pytest.mark.parametrize("spherical", [False, True])
def test_distance_is_to_own_centroid_and_minimal(spherical):
    x, _, _ = blobs(1500, 24, 12, spread=1.0, seed=3)
    model = fit_kmeans(x, ClusterConfig(k=12, spherical=spherical, normalize=False, progress=False))
    ids, cluster, distance = assign(model, x)
    assert np.array_equal(ids, np.arange(len(x)))
    c = model.centroids.astype(np.float64)
    if spherical:
        assert np.allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-5)
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        all_dist = 1.0 - unit @ c.T
    else:
        all_dist = np.sqrt(((x[:, None, :] - c[None]) ** 2).sum(-1))
    own = all_dist[np.arange(len(x)), cluster]
    np.testing.assert_allclose(distance, own, atol=1e-4)
    assert np.all(own <= all_dist.min(axis=1) + 1e-4)
    # inertia convention: squared L2 distances, or plain cosine distances when spherical
    train_inertia = own.sum() if spherical else (own**2).sum()
    assert model.inertia == pytest.approx(train_inertia, rel=1e-4)


def test_streaming_assign_equals_one_shot():
    x, _, _ = blobs(2500, 16, 8, spread=1.0, seed=4)
    model = fit_kmeans(x, ClusterConfig(k=8, progress=False))
    x = x.astype(np.float16)  # stored embeddings are often half precision
    whole = assign(model, [(np.arange(len(x)), x)])
    pieces = list(assign_chunks(model, chunked(x, [700, 1, 999, 800])))
    streamed = tuple(np.concatenate(column) for column in zip(*pieces, strict=True))
    for a, b in zip(whole, streamed, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [len(p[0]) for p in pieces] == [700, 1, 999, 800]


def test_normalize_makes_clustering_scale_invariant():
    x, _, _ = blobs(1200, 16, 6, spread=1.0, seed=5)
    scales = np.random.default_rng(0).uniform(0.1, 10.0, size=(len(x), 1)).astype(np.float32)
    config = ClusterConfig(k=6, normalize=True, progress=False)
    _, a, _ = assign(fit_kmeans(x, config), x)
    _, b, _ = assign(fit_kmeans(x * scales, config), x * scales)
    np.testing.assert_array_equal(a, b)


def test_training_sample_is_capped_and_uniform():
    x = np.arange(20000, dtype=np.float32)[:, None].repeat(4, axis=1)
    sample = sample_for_training(x, 2000, seed=0)
    assert sample.shape == (2000, 4) and sample.dtype == np.float32
    rows = sample[:, 0]
    assert len(np.unique(rows)) == 2000 and np.all(np.diff(rows) > 0)  # distinct, in stream order
    # uniform over the stream: each tenth of the rows holds about a tenth of the sample
    counts = np.bincount((rows // 2000).astype(int), minlength=10)
    assert counts.min() > 140 and counts.max() < 260
    model = fit_kmeans(x, ClusterConfig(k=4, max_train=500, progress=False))
    assert model.n_train == 500


def test_training_sample_ignores_chunking_and_keeps_small_inputs_whole():
    x = np.random.default_rng(1).standard_normal((5000, 3)).astype(np.float32)
    whole = sample_for_training(x, 300, seed=7)
    pieces = sample_for_training(chunked(x, [1, 1234, 2000, 1765]), 300, seed=7)
    np.testing.assert_array_equal(whole, pieces)
    assert not np.array_equal(whole, sample_for_training(x, 300, seed=8))
    np.testing.assert_array_equal(sample_for_training(x[:100], 300, seed=0), x[:100])


def test_cluster_table_sizes_purity_and_representative():
    ids = np.array([10, 11, 12, 13, 14, 15])
    cluster = np.array([0, 0, 0, 2, 2, 0])
    distance = np.array([0.5, 0.1, 0.3, 0.2, 0.4, 0.9], dtype=np.float32)
    labels = np.array(["a", "a", "b", "c", "c", "a"])
    table = cluster_table(ids, cluster, distance, labels, k=3)
    assert [row["size"] for row in table] == [4, 0, 2]
    assert table[0]["purity"] == pytest.approx(0.75) and table[0]["majority_label"] == "a"
    assert table[0]["representative_id"] == 11 and table[2]["representative_id"] == 13
    assert table[1]["purity"] is None and table[2]["purity"] == 1.0
    assert sum(row["share"] for row in table) == pytest.approx(1.0)
    assert "purity" not in cluster_table(ids, cluster, distance)[0]


def test_user_errors():
    x = np.zeros((5, 3), dtype=np.float32)
    with pytest.raises(ThresherError):
        fit_kmeans(x, ClusterConfig(k=6, progress=False))
    with pytest.raises(ThresherError):
        ClusterConfig(k=0)
    with pytest.raises(ThresherError):
        ClusterConfig(k=3, init="afk")
    for seed in (-1, 2**31):
        with pytest.raises(ThresherError, match="seed"):
            ClusterConfig(k=3, seed=seed)
    with pytest.raises(ThresherError):
        fit_kmeans(np.full((10, 3), np.nan, dtype=np.float32), ClusterConfig(k=2, progress=False))
    if faiss.get_num_gpus() == 0:
        with pytest.raises(ThresherError, match="no GPU"):
            fit_kmeans(np.eye(4, dtype=np.float32), ClusterConfig(k=2, device="cuda", progress=False))
    model = fit_kmeans(np.eye(4, dtype=np.float32), ClusterConfig(k=2, device="auto", progress=False))
    with pytest.raises(ThresherError):
        assign(model, np.zeros((3, 5), dtype=np.float32))
