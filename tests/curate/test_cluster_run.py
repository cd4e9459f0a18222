"""`thresher cluster` as a whole: one k and a sweep report the same figures for the same k and seed; the
purity table names the classes; a clustering that ignores the labels is flagged."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from tests.curate.scores.test_surrogate import fake_embeddings
from thresher.catalog.config import IngestConfig
from thresher.catalog.embeddings import register_embeddings, write_embedding_part
from thresher.catalog.ingest import ingest
from thresher.catalog.part_files import write_meta
from thresher.catalog.samples import labels_of, ok_sample_ids
from thresher.curate.cluster_run import run_cluster
from thresher.curate.config import ClusterRunConfig
from thresher.curate.kmeans_sweep import mean_purity


def _config(ks: list[int], **kw) -> ClusterRunConfig:
    return ClusterRunConfig(ks=ks, source="mnist-lt", embedder="fake", device="cpu", **kw)


def test_a_sweep_reports_what_a_single_k_run_reports_at_the_same_k_and_seed(mnist_lt):
    ids, _ = fake_embeddings(mnist_lt, "mnist-lt")
    assert len(ids) > 256 * 6  # so the default training sample (256 points per centroid) grows with k
    sweep = run_cluster(mnist_lt, _config([2, 4, 6]))
    single = run_cluster(mnist_lt, _config([4]))
    by_k = {row["k"]: row for row in sweep.table}

    # each k trains on its own default sample, the one a single-k run draws
    assert [by_k[k]["n_train"] for k in (2, 4, 6)] == [512, 1024, 1536]
    assert single.n_train == by_k[4]["n_train"] == 1024
    assert by_k[4]["inertia_per_point"] == pytest.approx(single.inertia / single.n_train, rel=1e-5)
    # purity over all rows, size-weighted: recomputed from the single run's own per-cluster table
    table_purity = sum(r["size"] * r["purity"] for r in single.table if r["size"]) / len(ids)
    assert single.mean_purity == pytest.approx(table_purity, rel=1e-9)
    assert by_k[4]["mean_purity"] == pytest.approx(single.mean_purity, abs=1e-9)
    assert 0 < by_k[2]["mean_purity"] < by_k[6]["mean_purity"] <= 1  # 10 blobs: more clusters, purer

    sweep_lines, single_lines = sweep.lines(), single.lines()
    assert "mean purity" in sweep_lines[1] and "n_train" in sweep_lines[1]
    row_4 = next(line for line in sweep_lines if line.startswith("4 "))
    assert row_4.split() == [
        "4",
        f"{by_k[4]['inertia_per_point']:.6g}",
        "1024",
        f"{by_k[4]['mean_purity']:.3f}",
    ]
    assert f"{single.inertia / single.n_train:.6g} per point" in single_lines[0]
    assert "over 1024 training points" in single_lines[0]
    assert f"mean purity {single.mean_purity:.3f}" in single_lines[1]


def test_an_explicit_max_train_is_the_same_sample_in_both(mnist_lt):
    fake_embeddings(mnist_lt, "mnist-lt")
    sweep = run_cluster(mnist_lt, _config([3, 6], max_train=700, seed=4))
    single = run_cluster(mnist_lt, _config([6], max_train=700, seed=4))
    row = next(r for r in sweep.table if r["k"] == 6)
    assert row["n_train"] == single.n_train == 700
    assert row["inertia_per_point"] == pytest.approx(single.inertia / 700, rel=1e-5)


@pytest.fixture
def pets(workspace, tmp_path):
    """An image folder with named classes, 8 cats and 4 dogs (cats are 2/3 of the rows)."""
    rng = np.random.default_rng(0)
    for name, n in (("cat", 8), ("dog", 4)):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pets" / name / f"{i}.png")
    ingest(workspace, IngestConfig(source=str(tmp_path / "pets"), name="pets"))
    ids = ok_sample_ids(workspace, "pets")
    return workspace, ids, labels_of(workspace, "pets", ids)


def _two_blobs(ws, ids: np.ndarray, blob: np.ndarray) -> None:
    """A store where each row lies in blob 0 or 1 (far apart), whatever its label."""
    rng = np.random.default_rng(1)
    vectors = (100.0 * blob[:, None] + rng.normal(0, 0.1, size=(len(ids), 4))).astype(np.float32)
    out = ws.embeddings_dir("pets", "blobs")
    out.mkdir(parents=True, exist_ok=True)
    write_embedding_part(out, 0, ids, vectors)
    meta = {"embedder": "blobs", "dim": 4, "dtype": "float32", "normalized": False, "n": len(ids), "parts": 1}
    write_meta(out, meta)
    register_embeddings(ws, "pets", "blobs", out, 4, len(ids), False, None)


def _cluster_pets(ws):
    return run_cluster(ws, ClusterRunConfig(ks=[2], source="pets", embedder="blobs", device="cpu"))


def test_clusters_that_ignore_the_labels_are_flagged(pets):
    ws, ids, labels = pets
    assert labels.tolist() == [0] * 8 + [1] * 4
    # both blobs hold 4 cats and 2 dogs: the label mix of the whole data, so each cluster's purity is 2/3
    _two_blobs(ws, ids, np.array([0, 1] * 4 + [0, 1] * 2))
    result = _cluster_pets(ws)
    assert [r["purity"] for r in result.table] == pytest.approx([2 / 3, 2 / 3])
    assert result.label_share_max == pytest.approx(2 / 3)
    warnings = [line for line in result.lines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "do not separate the classes" in warnings[0]


def test_clusters_that_follow_the_labels_are_not_flagged_and_the_table_names_classes(pets):
    ws, ids, labels = pets
    _two_blobs(ws, ids, labels)
    result = _cluster_pets(ws)
    assert sorted(r["purity"] for r in result.table) == [1.0, 1.0]
    lines = result.lines()
    assert not [line for line in lines if line.startswith("warning:")]
    rows = {line.split()[0]: line for line in lines if line[:1].isdigit()}
    by_cluster = {str(r["cluster"]): r for r in result.table}
    for cluster, line in rows.items():
        label = by_cluster[cluster]["majority_label"]
        assert f"{label} ({['cat', 'dog'][label]})" in line

    with open(ws.clustering_dir(result.run_id) / "clusters.csv") as fh:
        written = list(csv.DictReader(fh))
    # machine-readable: the integer id stays in majority_label, the name sits beside it
    assert {(r["majority_label"], r["majority_name"]) for r in written} == {("0", "cat"), ("1", "dog")}


def test_mean_purity_is_the_share_of_rows_with_their_clusters_majority_label():
    cluster = np.array([0, 0, 0, 1, 1, 5])
    labels = np.array([2, 2, 7, 7, 3, 3])
    # cluster 0: 2 of 3 carry label 2; cluster 1: 1 of 2 (a tie); cluster 5: 1 of 1
    assert mean_purity(cluster, labels) == pytest.approx(4 / 6)
