from __future__ import annotations

import json

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
