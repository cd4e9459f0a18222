"""The views `thresher query` adds to the catalog's tables: ``embeddings_meta``, ``scores`` (every committed
score Parquet, with a ``run_id`` column), ``subset_members``, ``clusters``, ``cluster_levels`` and
``score_runs``.

Temporary views live in memory, so they work on a read-only catalog and vanish with the connection. Each
function returns the files its views read, for the query's allow-list (``catalog/query_access.py``).
"""

from __future__ import annotations

import duckdb

from thresher.catalog.query_access import view_files
from thresher.catalog.scores import cluster_levels_path
from thresher.catalog.workspace import Workspace


def _tables(con: duckdb.DuckDBPyConnection) -> str:
    """The catalog's own schema, fully qualified: a view named like a table (``samples``) must not find
    itself when it reads the table."""
    (database,) = con.execute("SELECT current_database()").fetchone()
    return '"' + str(database).replace('"', '""') + '".main'


def create_views(con: duckdb.DuckDBPyConnection, ws: Workspace) -> set[str]:
    """Create ``embeddings_meta``, ``samples`` (the table with each label's name) and ``scores`` (with the
    run's source); return the files they read (``view_files``)."""
    main = _tables(con)
    con.execute(f"CREATE TEMP VIEW embeddings_meta AS SELECT * FROM {main}.embeddings")
    # Hardening item 12: a sample's class by name, beside its id.
    con.execute(
        f"CREATE TEMP VIEW samples AS SELECT s.*, "
        f"json_extract_string(src.label_names, '$[' || s.label || ']') AS label_name "
        f"FROM {main}.samples s LEFT JOIN {main}.sources src ON src.id = s.source"
    )
    # Only committed score runs: a killed run's leftovers (``scores/.<run>.partial/``) are never read.
    files = [
        path
        for (run_id,) in con.execute(
            f"SELECT id FROM {main}.runs WHERE status = 'done' ORDER BY id"
        ).fetchall()
        for path in sorted(ws.scores_dir(run_id).glob("part-*.parquet"))
    ]
    if files:
        listed = ", ".join(_literal(str(f)) for f in files)
        con.execute(
            "CREATE TEMP VIEW scores AS SELECT p.*, r.source FROM ("
            "SELECT * EXCLUDE (filename), "
            "regexp_extract(filename, '.*/scores/([^/]+)/part-[^/]*$', 1) AS run_id "
            f"FROM read_parquet([{listed}], filename = true, union_by_name = true)) p "
            f"LEFT JOIN {main}.runs r ON r.id = p.run_id"
        )
    else:
        con.execute(
            "CREATE TEMP VIEW scores AS SELECT NULL::BIGINT AS sample_id, NULL::TEXT AS method, "
            "NULL::DOUBLE AS score, NULL::INTEGER AS cluster, NULL::DOUBLE AS distance, NULL::BIGINT AS rank, "
            "NULL::TEXT AS run_id, NULL::TEXT AS source WHERE false"
        )
    return view_files(files, ws)


def create_subset_views(con: duckdb.DuckDBPyConnection, ws: Workspace) -> set[str]:
    """``subset_members`` (name, version, sample_id, label, cluster), ``clusters`` (per clustering run and
    cluster: size, mean distance, majority label, purity), ``cluster_levels`` (each sample's cluster at
    every level of a clustering) and ``score_runs`` (each finished run's kind, method and parameters): the
    questions users ask first, as views. Returns the files they read."""
    main = _tables(con)
    versions = con.execute(f"SELECT name, version FROM {main}.subsets ORDER BY name, version").fetchall()
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
        f"""CREATE TEMP VIEW clusters AS
        WITH assigned AS (
            SELECT s.run_id AS clustering, r.source, s.cluster, s.sample_id, s.distance, m.label
            FROM scores s JOIN {main}.runs r ON r.id = s.run_id AND r.kind = 'cluster'
            LEFT JOIN {main}.samples m ON m.source = r.source AND m.sample_id = s.sample_id),
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
    files += _cluster_levels(con, ws, main)
    con.execute(
        "CREATE TEMP VIEW score_runs AS SELECT id AS run_id, kind, source, "
        "json_extract_string(config, '$.method') AS method, config AS params, finished "
        f"FROM {main}.runs WHERE status = 'done' AND kind <> 'train'"
    )
    return view_files(files, ws)


def _cluster_levels(con: duckdb.DuckDBPyConnection, ws: Workspace, main: str) -> list:
    """``cluster_levels`` (clustering, source, sample_id, level, cluster): every sample's cluster at every
    level of a hierarchical clustering (hkmeans: ``clusterings/<run>/levels.parquet``, level 1 the finest),
    and a flat clustering's as its one level. Returns the files it reads."""
    runs = [
        r
        for (r,) in con.execute(
            f"SELECT id FROM {main}.runs WHERE status = 'done' AND kind = 'cluster'"
        ).fetchall()
    ]
    files = [cluster_levels_path(ws, r) for r in runs]
    files = [f for f in files if f.is_file()]
    flat = (
        "SELECT s.run_id AS clustering, s.source, s.sample_id, 1 AS level, s.cluster FROM scores s "
        f"JOIN {main}.runs r ON r.id = s.run_id AND r.kind = 'cluster'"
    )
    if files:
        listed = ", ".join(_literal(str(f)) for f in files)
        hierarchies = ", ".join(_literal(f.parent.name) for f in files)
        con.execute(
            "CREATE TEMP VIEW cluster_levels AS SELECT l.clustering, r.source, l.sample_id, l.level, l.cluster "
            "FROM (SELECT regexp_extract(filename, '.*/clusterings/([^/]+)/levels\\.parquet$', 1) AS clustering, "
            f"sample_id, level, cluster FROM read_parquet([{listed}], filename = true)) l "
            f"JOIN {main}.runs r ON r.id = l.clustering "
            f"UNION ALL {flat} WHERE s.run_id NOT IN ({hierarchies})"
        )
    else:
        con.execute(f"CREATE TEMP VIEW cluster_levels AS {flat}")
    return files


def _literal(text: str) -> str:
    """A SQL string literal (a view's definition cannot take parameters; quotes are doubled)."""
    return "'" + text.replace("'", "''") + "'"
