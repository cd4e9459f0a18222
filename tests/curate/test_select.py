from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.curate.select_quotas import group_quotas
from thresher.errors import ThresherError


def _ids(result) -> np.ndarray:
    return pq.read_table(result.path / "ids.parquet").column("sample_id").to_numpy()


def _scores(ws, run="cluster-test"):
    table = pq.read_table(ws.scores_dir(run) / "part-00000.parquet").to_pandas()
    return table.set_index("sample_id")


def test_equal_balance_gives_equal_counts_per_cluster(clustered):
    result = select(clustered, SelectConfig(name="eq", method="cluster", balance="equal"))
    kept = pq.read_table(result.path / "ids.parquet").to_pandas()
    counts = kept.groupby("cluster").size()
    assert len(counts) == 10 and counts.nunique() == 1 and counts.iloc[0] == 25  # the smallest cluster's size


def test_equal_balance_with_target_water_fills(clustered):
    result = select(clustered, SelectConfig(name="eq", method="cluster", balance="equal", keep_count=400))
    counts = pq.read_table(result.path / "ids.parquet").to_pandas().groupby("cluster").size()
    assert counts.sum() == 400
    full = counts[counts < [500, 358, 257, 184, 132, 95, 68, 49, 35, 25][: len(counts)]]
    assert full.max() - full.min() <= 1  # clusters that still had samples get the same share (±1)
    assert counts[9] == 25 and counts[8] == 35


def test_nearest_keeps_smaller_distances_than_it_drops(clustered):
    scores = _scores(clustered)
    result = select(clustered, SelectConfig(name="near", method="cluster", ratio=0.6))
    kept = set(_ids(result))
    kept_d = scores.loc[list(kept), "distance"]
    dropped_d = scores.loc[[i for i in scores.index if i not in kept], "distance"]
    assert kept_d.max() <= dropped_d.min()
    far = select(clustered, SelectConfig(name="far", method="cluster", ratio=0.6, keep="furthest"))
    assert scores.loc[_ids(far), "distance"].min() >= dropped_d.min()


def test_proportional_keeps_ratio_in_every_cluster(clustered):
    result = select(clustered, SelectConfig(name="prop", method="cluster", ratio=0.8, balance="proportional"))
    stats = json.loads((result.path / "stats.json").read_text())
    for c, before in stats["cluster_counts_before"].items():
        assert abs(stats["cluster_counts_after"][c] - 0.2 * before) <= 1


def test_middle_drops_both_ends_within_clusters(clustered):
    scores = _scores(clustered)
    result = select(
        clustered,
        SelectConfig(name="mid", method="cluster", ratio=0.5, keep="middle", balance="proportional"),
    )
    kept = scores.loc[_ids(result)]
    for c, group in scores.groupby("cluster"):
        inside = kept[kept.cluster == c].distance
        d = np.sort(group.distance.to_numpy())
        assert inside.min() > d[0] and inside.max() < d[-1] or len(d) < 4


@pytest.mark.parametrize(
    "kwargs", [dict(method="cluster"), dict(method="cluster", balance="proportional"), dict(method="random")]
)
def test_inverse_and_non_inverse_split_the_set_at_half(clustered, kwargs):
    a = select(clustered, SelectConfig(name="a", ratio=0.5, **kwargs))
    b = select(clustered, SelectConfig(name="b", ratio=0.5, inverse=True, **kwargs))
    ia, ib = set(_ids(a)), set(_ids(b))
    assert not ia & ib and len(ia | ib) == 1703


def test_same_inputs_and_seed_give_same_ids_and_new_versions(clustered):
    first = select(clustered, SelectConfig(name="r", method="random", ratio=0.7, seed=3))
    second = select(clustered, SelectConfig(name="r", method="random", ratio=0.7, seed=3))
    other = select(clustered, SelectConfig(name="r", method="random", ratio=0.7, seed=4))
    assert (first.version, second.version, other.version) == (1, 2, 3)
    assert np.array_equal(_ids(first), _ids(second)) and not np.array_equal(_ids(first), _ids(other))


def test_group_quotas():
    assert group_quotas(np.array([10, 5, 1]), 9, "equal").tolist() == [4, 4, 1]
    assert group_quotas(np.array([10, 5, 1]), -1, "equal").tolist() == [1, 1, 1]
    assert group_quotas(np.array([10, 10]), 5, "proportional").sum() == 5
    assert group_quotas(np.array([7]), 3, None).tolist() == [3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="magic", ratio=0.5), "unknown method"),
        (dict(method="random", ratio=1.0), "outside"),
        (dict(method="random", ratio=-0.1), "outside"),
        (dict(method="random"), "give --ratio"),
        (dict(method="cluster", ratio=0.5, keep="sideways"), "unknown --keep"),
        (dict(method="random", ratio=0.5, keep_count=3), "not both"),
    ],
)
def test_bad_selections_fail_and_write_nothing(mnist_lt, kwargs, message):
    with pytest.raises(ThresherError, match=message):
        select(mnist_lt, SelectConfig(name="bad", **kwargs))
    assert not (mnist_lt.root / "subsets" / "bad").exists()


def test_select_before_clustering_and_bad_names(mnist_lt):
    with pytest.raises(ThresherError, match="no clustering"):
        select(mnist_lt, SelectConfig(name="c", method="cluster", ratio=0.5))
    for name in ("a/b", "..", "../x"):
        with pytest.raises(ThresherError, match="invalid subset name"):
            select(mnist_lt, SelectConfig(name=name, method="random", ratio=0.5))


def test_a_subset_folder_without_a_catalog_row_is_refused_and_kept(clustered):
    """A folder the catalog does not know (a select killed after its rename, or a name that differs only in
    case on a case-insensitive filesystem) is never deleted: one line says what to do (issue 17.13)."""
    orphan = clustered.subset_dir("kept", 1)
    orphan.mkdir(parents=True)
    (orphan / "ids.parquet").write_bytes(b"someone else's")
    with pytest.raises(ThresherError, match="exists but the catalog has no kept@v1"):
        select(clustered, SelectConfig(name="kept", method="random", ratio=0.5))
    assert (orphan / "ids.parquet").read_bytes() == b"someone else's"
    assert not list(orphan.parent.glob(".v*.partial"))
    with clustered.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM subsets").fetchone()[0] == 0


def test_select_holds_no_catalog_lock_while_it_ranks_and_writes(clustered, monkeypatch):
    """House item 4: select held the catalog's write lock while it built its pool, ranked and wrote Parquet,
    so every reader waited. Now another process can write the catalog while select ranks."""
    import subprocess
    import sys

    from thresher.catalog.selection_pool import SelectionPool

    writes: list[subprocess.CompletedProcess] = []
    original = SelectionPool.keep_quotas

    def ranks_while_another_process_writes(self, *args, **kwargs):
        writes.append(
            subprocess.run(
                [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).execute("
                 "\"INSERT INTO meta VALUES ('probe', 'written during select')\")", str(clustered.catalog_path)],
                capture_output=True, text=True, timeout=120,
            )
        )  # fmt: skip
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SelectionPool, "keep_quotas", ranks_while_another_process_writes)
    result = select(clustered, SelectConfig(name="nolock", method="cluster", ratio=0.5))
    assert len(writes) == 1 and writes[0].returncode == 0, writes[0].stderr[-500:]
    assert result.n > 0
    with clustered.connect(read_only=True) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'probe'").fetchall() == [
            ("written during select",)
        ]
