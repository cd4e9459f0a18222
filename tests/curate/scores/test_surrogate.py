"""``gaussian`` and ``moderate`` selection through the registry, checked against an independent
recomputation with the surrogate_features functions on the same embedding."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import fake_clustering
from thresher.cards.dataset_card import render_dataset_card
from thresher.catalog.embeddings import register_embeddings, write_embedding_part
from thresher.catalog.part_files import write_meta
from thresher.catalog.samples import labels_of, ok_sample_ids
from thresher.catalog.scores import score_run, score_table, write_score_part
from thresher.catalog.workspace import fetch_source
from thresher.curate.config import SelectConfig
from thresher.curate.scores.surrogate_features import gaussian_log_likelihood, moderate_distance
from thresher.curate.select import select
from thresher.errors import ThresherError

DIM = 6


def fake_embeddings(ws, source: str, name: str = "fake", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A one-part store of ``name``: a Gaussian blob per class (so scores differ by class)."""
    ids = ok_sample_ids(ws, source)
    labels = labels_of(ws, source, ids)
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, size=(int(labels.max()) + 1, DIM))
    vectors = (centres[labels] + rng.normal(0, 1, size=(len(ids), DIM)) * (1 + labels[:, None] % 3)).astype(
        np.float32
    )
    out = ws.embeddings_dir(source, name)
    out.mkdir(parents=True, exist_ok=True)
    write_embedding_part(out, 0, ids, vectors)
    write_meta(
        out,
        {"embedder": name, "dim": DIM, "dtype": "float32", "normalized": False, "n": len(ids), "parts": 1},
    )
    register_embeddings(ws, source, name, out, DIM, len(ids), False, None)
    return ids, vectors


def _kept(result) -> np.ndarray:
    return pq.read_table(result.path / "ids.parquet").column("sample_id").to_numpy()


def _stats(result) -> dict:
    return json.loads((result.path / "stats.json").read_text())


@pytest.fixture
def embedded(mnist_lt):
    ids, vectors = fake_embeddings(mnist_lt, "mnist-lt")
    return mnist_lt, ids, vectors, labels_of(mnist_lt, "mnist-lt", ids)


def _top_per_group(score: np.ndarray, groups: np.ndarray, ids: np.ndarray, kept: set, high: bool) -> None:
    """Within every group the kept rows are exactly the best-scored ones (by the independent score)."""
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        n_kept = sum(int(ids[r]) in kept for r in rows)
        order = rows[np.argsort(-score[rows] if high else score[rows], kind="stable")]
        assert {int(ids[r]) for r in order[:n_kept]} == {int(ids[r]) for r in rows if int(ids[r]) in kept}


def test_gaussian_keeps_the_highest_likelihood_samples_of_every_class(embedded):
    ws, ids, vectors, labels = embedded
    result = select(ws, SelectConfig(name="g", method="gaussian", ratio=0.9, embedder="fake"))
    expected = gaussian_log_likelihood(vectors, labels, shrinkage="ledoit-wolf")
    kept = set(_kept(result).tolist())
    _top_per_group(expected, labels, ids, kept, high=True)
    stats = _stats(result)
    # proportional within the classes by default: every class keeps ~10%
    for c, before in stats["class_counts_before"].items():
        assert abs(stats["class_counts_after"].get(c, 0) - 0.1 * before) <= 1
    assert stats["params"]["groups"] == "class" and stats["params"]["embedder"] == "fake"
    assert stats["params"]["shrinkage"] == "ledoit-wolf" and stats["params"]["balance"] == "proportional"
    assert stats["score_config"]["groups"] == "class" and stats["score_config"]["shrinkage"] == "ledoit-wolf"
    # the stored score is that log-likelihood
    stored = pq.read_table(ws.scores_dir(result.score_run)).to_pandas().set_index("sample_id")
    np.testing.assert_allclose(stored.loc[ids, "score"].to_numpy(), expected, rtol=1e-9)


def test_inverse_keeps_the_sparsest_and_splits_the_pool(embedded):
    ws, ids, vectors, labels = embedded
    dense = select(ws, SelectConfig(name="g", method="gaussian", ratio=0.5, embedder="fake"))
    sparse = select(ws, SelectConfig(name="g", method="gaussian", ratio=0.5, embedder="fake", inverse=True))
    assert sparse.score_run == dense.score_run  # the same options reuse one score run
    a, b = set(_kept(dense).tolist()), set(_kept(sparse).tolist())
    assert not a & b and len(a | b) == len(ids)
    expected = gaussian_log_likelihood(vectors, labels)
    _top_per_group(expected, labels, ids, b, high=False)


def test_moderate_keeps_the_closest_to_the_group_median(embedded):
    ws, ids, vectors, labels = embedded
    result = select(ws, SelectConfig(name="m", method="moderate", ratio=0.7, embedder="fake"))
    distance = moderate_distance(vectors, labels, center="median")
    kept = set(_kept(result).tolist())
    _top_per_group(distance, labels, ids, kept, high=False)
    far = select(ws, SelectConfig(name="m", method="moderate", ratio=0.7, embedder="fake", inverse=True))
    _top_per_group(distance, labels, ids, set(_kept(far).tolist()), high=True)


def test_cluster_groups_and_equal_balance(embedded):
    ws, ids, vectors, labels = embedded
    clusters = (labels + ids) % 10  # not the classes
    with score_run(ws, "cl", "cluster", "mnist-lt", {"k": 10, "embedder": "fake"}) as folder:
        write_score_part(
            folder, score_table(ids, "cluster", score=ids * 0.0, cluster=clusters, distance=ids * 0.0)
        )
    result = select(
        ws, SelectConfig(name="c", method="gaussian", keep_count=200, balance="equal", groups="cluster",
                         embedder="fake", clustering="cl")
    )  # fmt: skip
    kept = pq.read_table(result.path / "ids.parquet").to_pandas()
    assert kept.groupby("cluster").size().tolist() == [20] * 10
    expected = gaussian_log_likelihood(vectors, clusters)
    _top_per_group(expected, clusters, ids, set(kept["sample_id"].tolist()), high=True)
    assert _stats(result)["score_config"]["clustering"] == "cl"
    assert _stats(result)["params"]["groups"] == "cluster"


def test_balance_by_class_for_any_method(mnist_lt):
    fake_clustering(mnist_lt, "mnist-lt")
    result = select(
        mnist_lt, SelectConfig(name="r", method="random", keep_count=100, balance="equal", groups="class")
    )
    stats = _stats(result)
    assert set(stats["class_counts_after"].values()) == {10} and stats["params"]["groups"] == "class"


def test_no_grouping_ranks_globally(embedded):
    ws, ids, vectors, _ = embedded
    result = select(
        ws, SelectConfig(name="n", method="moderate", keep_count=50, groups="none", embedder="fake")
    )
    distance = moderate_distance(vectors, np.zeros(len(ids), dtype=np.int64))
    assert set(_kept(result).tolist()) == {int(i) for i in ids[np.argsort(distance, kind="stable")[:50]]}


def test_the_card_names_method_groups_embedder_and_shrinkage(embedded):
    ws, *_ = embedded
    result = select(
        ws, SelectConfig(name="g", method="gaussian", ratio=0.5, embedder="fake", shrinkage="0.1")
    )
    with ws.connect(read_only=True) as con:
        source = fetch_source(con, "mnist-lt")
    text = str(render_dataset_card(_stats(result), source, data_files=None, load_path=".", query_path="."))
    for needle in ("`gaussian`", "groups=class", "embedder=fake", "shrinkage=0.1", "score run config"):
        assert needle in text


def test_bad_requests_are_one_line_errors(embedded, tmp_path):
    ws, *_ = embedded
    with pytest.raises(ThresherError, match="no clustering"):
        select(ws, SelectConfig(name="x", method="gaussian", ratio=0.5, groups="cluster", embedder="fake"))
    with pytest.raises(ThresherError, match="no embeddings 'nope'"):
        select(ws, SelectConfig(name="x", method="gaussian", ratio=0.5, embedder="nope"))
    with pytest.raises(ThresherError, match="shrinkage"):
        SelectConfig(name="x", method="gaussian", ratio=0.5, shrinkage="lots")
    with pytest.raises(ThresherError, match="--balance needs groups"):
        SelectConfig(name="x", method="gaussian", ratio=0.5, groups="none", balance="equal")
    assert not (ws.root / "subsets").exists()


def test_class_groups_need_labels(tmp_path):
    from sklearn.datasets import load_digits

    from thresher.catalog.config import IngestConfig
    from thresher.catalog.ingest import ingest
    from thresher.catalog.source_loaders import arrays_to_dataset
    from thresher.catalog.workspace import Workspace

    images = (load_digits().images[:60] * (255 / 16)).round().astype(np.uint8)
    arrays_to_dataset(images, None, None).save_to_disk(str(tmp_path / "nolabels"))
    ws = Workspace(tmp_path / "ws")
    ingest(ws, IngestConfig(source=str(tmp_path / "nolabels"), name="nl"))
    ids = ok_sample_ids(ws, "nl")
    out = ws.embeddings_dir("nl", "fake")
    out.mkdir(parents=True)
    write_embedding_part(out, 0, ids, np.random.default_rng(0).normal(size=(len(ids), 3)).astype(np.float32))
    write_meta(out, {"embedder": "fake", "dim": 3, "dtype": "float32", "normalized": False, "n": len(ids),
                     "parts": 1})  # fmt: skip
    register_embeddings(ws, "nl", "fake", out, 3, len(ids), False, None)
    with pytest.raises(ThresherError, match="no class labels"):
        select(ws, SelectConfig(name="x", method="gaussian", ratio=0.5, groups="class"))
    assert not (ws.root / "subsets").exists() and not (ws.root / "scores").exists()
    # auto without labels or clustering: one group
    result = select(ws, SelectConfig(name="x", method="gaussian", ratio=0.5))
    assert _stats(result)["score_config"]["groups"] == "none"
