"""`thresher query SQL`: read-only DuckDB SQL over the workspace.

Views: ``sources``, ``samples``, ``runs``, ``subsets``, ``evaluations`` (catalog tables), ``embeddings_meta``
(the embeddings table), and ``scores`` (every score Parquet, with a ``run_id`` column). The catalog is
opened read-only and only read statements are accepted, so a query can never change the workspace.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

# An allow-list of what DuckDB itself parses a statement as. PRAGMA is not on it: DuckDB classes
# IMPORT DATABASE as one, and that runs the folder's SQL (which can write).
_READ_STATEMENTS = {"SELECT", "EXPLAIN"}


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def render(self, fmt: str = "table", max_rows: int | None = 200) -> str:
        if fmt == "json":
            return json.dumps(
                [dict(zip(self.columns, r, strict=True)) for r in self.rows], default=str, indent=1
            )
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(self.rows)
            return buf.getvalue().rstrip("\n")
        return _table(self.columns, self.rows, max_rows)


def run_query(ws: Workspace, sql: str) -> QueryResult:
    statements = _parse(sql)
    for statement in statements:
        kind = statement.type.name
        if kind not in _READ_STATEMENTS:
            raise ThresherError(f"thresher query is read-only: {kind} statements are not allowed")
    with ws.connect(read_only=True) as con:
        _create_views(con, ws)
        try:
            cur = con.execute(sql)
        except duckdb.Error as exc:
            raise ThresherError(f"query failed: {str(exc).splitlines()[0]}") from None
        if cur.description is None:
            return QueryResult([], [])
        return QueryResult([d[0] for d in cur.description], cur.fetchall())


def _parse(sql: str) -> list[Any]:
    if not sql.strip():
        raise ThresherError("empty query")
    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ThresherError(f"cannot parse query: {str(exc).splitlines()[0]}") from None


def _create_views(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
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


def _literal(text: str) -> str:
    """A SQL string literal (a view's definition cannot take parameters; quotes are doubled)."""
    return "'" + text.replace("'", "''") + "'"


def _table(columns: list[str], rows: list[tuple[Any, ...]], max_rows: int | None) -> str:
    shown = rows if max_rows is None else rows[:max_rows]
    cells = [[_cell(v) for v in r] for r in shown]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
        "-+-".join("-" * w for w in widths),
    ]
    lines += [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    if max_rows is not None and len(rows) > max_rows:
        lines.append(f"… {len(rows) - max_rows} more rows (use --format csv for all)")
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
