"""The rows a selection chooses from, ranked and cut in an in-memory DuckDB of its own.

`thresher select` reads the source's ok rows from the catalog once (a short read), then builds its pool
(sample id, group, order key, cluster) from the score run's Parquet files in a private database and keeps
rows from it there: it holds no lock on the catalog while it ranks, writes Parquet or draws a preview, and
takes the write lock only to commit its version (docs/architecture.md, 'Workspace'). What to keep is the
caller's decision (the quotas: :mod:`thresher.curate.select_quotas`); this module only runs the SQL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from thresher.catalog.workspace import Workspace

GROUP_KINDS = ("cluster", "class")
# Which end of each group's ranking (ascending order key, ties by sample id) a quota keeps.
KEEP_RULES = {
    "low": "pos <= quota",
    "high": "pos > size - quota",
    "middle": "pos > size - quota - (size - quota) // 2 AND pos <= size - (size - quota) // 2",
}


def _labels(column: np.ndarray) -> pa.Array:
    """Labels as int32 with nulls (DuckDB hands a column with NULLs to numpy as a masked array)."""
    if isinstance(column, np.ma.MaskedArray):
        return pa.array(column.filled(0), pa.int32(), mask=np.ma.getmaskarray(column))
    return pa.array(column, pa.int32())


class SelectionPool:
    """``pool(sample_id, grp, order_key, cluster)`` over the ok rows of ``source`` and, once one of the
    ``keep_*`` methods ran, ``kept(sample_id)``. ``grp`` is the cluster, the class label or 0, as
    ``group_kind`` says; ``cluster`` comes from the score files themselves (``clusters_in_scores``), from
    ``cluster_files``, or is NULL."""

    def __init__(
        self,
        ws: Workspace,
        source: str,
        score_files: list[Path],
        order_column: str,
        *,
        clusters_in_scores: bool,
        cluster_files: list[Path] | None,
        group_kind: str | None,
    ) -> None:
        with ws.connect(read_only=True) as catalog:
            ok = catalog.execute(
                "SELECT sample_id, label FROM samples WHERE source = ? AND status = 'ok'", [source]
            ).fetchnumpy()
        ok_rows = pa.table(
            {"sample_id": pa.array(ok["sample_id"], pa.int64()), "label": _labels(ok["label"])}
        )
        self.con = duckdb.connect(":memory:")
        self.con.register("ok_rows_arrow", ok_rows)
        self.con.execute("CREATE TABLE ok_rows AS SELECT * FROM ok_rows_arrow")
        self.con.unregister("ok_rows_arrow")
        params: list[Any] = [[str(f) for f in score_files]]
        if clusters_in_scores:
            cluster, join = "s.cluster", ""
        elif cluster_files:
            cluster, join = "c.cluster", "LEFT JOIN read_parquet(?) c USING (sample_id)"
            params.append([str(f) for f in cluster_files])
        else:
            cluster, join = "NULL::INTEGER", ""
        grp = {"cluster": cluster, "class": "m.label"}.get(group_kind or "", "0")
        if not re.fullmatch(r"[a-z_]+", order_column):  # a column name from the registry, never from a user
            raise ValueError(f"bad order column {order_column!r}")
        self.con.execute(
            f"CREATE TABLE pool AS SELECT s.sample_id, {grp} AS grp, s.{order_column} AS order_key, "
            f"{cluster} AS cluster FROM read_parquet(?) s {join} JOIN ok_rows m USING (sample_id)",
            params,
        )

    def __enter__(self) -> SelectionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    # -- what is there --------------------------------------------------------------------------------
    def size(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM pool").fetchall()[0][0])

    def group_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """(groups, their row counts), groups ascending."""
        sizes = self.con.execute("SELECT grp, count(*) FROM pool GROUP BY grp ORDER BY grp").fetchall()
        return (
            np.array([g for g, _ in sizes], dtype=np.int64),
            np.array([c for _, c in sizes], dtype=np.int64),
        )

    def pool_ids(self) -> np.ndarray:
        return self.con.execute("SELECT sample_id FROM pool ORDER BY sample_id").fetchnumpy()["sample_id"]

    # -- keeping ----------------------------------------------------------------------------------------
    def keep_at_most(self, threshold: float, *, inverse: bool) -> int:
        """Keep rows whose order key is at most ``threshold`` (the rest with ``inverse``)."""
        below = "SELECT sample_id FROM pool WHERE order_key <= ?"
        return self._keep(f"SELECT sample_id FROM pool EXCEPT ({below})" if inverse else below, [threshold])

    def keep_quotas(self, groups: np.ndarray, quotas: np.ndarray, rule: str, *, complement: bool) -> int:
        """Keep ``quotas[i]`` rows of group ``groups[i]`` from the ``rule`` end of its ranking; with
        ``complement``, every row but those."""
        self.con.execute("DROP TABLE IF EXISTS quotas")
        self.con.register("quotas_arrow", pa.table({"grp": groups.astype(np.int64), "quota": quotas}))
        self.con.execute("CREATE TEMP TABLE quotas AS SELECT * FROM quotas_arrow")
        self.con.unregister("quotas_arrow")
        ranked = (
            "SELECT p.sample_id, q.quota, count(*) OVER (PARTITION BY p.grp) AS size, "
            "row_number() OVER (PARTITION BY p.grp ORDER BY p.order_key, p.sample_id) AS pos "
            "FROM pool p JOIN quotas q USING (grp)"
        )
        chosen = f"SELECT sample_id FROM ({ranked}) WHERE {KEEP_RULES[rule]}"
        return self._keep(f"SELECT sample_id FROM pool EXCEPT ({chosen})" if complement else chosen, [])

    def _keep(self, sql: str, params: list[Any]) -> int:
        self.con.execute("DROP TABLE IF EXISTS kept")
        self.con.execute(f"CREATE TABLE kept AS {sql}", params)
        return int(self.con.execute("SELECT count(*) FROM kept").fetchall()[0][0])

    # -- what was kept ----------------------------------------------------------------------------------
    def kept_rows(self) -> pa.Table:
        """(sample_id, label, cluster) of every kept row, by sample id: the version's ``ids.parquet``."""
        return self.con.sql(
            """SELECT k.sample_id, m.label, p.cluster
               FROM kept k JOIN pool p USING (sample_id) JOIN ok_rows m USING (sample_id)
               ORDER BY k.sample_id"""
        ).to_arrow_table()

    def counts(self, clustered: bool) -> dict[str, dict[str, int]]:
        """Rows per class (and per cluster) in the pool and among the kept: the version's stats."""

        def counts(sql: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in self.con.execute(sql).fetchall()}

        by_label = (
            "SELECT m.label, count(*) FROM {t} x JOIN ok_rows m USING (sample_id) GROUP BY 1 ORDER BY 1"
        )
        out = {
            "class_counts_before": counts(by_label.format(t="pool")),
            "class_counts_after": counts(by_label.format(t="kept")),
        }
        if clustered:
            by_cluster = (
                "SELECT cluster, count(*) FROM pool WHERE sample_id IN (SELECT sample_id FROM {t}) "
                "GROUP BY 1 ORDER BY 1"
            )
            out["cluster_counts_before"] = counts(by_cluster.format(t="pool"))
            out["cluster_counts_after"] = counts(by_cluster.format(t="kept"))
        return out
