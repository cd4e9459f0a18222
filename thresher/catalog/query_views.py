"""The views `thresher query` adds to the catalog's tables: ``embeddings_meta``, ``scores`` (every committed
score Parquet, with a ``run_id`` column), ``subset_members``, ``clusters`` and ``score_runs``.

Temporary views live in memory, so they work on a read-only catalog and vanish with the connection. Each
function returns the files its views read, for the query's allow-list (``catalog/query_access.py``).
"""

from __future__ import annotations

import duckdb

from thresher.catalog.query_access import view_files
from thresher.catalog.workspace import Workspace


def create_views(con: duckdb.DuckDBPyConnection, ws: Workspace) -> set[str]:
    """Create ``embeddings_meta`` and ``scores``; return the files they read (``_view_files``)."""
    # Temporary views live in memory, so they work on a read-only catalog and vanish with the connection.
    con.execute("CREATE TEMP VIEW embeddings_meta AS SELECT * FROM main.embeddings")
    # Only committed score runs: a killed run's leftovers (``scores/.<run>.partial/``) are never read.
    files = [
        path
        for (run_id,) in con.execute("SELECT id FROM runs WHERE status = 'done' ORDER BY id").fetchall()
        for path in sorted(ws.scores_dir(run_id).glob("part-*.parquet"))
    ]
    if files:
        listed = ", ".join(_literal(str(f)) for f in files)
        con.execute(
            "CREATE TEMP VIEW scores AS SELECT * EXCLUDE (filename), "
            "regexp_extract(filename, '.*/scores/([^/]+)/part-[^/]*$', 1) AS run_id "
            f"FROM read_parquet([{listed}], filename = true, union_by_name = true)"
        )
    else:
        con.execute(
            "CREATE TEMP VIEW scores AS SELECT NULL::BIGINT AS sample_id, NULL::TEXT AS method, "
            "NULL::DOUBLE AS score, NULL::INTEGER AS cluster, NULL::DOUBLE AS distance, NULL::BIGINT AS rank, "
            "NULL::TEXT AS run_id WHERE false"
        )
    return view_files(files, ws)


def create_subset_views(con: duckdb.DuckDBPyConnection, ws: Workspace) -> set[str]:
    """``subset_members`` (name, version, sample_id, label, cluster), ``clusters`` (per clustering run and
    cluster: size, mean distance, majority label, purity) and ``score_runs`` (each finished run's kind,
    method and parameters): the questions users ask first, as views. Returns the files they read."""
    versions = con.execute("SELECT name, version FROM subsets ORDER BY name, version").fetchall()
    files = [ws.subset_dir(n, v) / "ids.parquet" for n, v in versions]
    files = [f for f in files if f.is_file()]
    if files:
        listed = ", ".join(_literal(str(f)) for f in files)
        con.execute(
            "CREATE TEMP VIEW subset_members AS SELECT "
            "regexp_extract(filename, '.*/subsets/([^/]+)/v[0-9]+/ids\\.parquet$', 1) AS name, "
            "CAST(regexp_extract(filename, '.*/v([0-9]+)/ids\\.parquet$', 1) AS INTEGER) AS version, "
            f"sample_id, label, cluster FROM read_parquet([{listed}], filename = true, union_by_name = true)"
        )
    else:
        con.execute(
            "CREATE TEMP VIEW subset_members AS SELECT NULL::TEXT AS name, NULL::INTEGER AS version, "
            "NULL::BIGINT AS sample_id, NULL::INTEGER AS label, NULL::INTEGER AS cluster WHERE false"
        )
    con.execute(
        """CREATE TEMP VIEW clusters AS
        WITH assigned AS (
            SELECT s.run_id AS clustering, r.source, s.cluster, s.sample_id, s.distance, m.label
            FROM scores s JOIN main.runs r ON r.id = s.run_id AND r.kind = 'cluster'
            LEFT JOIN main.samples m ON m.source = r.source AND m.sample_id = s.sample_id),
        per_label AS (
            SELECT clustering, cluster, label, count(*) AS n FROM assigned
            WHERE label IS NOT NULL GROUP BY ALL),
        majority AS (
            SELECT clustering, cluster, arg_max(label, n) AS majority_label, max(n) AS majority_n
            FROM per_label GROUP BY ALL)
        SELECT a.clustering, a.cluster, count(*) AS size, avg(a.distance) AS mean_distance,
               any_value(m.majority_label) AS majority_label,
               any_value(m.majority_n) / count(*) AS purity
        FROM assigned a LEFT JOIN majority m USING (clustering, cluster)
        GROUP BY a.clustering, a.cluster"""
    )
    con.execute(
        "CREATE TEMP VIEW score_runs AS SELECT id AS run_id, kind, source, "
        "json_extract_string(config, '$.method') AS method, config AS params, finished "
        "FROM main.runs WHERE status = 'done' AND kind <> 'train'"
    )
    return view_files(files, ws)


def _literal(text: str) -> str:
    """A SQL string literal (a view's definition cannot take parameters; quotes are doubled)."""
    return "'" + text.replace("'", "''") + "'"
