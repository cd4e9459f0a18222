from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.conftest import fake_clustering
from thresher.catalog.query import run_query
from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.errors import ThresherError


def test_query_views_over_catalog_and_scores(mnist_lt):
    fake_clustering(mnist_lt, "mnist-lt")
    select(mnist_lt, SelectConfig(name="s", method="random", ratio=0.5))
    result = run_query(
        mnist_lt, "SELECT cluster, count(*) AS n FROM scores WHERE method='cluster' GROUP BY 1 ORDER BY 1"
    )
    assert [r[1] for r in result.rows][:2] == [500, 358]
    assert run_query(mnist_lt, "SELECT count(DISTINCT run_id) FROM scores").rows[0][0] == 2
    assert run_query(mnist_lt, "SELECT n FROM subsets").rows == [(851,)]  # 1703 - round(1703 * 0.5)
    as_json = json.loads(run_query(mnist_lt, "SELECT id FROM sources").render("json"))
    assert as_json == [{"id": "mnist-lt"}]
    assert run_query(mnist_lt, "SELECT 1 AS a").render("csv") == "a\n1"


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM samples",
        "CREATE TABLE x AS SELECT 1",
        "DROP TABLE samples",
        "INSERT INTO sources (id, uri, kind) VALUES ('a','b','c')",
    ],
)
def test_writes_are_refused(mnist_lt, sql):
    with pytest.raises(ThresherError, match="read-only"):
        run_query(mnist_lt, sql)
    assert run_query(mnist_lt, "SELECT count(*) FROM samples").rows[0][0] == 1703


def test_bad_sql_is_one_line(mnist_lt):
    with pytest.raises(ThresherError, match="query failed|cannot parse"):
        run_query(mnist_lt, "SELECT nope FROM samples")


def test_subset_members_clusters_and_score_runs_views(clustered, tmp_path):
    from thresher.catalog.query import run_query
    from thresher.curate.config import SelectConfig as Config
    from thresher.curate.select import select as run_select

    result = run_select(clustered, Config(name="eq", method="cluster", balance="equal", ratio=0.5))
    members = run_query(
        clustered, "SELECT sample_id FROM subset_members WHERE name = 'eq' AND version = 1"
    ).rows
    kept = pq.read_table(result.path / "ids.parquet").column("sample_id").to_pylist()
    assert sorted(r[0] for r in members) == sorted(kept)
    # The fake clustering's clusters are the labels: every cluster is pure, sizes are the class counts.
    rows = run_query(
        clustered, "SELECT cluster, size, majority_label, purity FROM clusters ORDER BY cluster"
    ).rows
    with clustered.connect(read_only=True) as con:
        counts = dict(
            con.execute("SELECT label, count(*) FROM samples WHERE status = 'ok' GROUP BY 1").fetchall()
        )
    assert [(c, s, m, p) for c, s, m, p in rows] == [(c, counts[c], c, 1.0) for c in sorted(counts)]
    runs = run_query(clustered, "SELECT run_id, kind FROM score_runs").rows
    assert ("cluster-test", "cluster") in runs


@pytest.mark.parametrize(
    "sql",
    ["PRAGMA table_info('runs')", "IMPORT DATABASE '/tmp'", "COPY runs TO '/tmp/x.csv'", "ATTACH 'x.db'"],
)
def test_statements_that_could_write_are_refused(clustered, sql):
    from thresher.catalog.query import run_query

    with pytest.raises(ThresherError, match="read-only"):
        run_query(clustered, sql)
