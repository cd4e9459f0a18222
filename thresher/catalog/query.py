"""`thresher query SQL`: read-only DuckDB SQL over the workspace.

Views: ``sources``, ``samples``, ``runs``, ``subsets``, ``evaluations`` (catalog tables), ``embeddings_meta``
(the embeddings table), ``scores`` (every committed score Parquet, with a ``run_id`` column),
``subset_members`` (which samples each subset version keeps), ``clusters`` (size, mean distance, majority
label and purity per clustering run and cluster) and ``score_runs`` (each finished run's parameters).

Read-only by construction, in three layers: the catalog is opened read-only; every statement must be one
DuckDB itself parses as SELECT (or an EXPLAIN whose explained statement is a SELECT: ``EXPLAIN ANALYZE``
executes what it explains); and the connection then gets external access switched off except for a list
of files, with its configuration locked, so not even a statement that slipped past the parser could reach
another file or turn the setting back. The list holds files, never folders: the views' own files, resolved
inside the resolved workspace, and the files the query's string literals name (a glob: the files it
matches now). A named path that lies in the workspace but resolves outside it (a symlink) is refused.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb

from thresher.catalog.config import QueryConfig
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

# An allow-list of what DuckDB itself parses a statement as. PRAGMA is not on it: DuckDB classes
# IMPORT DATABASE as one, and that runs the folder's SQL (which can write). EXPLAIN is allowed only around
# a SELECT, since EXPLAIN ANALYZE runs the statement it explains (a COPY … TO wrote files that way).
_READ_STATEMENTS = {"SELECT"}
_EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s*(\([^)]*\))?\s*(ANALY[SZ]E\b)?", re.IGNORECASE)
_GLOB_CHARACTERS = re.compile(r"[*?\[]")


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    # How the command line shows it (``thresher query --format``); the data above is the result.
    fmt: str = "table"
    max_rows: int | None = 200

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
    """`thresher query`: :func:`run_query` of the config's SQL, shown in its format."""
    result = run_query(ws, config.sql)
    result.fmt, result.max_rows = config.fmt, config.max_rows
    return result


def run_query(ws: Workspace, sql: str) -> QueryResult:
    """Run read-only SQL; besides the catalog tables it sees the views ``scores``, ``subset_members``,
    ``clusters``, ``score_runs`` and ``embeddings_meta``."""
    check_read_only(sql)
    named = named_files(sql, ws)
    with ws.connect(read_only=True) as con:
        view_files = _create_views(con, ws) | _create_subset_views(con, ws)
        _lock_down(con, view_files | named)
        try:
            cur = con.execute(sql)
        except duckdb.Error as exc:
            raise ThresherError(f"query failed: {str(exc).splitlines()[0]}") from None
        if cur.description is None:
            return QueryResult([], [])
        return QueryResult([d[0] for d in cur.description], cur.fetchall())


def check_read_only(sql: str) -> None:
    """Refuse (one line) any statement that is not a SELECT or an EXPLAIN of a SELECT."""
    for statement in _parse(sql):
        kind = _kind(statement)
        if kind == "EXPLAIN":
            inner = _EXPLAIN_PREFIX.sub("", statement.query, count=1)
            kinds = [_kind(s) for s in _parse(inner)] if inner.strip() else []
            if kinds != ["SELECT"]:
                raise ThresherError(
                    f"thresher query is read-only: EXPLAIN of {'/'.join(kinds) or 'nothing'} is not allowed"
                )
        elif kind not in _READ_STATEMENTS:
            raise ThresherError(f"thresher query is read-only: {kind} statements are not allowed")


def _lock_down(con: duckdb.DuckDBPyConnection, allowed_files: set[str]) -> None:
    """No file access beyond ``allowed_files`` (files, never folders: DuckDB checks a folder entry as a
    path prefix); no extension loading; and the configuration locked so a statement cannot undo it."""
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET allowed_directories = []")
    con.execute("SET allowed_paths = ?", [sorted(allowed_files)])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def named_files(sql: str, ws: Workspace) -> set[str]:
    """The files the query's string literals name (comments are not literals): what the user asked to read
    explicitly. A glob gives the files DuckDB's own ``glob`` matches now, plus the pattern itself, which
    DuckDB must be allowed to expand. Each file is allowed by its resolved path and, when that is the same
    file, by the path as DuckDB checks it (absolute, ``..`` removed as text). A path that lies in the
    workspace (or passes through a folder that resolves into it) but resolves outside it is refused: a link
    planted in the workspace must not reach the rest of the machine."""
    out: set[str] = set()
    with duckdb.connect() as helper:
        for text in _string_literals(sql):
            # Absolute with its ``..`` kept, so they are followed as the OS follows them (after links).
            as_written = os.path.join(os.getcwd(), os.path.expanduser(text))
            if _GLOB_CHARACTERS.search(text):
                if "/" not in text and not os.path.splitext(text)[1]:
                    continue  # '*' or 'a?' is a value, not a file pattern
                try:
                    paths = [row[0] for row in helper.execute("SELECT file FROM glob(?)", [text]).fetchall()]
                except duckdb.Error:
                    continue
                if paths:
                    out.add(os.path.abspath(as_written))
            else:
                paths = [as_written]
            for path in paths:
                try:
                    resolved = os.path.realpath(path)
                    if not os.path.exists(resolved):
                        continue
                except (OSError, ValueError):  # a literal too long or odd to be a path is not one
                    continue
                if _passes_through(path, ws.root) and not _inside(resolved, ws.root):
                    raise ThresherError(
                        f"query names {text!r}, a path in the workspace that resolves outside the "
                        f"workspace ({resolved}): refused"
                    )
                if os.path.isfile(resolved):
                    out.add(resolved)
                    checked = os.path.abspath(path)
                    if os.path.realpath(checked) == resolved:
                        out.add(checked)
    return out


def _string_literals(sql: str) -> list[str]:
    """The values of the query's string constants, as DuckDB's own tokenizer finds them (so a quote inside
    a comment is not one) and reads them (``'it''s'``, ``E'…'``, ``$$…$$``), on a connection that can
    reach no file."""
    data = sql.encode()
    tokens = duckdb.tokenize(sql)  # byte offsets
    bounds = [offset for offset, _ in tokens[1:]] + [len(data)]
    texts = []
    with duckdb.connect() as con:
        con.execute("SET enable_external_access = false")
        for (offset, kind), end in zip(tokens, bounds, strict=True):
            if kind == duckdb.token_type.string_const:
                token = data[offset:end].decode().strip()
                try:
                    value = con.execute(f"SELECT {token}").fetchone()
                except duckdb.Error:
                    continue
                if value is not None and isinstance(value[0], str):
                    texts.append(value[0])
    return texts


def _passes_through(path: str, root: Path) -> bool:
    """Whether ``path`` or one of its folders is (or links to) the workspace or a place inside it."""
    return any(_inside(os.path.realpath(p), root) for p in (path, *map(str, PurePosixPath(path).parents)))


def _inside(resolved: str, root: Path) -> bool:
    return resolved == str(root) or resolved.startswith(str(root).rstrip("/") + "/")


def _view_files(files: list[Path], ws: Workspace) -> set[str]:
    """The workspace files a view reads, as it names them and resolved; each must resolve inside the
    (resolved) workspace, or a link planted there would open another file."""
    allowed = set()
    for f in files:
        real = os.path.realpath(f)
        if not _inside(real, ws.root):
            raise ThresherError(f"workspace file {f} resolves outside the workspace ({real}): refused")
        allowed |= {str(f), real}
    return allowed


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


def _create_views(con: duckdb.DuckDBPyConnection, ws: Workspace) -> set[str]:
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
    return _view_files(files, ws)


def _create_subset_views(con: duckdb.DuckDBPyConnection, ws: Workspace) -> set[str]:
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
    return _view_files(files, ws)


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
