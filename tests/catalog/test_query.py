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


# Statements of every type DuckDB's parser produces from SQL text (several parse as a broader type:
# ANALYZE as VACUUM, SET VARIABLE as SET, INSTALL as LOAD, COPY FROM DATABASE as PRAGMA), plus one whose
# type the Python enum does not even know (UPDATE EXTENSIONS). The types no SQL text produces are listed,
# so the test notices when DuckDB adds a type.
EVERY_STATEMENT = [
    "INSERT INTO runs (id, kind) VALUES ('x', 'y')",
    "UPDATE runs SET status = 'x'",
    "CREATE TABLE t AS SELECT 1",
    "CREATE MACRO m(a) AS a",
    "DELETE FROM runs",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "ALTER TABLE runs ADD COLUMN x INTEGER",
    "BEGIN",
    "COPY runs TO '{out}/copy.csv'",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}/explain.csv'",
    "EXPLAIN (ANALYZE, FORMAT json) CREATE TABLE t AS SELECT 1",
    "DROP TABLE runs",
    "EXPORT DATABASE '{out}/export'",
    "IMPORT DATABASE '{out}'",
    "COPY FROM DATABASE memory TO x",
    "PRAGMA table_info('runs')",
    "VACUUM",
    "ANALYZE",
    "CALL pragma_version()",
    "SET enable_external_access = true",
    "SET VARIABLE x = 1",
    "RESET threads",
    "LOAD httpfs",
    "INSTALL httpfs",
    "UPDATE EXTENSIONS",
    "ATTACH '{out}/x.db'",
    "DETACH x",
    "MERGE INTO runs USING (SELECT 'x' AS id) s ON runs.id = s.id WHEN MATCHED THEN DELETE",
]
NOT_FROM_TEXT = {"INVALID", "SELECT", "RELATION", "LOGICAL_PLAN", "MULTI", "ANALYZE", "VARIABLE_SET",
                 "CREATE_FUNC", "EXTENSION", "COPY_DATABASE"}  # fmt: skip


def _kind(sql: str) -> str:
    import duckdb

    try:
        return duckdb.extract_statements(sql)[0].type.name
    except ValueError:  # a type the Python enum lacks
        return "unknown"


def test_every_statement_type_but_select_is_refused(clustered, tmp_path):
    import duckdb

    out = tmp_path / "out"
    out.mkdir()
    (out / "schema.sql").write_text(f"COPY (SELECT 1) TO '{out}/imported.csv';")
    (out / "load.sql").write_text("")
    statements = [template.format(out=out) for template in EVERY_STATEMENT]
    covered = {_kind(sql) for sql in statements}
    assert covered - {"unknown"} | NOT_FROM_TEXT == set(duckdb.StatementType.__members__), covered
    for sql in statements:
        with pytest.raises(ThresherError, match="read-only"):
            run_query(clustered, sql)
        with pytest.raises(ThresherError, match="read-only"):
            run_query(clustered, f"SELECT 1; {sql}")  # hidden behind a read
    assert sorted(p.name for p in out.iterdir()) == ["load.sql", "schema.sql"]  # nothing written


def test_explain_of_a_select_still_works(clustered):
    assert run_query(clustered, "EXPLAIN SELECT count(*) FROM runs").rows
    assert run_query(clustered, "EXPLAIN ANALYZE SELECT count(*) FROM runs").rows


def test_the_connection_itself_cannot_reach_other_files(clustered, tmp_path):
    """Even a statement past the parser's check meets a locked connection: no file outside the workspace
    and the named paths, and the setting cannot be turned back."""
    import duckdb

    from thresher.catalog.query_access import lock_down

    con = duckdb.connect()
    lock_down(con, set())
    for sql in (f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", "SELECT * FROM read_csv('/etc/hostname')",
                "SET enable_external_access = true"):  # fmt: skip
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    assert not (tmp_path / "x.csv").exists()


def test_paths_the_query_names_are_readable(clustered, tmp_path):
    import pyarrow as pa

    folder = tmp_path / "published" / "v1"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"sample_id": [3, 1, 2]}), folder / "ids.parquet")
    result = run_query(clustered, f"SELECT sum(sample_id) FROM '{folder}/*.parquet'")
    assert result.rows == [(6,)]


@pytest.fixture
def outside(tmp_path):
    """A folder outside the workspace with a Parquet file the user may name and a secret beside it."""
    import pyarrow as pa

    folder = tmp_path / "outside"
    folder.mkdir()
    pq.write_table(pa.table({"sample_id": [3, 1, 2]}), folder / "ids.parquet")
    (folder / "secret.txt").write_text("the secret")
    return folder


@pytest.mark.parametrize("name", ["link/secret.txt", "link/../outside/secret.txt", "link/*.txt"])
def test_a_symlink_in_the_workspace_to_another_folder_is_refused(clustered, outside, name):
    """Hardening 19a: `ln -s /etc WS/etclink; read_text('WS/etclink/hostname')` read the linked file."""
    (clustered.root / "link").symlink_to(outside)
    with pytest.raises(ThresherError, match="resolves outside the workspace") as caught:
        run_query(clustered, f"SELECT content FROM read_text('{clustered.root}/{name}')")
    assert "\n" not in str(caught.value)


def test_a_symlink_in_the_workspace_is_not_followed_unnamed(clustered, outside):
    """The workspace's folders are not open either: a path built at run time through a link finds nothing."""
    (clustered.root / "link").symlink_to(outside)
    with pytest.raises(ThresherError, match="query failed"):
        run_query(clustered, f"SELECT content FROM read_text(concat('{clustered.root}/li', 'nk/secret.txt'))")


@pytest.mark.parametrize(
    "comment", ["-- '/tmp/..'\n", "/* '{outside}/secret.txt' */ ", "-- '{outside}/ids.parquet'\n"]
)
def test_a_path_in_a_comment_opens_nothing(clustered, outside, comment):
    """Hardening 19b: a comment naming '/tmp/..' allowed the whole file system (its folder resolved to /)."""
    sql = (
        comment.format(outside=outside) + f"SELECT content FROM read_text(concat('{outside}/', 'secret.txt'))"
    )
    with pytest.raises(ThresherError, match="query failed"):
        run_query(clustered, sql)


def test_naming_one_file_opens_only_that_file(clustered, outside):
    """Hardening 19c: naming one file allowed every file in its folder."""
    named = f"SELECT sum(sample_id) FROM '{outside}/ids.parquet'"
    assert run_query(clustered, named).rows == [(6,)]  # the named Parquet outside the workspace still reads
    with pytest.raises(ThresherError, match="query failed"):
        run_query(clustered, f"{named} UNION ALL SELECT 0 FROM read_text(concat('{outside}/', 'secret.txt'))")


def test_a_glob_opens_only_the_files_it_matches(clustered, outside):
    import pyarrow as pa

    pq.write_table(pa.table({"sample_id": [10]}), outside / "more.parquet")
    assert run_query(clustered, f"SELECT sum(sample_id) FROM '{outside}/*.parquet'").rows == [(16,)]
    with pytest.raises(ThresherError, match="query failed"):
        run_query(clustered, f"SELECT count(*) FROM '{outside}/*.parquet' UNION ALL "
                             f"SELECT 0 FROM read_text(concat('{outside}/', 'secret.txt'))")  # fmt: skip


def test_views_work_in_a_workspace_reached_through_a_symlink(clustered, tmp_path):
    """The views' own files are allowed as resolved files, whatever path the workspace was opened by."""
    from thresher.catalog.workspace import Workspace

    alias = tmp_path / "alias"
    alias.symlink_to(clustered.root)
    expected = run_query(clustered, "SELECT count(*) FROM scores").rows
    assert run_query(Workspace(alias), "SELECT count(*) FROM scores").rows == expected != [(0,)]


def test_a_score_file_linked_out_of_the_workspace_is_refused(clustered, outside):
    part = next(clustered.scores_dir("cluster-test").glob("part-*.parquet"))
    part.unlink()
    part.symlink_to(outside / "ids.parquet")
    with pytest.raises(ThresherError, match="resolves outside the workspace"):
        run_query(clustered, "SELECT count(*) FROM runs")
