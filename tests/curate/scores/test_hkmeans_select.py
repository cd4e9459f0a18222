"""``--method hkmeans`` through ``thresher select``: the balanced selection, its hierarchy as a clustering
that everything reads, the card, and its bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.curate.scores.test_surrogate import fake_embeddings
from thresher.cards.dataset_card import render_dataset_card
from thresher.catalog.query import run_query
from thresher.catalog.scores import cluster_levels_path, score_files
from thresher.catalog.workspace import fetch_source
from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.errors import ThresherError

SMALL = {"level_ks": [40, 8, 3], "resampling_steps": [0, 3, 3]}  # quick on 1703 rows


@pytest.fixture
def embedded(mnist_lt):
    fake_embeddings(mnist_lt, "mnist-lt")
    return mnist_lt


def _kept(result) -> np.ndarray:
    return pq.read_table(result.path / "ids.parquet").column("sample_id").to_numpy()


def _levels(ws, clustering: str) -> dict[int, dict[int, int]]:
    table = pq.read_table(cluster_levels_path(ws, clustering)).to_pandas()
    return {int(lv): dict(zip(g.sample_id, g.cluster, strict=True)) for lv, g in table.groupby("level")}


def test_kept_rows_are_spread_over_the_top_clusters_as_evenly_as_their_sizes_allow(embedded):
    result = select(embedded, SelectConfig(name="hk", method="hkmeans", ratio=0.5, **SMALL))
    kept = set(_kept(result).tolist())
    top = _levels(embedded, result.clustering)[3]
    sizes = {c: sum(1 for v in top.values() if v == c) for c in set(top.values())}
    counts = {c: sum(1 for i, v in top.items() if v == c and i in kept) for c in sizes}
    assert sum(counts.values()) == result.n == 1703 - round(1703 * 0.5)
    # water-filling: a cluster smaller than the cut gives all it has, the others s or s + 1
    s = min(counts[c] for c in sizes if counts[c] < sizes[c])
    for c, size in sizes.items():
        assert counts[c] == size if size <= s else counts[c] in (s, s + 1), (c, size, counts[c], s)


def test_selection_and_inverse_split_the_pool_at_half_and_reruns_reuse_the_runs(embedded):
    plain = select(embedded, SelectConfig(name="a", method="hkmeans", ratio=0.5, **SMALL))
    inverse = select(embedded, SelectConfig(name="b", method="hkmeans", ratio=0.5, inverse=True, **SMALL))
    a, b = set(_kept(plain).tolist()), set(_kept(inverse).tolist())
    assert not a & b and len(a | b) == 1703
    again = select(embedded, SelectConfig(name="a", method="hkmeans", ratio=0.5, **SMALL))
    assert again.score_run == plain.score_run and set(_kept(again).tolist()) == a
    other = select(embedded, SelectConfig(name="c", method="hkmeans", ratio=0.5, seed=1, **SMALL))
    assert other.clustering != plain.clustering and set(_kept(other).tolist()) != a


def test_within_nearest_keeps_the_rows_nearest_their_leaf_centroid(embedded):
    result = select(embedded, SelectConfig(name="n", method="hkmeans", ratio=0.6, within="nearest", **SMALL))
    table = pq.read_table(score_files(embedded, result.clustering)).to_pandas()
    table["kept"] = table.sample_id.isin(_kept(result))
    for _, leaf in table.groupby("cluster"):
        if leaf.kept.any() and (~leaf.kept).any():
            assert leaf[leaf.kept].distance.max() <= leaf[~leaf.kept].distance.min()


def test_the_hierarchy_is_a_clustering_query_and_cluster_balance_read(embedded):
    result = select(embedded, SelectConfig(name="hk", method="hkmeans", ratio=0.5, **SMALL))
    rows = run_query(
        embedded,
        "SELECT level, count(*), count(DISTINCT sample_id), count(DISTINCT cluster) FROM cluster_levels "
        f"WHERE clustering = '{result.clustering}' GROUP BY level ORDER BY level",
    ).rows
    assert [r[:3] for r in rows] == [(1, 1703, 1703), (2, 1703, 1703), (3, 1703, 1703)]
    assert all(r[3] <= k for r, k in zip(rows, SMALL["level_ks"], strict=True))
    # every level-l cluster lies inside one level-(l+1) cluster
    nested = run_query(
        embedded,
        "SELECT max(n) FROM (SELECT a.cluster, count(DISTINCT b.cluster) AS n FROM cluster_levels a "
        "JOIN cluster_levels b USING (clustering, sample_id) WHERE a.level = 1 AND b.level = 2 GROUP BY 1)",
    ).rows
    assert nested == [(1,)]
    # the finest level is an ordinary clustering: equal balance over it keeps the same count per leaf
    flat = select(
        embedded,
        SelectConfig(
            name="eq", method="random", balance="equal", clustering=result.clustering, keep_count=80
        ),
    )
    leaves = _levels(embedded, result.clustering)[1]
    per_leaf = np.bincount([leaves[i] for i in _kept(flat)], minlength=40)
    sizes = np.bincount(list(leaves.values()), minlength=40)
    assert per_leaf.max() - per_leaf[sizes > per_leaf.max()].min() <= 1


def test_the_selection_prints_and_records_the_balance_per_level(embedded):
    result = select(embedded, SelectConfig(name="hk", method="hkmeans", ratio=0.5, **SMALL))
    stats = json.loads((result.path / "stats.json").read_text())
    text = "\n".join(result.lines())
    assert "class shares, source → selection:" in text and "rarest third of classes (7, 8, 9)" in text
    assert [lv["level"] for lv in stats["balance"]["levels"]] == [1, 2, 3]
    assert "level 3 (3 clusters)" in text or "level 3 (2 clusters)" in text
    assert stats["params"]["level_ks"] == [40, 8, 3] and stats["score_config"]["levels"] == 3
    with embedded.connect(read_only=True) as con:
        source = fetch_source(con, "mnist-lt")
    card = str(render_dataset_card(stats, source, data_files=None, load_path="x", query_path="x"))
    assert "level_ks=[40, 8, 3]" in card and "## Balance" in card and "level 2 (" in card


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level_ks": [30, 30]}, "must decrease"),
        ({"level_ks": [5000, 10]}, "level 1 has k=5000, more than its 1703 points"),
        ({"levels": 0}, "--levels must be at least 1"),
    ],
)
def test_bad_hierarchies_are_one_line_errors_that_write_nothing(embedded, options, message):
    with pytest.raises(ThresherError, match=message):
        select(embedded, SelectConfig(name="bad", method="hkmeans", ratio=0.5, **options))
    _nothing_written(embedded)


def test_hkmeans_without_embeddings_is_a_one_line_error(mnist_lt):
    with pytest.raises(
        ThresherError, match="no embeddings for source 'mnist-lt': run `thresher embed` first"
    ):
        select(mnist_lt, SelectConfig(name="bad", method="hkmeans", ratio=0.5))
    _nothing_written(mnist_lt)


def _nothing_written(ws) -> None:
    with ws.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM subsets").fetchone()[0] == 0
    assert not (ws.root / "subsets").exists() or not any((ws.root / "subsets").iterdir())
    assert not (ws.root / "clusterings").exists() or not any((ws.root / "clusterings").iterdir())
