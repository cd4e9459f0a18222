"""`thresher query SQL`: read-only DuckDB SQL over the workspace (docs/architecture.md, 'Query').

Views: ``sources``, ``samples``, ``runs``, ``subsets``, ``evaluations`` (catalog tables), ``embeddings_meta``
(the embeddings table), ``scores`` (every committed score Parquet, with a ``run_id`` column),
``subset_members`` (which samples each subset version keeps), ``clusters`` (size, mean distance, majority
label and purity per clustering run and cluster), ``cluster_levels`` (each sample's cluster at every level
of a clustering: hkmeans's hierarchy, a flat clustering as its one level) and ``score_runs`` (each
finished run's parameters).

Read-only by construction, in three layers: the catalog is opened read-only; every statement must be one
DuckDB itself parses as SELECT (or an EXPLAIN whose explained statement is a SELECT: ``EXPLAIN ANALYZE``
executes what it explains; or a PIVOT, which DuckDB runs as several SELECTs); and the connection then gets
external access switched off except for a list of files (``catalog/query_access.py``), with its
configuration locked, so not even a statement that slipped past the parser could reach another file or
turn the setting back.

A query never blocks a writer: it runs on a snapshot of the catalog (``catalog/snapshot.py``, the copy taken
while the catalog is held read-only for as long as a file copy takes), on a connection of its own. It is
stopped after ``--timeout`` seconds and may use ``--memory-limit`` of memory (set before the lock-down).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from thresher.catalog.config import QueryConfig
from thresher.catalog.query_access import lock_down, named_files
from thresher.catalog.query_views import create_subset_views, create_views
from thresher.catalog.snapshot import CatalogSnapshots, SnapshotWorkspace
from thresher.catalog.workspace import Workspace
from thresher.errors import ConfigError, ThresherError

# An allow-list of what DuckDB itself parses a statement as. PRAGMA is not on it: DuckDB classes
# IMPORT DATABASE as one, and that runs the folder's SQL (which can write). EXPLAIN is allowed only around
# a SELECT, since EXPLAIN ANALYZE runs the statement it explains (a COPY … TO wrote files that way).
_READ_STATEMENTS = {"SELECT"}
_EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s*(\([^)]*\))?\s*(ANALY[SZ]E\b)?", re.IGNORECASE)
# DuckDB parses PIVOT/UNPIVOT as MULTI (a SELECT of the pivot values, then the pivot itself).
_PIVOT = re.compile(r"^\s*(UN)?PIVOT\b", re.IGNORECASE)
SERVICE_MAX_ROWS = 10_000  # rows a query over HTTP returns at most (the response says when it cut)
SERVICE_TIMEOUT = 30.0


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    # How the command line shows it (``thresher query --format``); the data above is the result.
    fmt: str = "table"
    max_rows: int | None = 200
    truncated: bool = False  # more rows existed than were fetched (the service's row limit)

    def lines(self) -> list[str]:
        return [self.render(self.fmt, self.max_rows)]

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


def query(ws: Workspace, config: QueryConfig) -> QueryResult:
    """`thresher query`: the config's SQL on a snapshot of the catalog, shown in its format."""
    with tempfile.TemporaryDirectory(prefix=".query-", dir=ws.root if ws.exists else None) as folder:
        snapshots = CatalogSnapshots(ws, Path(folder))
        try:
            result = run_query(
                SnapshotWorkspace(ws.root, snapshots),
                config.sql,
                timeout=config.timeout,
                memory_limit=config.memory_limit,
            )
        finally:
            snapshots.close()
    result.fmt, result.max_rows = config.fmt, config.max_rows
    return result


def run_service_query(ws: Workspace, body: Any) -> QueryResult:
    """The service's SQL console: ``{"sql": …, "max_rows": n}``; the catalog's views only (no file is named
    over HTTP), at most :data:`SERVICE_MAX_ROWS` rows and :data:`SERVICE_TIMEOUT` seconds."""
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
        raise ConfigError('expected {"sql": "SELECT …"}', field="sql")
    unknown = sorted(set(body) - {"sql", "max_rows"})
    if unknown:
        raise ConfigError(f"unknown field {unknown[0]!r}", field=unknown[0])
    max_rows = body.get("max_rows", 1000)
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or not 1 <= max_rows <= SERVICE_MAX_ROWS:
        raise ConfigError(f"max_rows must be an integer in 1..{SERVICE_MAX_ROWS}", field="max_rows")
    return run_query(ws, body["sql"], timeout=SERVICE_TIMEOUT, named_paths=False, max_rows=max_rows)


def run_query(
    ws: Workspace,
    sql: str,
    *,
    timeout: float = 0.0,
    memory_limit: str | None = None,
    named_paths: bool = True,
    max_rows: int | None = None,
) -> QueryResult:
    """Run read-only SQL; besides the catalog tables it sees the views ``scores``, ``subset_members``,
    ``clusters``, ``cluster_levels``, ``score_runs`` and ``embeddings_meta``. ``named_paths=False`` refuses every file the
    query names (over HTTP only the views are readable); ``timeout`` 0 means none."""
    check_read_only(sql)
    named = named_files(sql, ws)
    if named and not named_paths:
        raise ThresherError("the service's SQL console reads the catalog's views only, never a file")
    with ws.connect_isolated() as con:
        files = create_views(con, ws) | create_subset_views(con, ws)
        if memory_limit:
            try:
                con.execute("SET memory_limit = ?", [memory_limit])
            except duckdb.Error as exc:
                raise ThresherError(f"--memory-limit {memory_limit!r}: {str(exc).splitlines()[0]}") from None
        lock_down(con, files | named)
        timer = threading.Timer(timeout, con.interrupt) if timeout > 0 else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            cur = con.execute(sql)
            if cur.description is None:
                return QueryResult([], [])
            rows = cur.fetchall() if max_rows is None else cur.fetchmany(max_rows + 1)
        except duckdb.InterruptException:
            raise ThresherError(f"query stopped after {timeout:g} s (--timeout)") from None
        except duckdb.OutOfMemoryException:
            raise ThresherError(
                f"query ran out of its memory limit ({memory_limit}; --memory-limit)"
            ) from None
        except duckdb.Error as exc:
            raise ThresherError(f"query failed: {str(exc).splitlines()[0]}") from None
        finally:
            if timer is not None:
                timer.cancel()
        truncated = max_rows is not None and len(rows) > max_rows
        return QueryResult(
            [d[0] for d in cur.description], rows[:max_rows] if truncated else rows, truncated=truncated
        )


def check_read_only(sql: str) -> None:
    """Refuse (one line) any statement that is not a SELECT, an EXPLAIN of a SELECT, or a PIVOT."""
    for statement in _parse(sql):
        kind = _kind(statement)
        if kind == "EXPLAIN":
            inner = _EXPLAIN_PREFIX.sub("", statement.query, count=1)
            kinds = [_kind(s) for s in _parse(inner)] if inner.strip() else []
            if kinds != ["SELECT"]:
                raise ThresherError(
                    f"thresher query is read-only: EXPLAIN of {'/'.join(kinds) or 'nothing'} is not allowed"
                )
        elif kind == "MULTI" and _PIVOT.match(statement.query):
            continue
        elif kind not in _READ_STATEMENTS:
            raise ThresherError(f"thresher query is read-only: {kind} statements are not allowed")


def _parse(sql: str) -> list[Any]:
    if not sql.strip():
        raise ThresherError("empty query")
    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ThresherError(f"cannot parse query: {str(exc).splitlines()[0]}") from None


def _kind(statement: Any) -> str:
    try:
        return statement.type.name
    except ValueError:  # a statement type this duckdb's Python enum does not know (UPDATE EXTENSIONS)
        return "UNKNOWN"


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
