from __future__ import annotations

import numpy as np
import pytest

from thresher.curate.cluster import ClusterConfig, assign, fit_kmeans
from thresher.curate.config import DedupConfig
from thresher.curate.scores.dedup import SIMILARITY_TOLERANCE, semdedup
from thresher.errors import ThresherError


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def planted(n_distinct: int = 400, n_dups: int = 150, dim: int = 32, noise: float = 0.01, seed: int = 0):
    """Distinct random directions plus near-copies of some of them; returns vectors and each row's source."""
    rng = np.random.default_rng(seed)
    base = unit(rng.standard_normal((n_distinct, dim)))
    source = rng.integers(0, n_distinct, n_dups)
    copies = unit(base[source] + noise * rng.standard_normal((n_dups, dim)))
    vectors = np.concatenate([base, copies])
    return vectors, np.concatenate([np.arange(n_distinct), source])


def greedy_reference(vectors, cluster, eps, distance):
    """The rule written out one sample at a time, O(n²) with no blocking."""
    x = unit(vectors).astype(np.float64)
    kept = np.zeros(len(x), dtype=bool)
    for c in np.unique(cluster):
        members = np.flatnonzero(cluster == c)
        members = members[np.argsort(-distance[members], kind="stable")]
        chosen: list[int] = []
        for i in members:
            if not chosen or (x[chosen] @ x[i]).max() <= 1 - eps - SIMILARITY_TOLERANCE:
                chosen.append(i)
        kept[chosen] = True
    return kept


def test_planted_near_duplicates_are_removed_and_distinct_points_kept():
    vectors, source = planted()
    model = fit_kmeans(vectors, ClusterConfig(k=8, progress=False))
    _, cluster, distance = assign(model, vectors)
    result = semdedup(vectors, cluster, DedupConfig(eps=0.05, progress=False), distance=distance)
    # exactly one survivor per group of near-identical rows, and every distinct direction survives
    assert result.kept.sum() == 400
    assert set(source[result.kept]) == set(range(400))
    assert np.all(result.max_similarity[~result.kept] > 0.95 - SIMILARITY_TOLERANCE)
    assert np.all(result.max_similarity[result.kept] <= 0.95 - SIMILARITY_TOLERANCE)


def test_eps_zero_removes_only_exact_duplicates():
    vectors, source = planted(n_distinct=200, n_dups=60, noise=0.01, seed=1)
    exact = vectors[:30]  # bit-identical copies of the first 30 rows
    data = np.concatenate([vectors, exact])
    cluster = np.zeros(len(data), dtype=np.int64)
    result = semdedup(data, cluster, DedupConfig(eps=0.0, progress=False))
    assert result.kept.sum() == len(vectors)  # near-copies (cos ~0.9995) stay, exact copies go
    assert not result.kept[len(vectors) :].any()
    assert result.kept[: len(vectors)].all()


def test_keeps_the_member_furthest_from_the_centroid_first():
    x = unit(np.array([[1.0, 0.0], [1.0, 0.001], [1.0, -0.001], [0.0, 1.0]]))
    cluster = np.zeros(4, dtype=np.int64)
    distance = np.array([0.1, 0.3, 0.2, 0.05])
    furthest = semdedup(x, cluster, DedupConfig(eps=0.01, progress=False), distance=distance)
    np.testing.assert_array_equal(furthest.kept, [False, True, False, True])
    nearest = semdedup(x, cluster, DedupConfig(eps=0.01, keep="nearest", progress=False), distance=distance)
    np.testing.assert_array_equal(nearest.kept, [True, False, False, True])
    # the first sample visited has no kept neighbour yet
    assert furthest.max_similarity[1] == -1.0 and nearest.max_similarity[3] == -1.0


def test_compares_with_kept_samples_only():
    # A~B and B~C are above the threshold, A~C is not: greedy keeps A and C (the paper's code drops C)
    angle = 0.3
    x = np.array([[np.cos(a), np.sin(a)] for a in (0.0, angle, 2 * angle)], dtype=np.float32)
    eps = 1 - np.cos(1.5 * angle)
    result = semdedup(x, np.zeros(3, dtype=np.int64), DedupConfig(eps=eps, progress=False))
    np.testing.assert_array_equal(result.kept, [True, False, True])
    assert result.max_similarity[2] == pytest.approx(np.cos(2 * angle), abs=1e-6)


def test_duplicates_in_other_clusters_do_not_count():
    x = unit(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    result = semdedup(x, np.array([0, 1, 1]), DedupConfig(eps=0.0, progress=False))
    np.testing.assert_array_equal(result.kept, [True, True, False])


@pytest.mark.parametrize("block_size", [1, 7, 64, 4096])
def test_blocked_result_matches_one_at_a_time_reference(block_size):
    vectors, _ = planted(n_distinct=250, n_dups=200, noise=0.05, seed=2)
    rng = np.random.default_rng(3)
    cluster = rng.integers(0, 3, len(vectors))
    distance = rng.random(len(vectors))
    eps = 0.03
    result = semdedup(vectors, cluster, DedupConfig(eps=eps, block_size=block_size, progress=False), distance)
    reference = greedy_reference(vectors, cluster, eps, distance)
    assert 0 < (~reference).sum() < 200  # the case exercises both outcomes
    np.testing.assert_array_equal(result.kept, reference)


@pytest.mark.parametrize("block_size", [1, 7, 4096])
def test_each_dropped_row_names_the_earlier_kept_row_it_is_most_like(block_size):
    vectors, _ = planted(n_distinct=250, n_dups=200, noise=0.05, seed=2)
    rng = np.random.default_rng(3)
    cluster = rng.integers(0, 3, len(vectors))
    distance = rng.random(len(vectors))
    result = semdedup(vectors, cluster, DedupConfig(eps=0.03, block_size=block_size, progress=False), distance)
    x = unit(vectors).astype(np.float64)
    dropped = np.flatnonzero(~result.kept)
    assert len(dropped) > 0 and np.all(result.match[dropped] >= 0)
    assert np.all(result.kept[result.match[dropped]])  # always a kept row
    for i in dropped:
        # the kept rows of its cluster visited before it (furthest from the centroid first)
        earlier = (cluster == cluster[i]) & result.kept & (distance > distance[i])
        best = (x[earlier] @ x[i]).max()
        m = result.match[i]
        assert earlier[m] and x[m] @ x[i] == pytest.approx(best, abs=1e-5)
        assert result.max_similarity[i] == pytest.approx(best, abs=1e-5)
    first_visited = [np.flatnonzero(cluster == c)[np.argmax(distance[cluster == c])] for c in range(3)]
    assert np.all(result.match[first_visited] == -1)


def test_user_errors():
    with pytest.raises(ThresherError):
        DedupConfig(eps=-0.1)
    with pytest.raises(ThresherError):
        DedupConfig(keep="middle")
    with pytest.raises(ThresherError):
        semdedup(np.zeros((3, 2), dtype=np.float32), np.zeros(2), DedupConfig(progress=False))
