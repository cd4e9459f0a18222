from __future__ import annotations

import numpy as np
import pytest

from thresher.curate.cluster import ClusterConfig
from thresher.curate.kmeans_sweep import elbow_k, plot_elbow, sweep_k
from thresher.errors import ThresherError


@pytest.fixture(scope="module")
def eight_groups() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = 4.0 * rng.standard_normal((8, 16))
    return (centres[rng.integers(0, 8, 3000)] + rng.standard_normal((3000, 16))).astype(np.float32)


@pytest.fixture(scope="module")
def rows(eight_groups):
    config = ClusterConfig(k=1, normalize=False, max_train=2000, progress=False)
    return sweep_k(eight_groups, [16, 2, 4, 6, 8, 10, 12, 4], config)


def test_sweep_uses_one_sample_and_inertia_decreases_with_k(rows):
    assert [row["k"] for row in rows] == [2, 4, 6, 8, 10, 12, 16]
    assert {row["n_train"] for row in rows} == {2000}
    inertia = [row["inertia"] for row in rows]
    assert all(a > b for a, b in zip(inertia, inertia[1:], strict=False))
    assert rows[0]["inertia_per_point"] == pytest.approx(rows[0]["inertia"] / 2000)


def test_elbow_is_at_the_true_number_of_groups(rows):
    assert elbow_k(rows) == 8


def test_elbow_plot_is_written(rows, tmp_path):
    path = plot_elbow(rows, tmp_path / "plots" / "elbow.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000


def test_sweep_rejects_bad_k(eight_groups):
    config = ClusterConfig(k=1, progress=False)
    with pytest.raises(ThresherError):
        sweep_k(eight_groups[:10], [2, 11], config)
    with pytest.raises(ThresherError):
        sweep_k(eight_groups, [], config)
    with pytest.raises(ThresherError):
        elbow_k([{"k": 2, "inertia": 1.0}, {"k": 3, "inertia": 0.5}])


def test_sweep_reports_mean_purity_with_labels_and_a_default_sample_per_k():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 1500)
    centres = 6.0 * rng.standard_normal((4, 8))
    vectors = (centres[labels] + rng.standard_normal((1500, 8))).astype(np.float32)
    config = ClusterConfig(k=1, normalize=False, progress=False)
    rows = sweep_k(vectors, [1, 4], config, labels=labels)
    # the default sample is 256 points per centroid, as for a single-k run
    assert [row["n_train"] for row in rows] == [256, 1024]
    # one cluster: purity is the largest class share; four clusters on four separated groups: pure
    assert rows[0]["mean_purity"] == pytest.approx(np.bincount(labels).max() / 1500)
    assert rows[1]["mean_purity"] > 0.98
    with pytest.raises(ThresherError):
        sweep_k(vectors, [2], config, labels=labels[:10])
