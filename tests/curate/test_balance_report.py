"""The balance report every selection prints (hardening item 7; thresher.curate.balance_report)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import fake_clustering
from thresher.catalog.embeddings import register_embeddings, write_embedding_part
from thresher.catalog.part_files import write_meta
from thresher.catalog.samples import labels_of, ok_sample_ids
from thresher.catalog.scores import score_run, score_table, write_score_part
from thresher.curate.balance_report import evenness, group_shares, level_balance, sparse_fraction
from thresher.curate.config import SelectConfig
from thresher.curate.gallery import write_gallery
from thresher.curate.select import select

HINT = "`--balance equal --groups class`"


def test_shares_dropped_groups_and_the_rarest_third_match_the_counts():
    before = {"0": 600, "1": 250, "2": 100, "3": 30, "4": 15, "5": 5}
    after = {"0": 300, "1": 150, "2": 50, "3": 0, "4": 10}
    report = group_shares("class", before, after, names=["a", "b", "c", "d", "e", "f"])
    assert [g.key for g in report.groups] == [0, 1, 2, 3, 4, 5]  # largest first
    assert report.groups[1].share_before == pytest.approx(250 / 1000)
    assert report.groups[1].share_after == pytest.approx(150 / 510)
    assert [g.label for g in report.dropped] == ["3 (d)", "5 (f)"]
    assert report.rare == [4, 5]  # the rarest third of 6 classes
    assert report.rare_share_before == pytest.approx(20 / 1000)
    assert report.rare_share_after == pytest.approx(10 / 510)
    lines = report.lines()
    assert "dropped entirely: 2 classes: 3 (d), 5 (f)" in lines
    assert any(
        line.startswith("rarest third of classes (4 (e), 5 (f)): 2.0% of the source → 2.0%") for line in lines
    )
    assert report.hint and HINT in report.hint  # a class was dropped and the classes were not the groups


def test_no_hint_when_the_classes_were_the_groups_or_nothing_was_lost():
    before = {"0": 90, "1": 10}
    assert group_shares("class", before, {"0": 1, "1": 0}, balanced_by_class=True).hint is None
    assert group_shares("class", before, {"0": 45, "1": 5}).hint is None
    assert group_shares("class", before, {"0": 45, "1": 4}).hint is not None  # 8.2% < 0.9 · 10%
    assert group_shares("cluster", before, {"0": 1, "1": 0}).hint is None  # no labels to balance by


def test_many_groups_print_the_largest_and_the_rarest():
    before = {str(k): 1000 - k for k in range(50)}
    lines = group_shares("cluster", before, before).lines()
    assert "  … 30 more clusters in stats.json" in lines
    assert lines[1].lstrip().startswith("0 ") and lines[-2].lstrip().startswith("49 ")


def test_evenness_is_one_for_equal_counts_and_zero_for_one_group():
    assert evenness(np.array([5, 5, 5, 5])) == pytest.approx(1.0)
    assert evenness(np.array([9, 0, 0])) == pytest.approx(0.0)
    p = np.array([3, 1]) / 4
    assert evenness(np.array([3, 1])) == pytest.approx(-(p * np.log(p)).sum() / np.log(2))


def test_level_balance_counts_kept_rows_per_cluster_of_every_level():
    sample_id = np.tile(np.arange(6), 2)
    level = np.repeat([1, 2], 6)
    cluster = np.array([0, 0, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1])
    levels = level_balance(sample_id, level, cluster, pool=np.arange(6), kept=np.array([0, 2, 3]))
    assert [(lv.level, lv.clusters, lv.kept_min, lv.kept_max, lv.size_min, lv.size_max) for lv in levels] == [
        (1, 3, 0, 2, 2, 2),
        (2, 2, 0, 3, 2, 4),
    ]
    assert levels[0].evenness_before == pytest.approx(1.0) and levels[1].evenness_after == pytest.approx(0.0)


def _store(ws, source: str, ids: np.ndarray, vectors: np.ndarray) -> None:
    out = ws.embeddings_dir(source, "toy")
    out.mkdir(parents=True, exist_ok=True)
    write_embedding_part(out, 0, ids, vectors)
    dim = vectors.shape[1]
    write_meta(
        out,
        {"embedder": "toy", "dim": dim, "dtype": "float32", "normalized": False, "n": len(ids), "parts": 1},
    )
    register_embeddings(ws, source, "toy", out, dim, len(ids), False, None)


def test_sparse_fraction_finds_the_selection_in_the_sparse_tail(mnist_lt):
    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    rng = np.random.default_rng(0)
    vectors = rng.normal(0, 0.01, (len(ids), 3)).astype(np.float32)
    outliers = ids[:170]  # 10% of the rows, far from everything and from each other
    vectors[:170] = rng.normal(0, 100, (170, 3))
    _store(mnist_lt, "mnist-lt", ids, vectors)
    path = mnist_lt.embeddings_dir("mnist-lt", "toy")
    assert sparse_fraction("toy", path, ids, outliers).kept_fraction == pytest.approx(1.0)
    assert sparse_fraction("toy", path, ids, ids[500:]).kept_fraction == pytest.approx(0.0, abs=0.01)
    sampled = sparse_fraction("toy", path, ids, outliers, sample=800)
    assert sampled.sampled and sampled.rows == 800 and sampled.kept_fraction > 0.9


@pytest.fixture
def rare_last(mnist_lt):
    """A score run whose order puts the rarest digits last: keeping 84% drops the five rarest."""
    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    labels = labels_of(mnist_lt, "mnist-lt", ids)
    with score_run(mnist_lt, "cluster-rare-last", "cluster", "mnist-lt", {"k": 1, "embedder": "fake"}) as f:
        write_score_part(
            f, score_table(ids, "cluster", score=labels, cluster=np.zeros(len(ids)), distance=labels)
        )
    return mnist_lt


def test_select_names_every_class_it_drops_and_suggests_grouping_by_class(rare_last):
    result = select(
        rare_last, SelectConfig(name="n", method="cluster", ratio=0.16, clustering="cluster-rare-last")
    )
    text = "\n".join(result.lines())
    assert "dropped entirely: 5 classes: 5, 6, 7, 8, 9" in text
    assert "rarest third of classes (7, 8, 9): 6.4% of the source → 0.0% of the selection" in text
    assert HINT in text
    stats = json.loads((result.path / "stats.json").read_text())
    assert [g["key"] for g in stats["balance"]["dropped"]] == [5, 6, 7, 8, 9]
    assert stats["balance"]["lines"] == result.balance.lines()
    by_class = select(
        rare_last, SelectConfig(name="c", method="random", ratio=0.6, balance="equal", groups="class")
    )
    assert by_class.balance.dropped == [] and by_class.balance.hint is None


def test_without_labels_the_report_is_per_cluster(mnist_lt):
    fake_clustering(mnist_lt, "mnist-lt")  # its clusters are the labels, read before they are erased
    with mnist_lt.connect() as con:
        con.execute("UPDATE samples SET label = NULL")
    preview = select(mnist_lt, SelectConfig(name="p", method="cluster", ratio=0.5, preview=True))
    text = "\n".join(preview.lines())
    assert "cluster shares, source → selection:" in text and "rarest third of clusters (3)" in text
    assert preview.balance.kind == "cluster" and preview.balance.hint is None


def test_the_gallery_page_shows_the_balance(rare_last, tmp_path):
    result = select(
        rare_last, SelectConfig(name="n", method="cluster", ratio=0.16, clustering="cluster-rare-last")
    )
    stats = json.loads((result.path / "stats.json").read_text())
    stats["balance"]["lines"].append("<script>x</script>")  # lines hold class names: data, escaped
    files = write_gallery(rare_last, stats, np.array([0, 1, 2]), tmp_path / "g", max_clusters=1)
    page = files.html.read_text()
    assert "<h2>Balance</h2>" in page and "dropped entirely: 5 classes: 5, 6, 7, 8, 9" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
