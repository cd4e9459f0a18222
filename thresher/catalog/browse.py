"""What the curator's pages list and page through: sources, a source's samples filtered by label, status,
cluster and score range, runs and their evaluations (docs/architecture.md, 'The service').

Read-only SQL over the catalog and the committed score Parquet. The service calls these with its snapshot
workspace (``catalog/snapshot.py``), so a page never waits on a job that writes. Every name a request
gives is looked up in the catalog first: an unknown one is :class:`~thresher.errors.NotFound` (404), and
files are only ever found from catalog rows, never from the request's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.catalog.names import check_name
from thresher.catalog.runs import shown_status
from thresher.catalog.scores import score_files
from thresher.catalog.tables import rows_as_dicts
from thresher.catalog.workspace import Workspace
from thresher.errors import ConfigError, NotFound, ThresherError

# Runs that hold a training, not a score table; every other finished run's output is ``scores/<run>/``.
MODEL_RUN_KINDS = ("train", "pretrain", "reweight")
MAX_PAGE = 500  # rows of one page: a request never asks for unbounded work


@dataclass(frozen=True)
class SampleFilter:
    """Which samples of a source a grid shows. ``cluster`` needs ``clustering``; ``min_score`` and
    ``max_score`` (inclusive) need ``score_run``."""

    label: int | None = None
    status: str | None = None
    clustering: str | None = None
    cluster: int | None = None
    score_run: str | None = None
    min_score: float | None = None
    max_score: float | None = None

    def __post_init__(self) -> None:
        if self.cluster is not None and self.clustering is None:
            raise ConfigError(
                "cluster needs clustering: the run whose clusters to filter by", field="cluster"
            )
        if (self.min_score is not None or self.max_score is not None) and self.score_run is None:
            raise ConfigError(
                "min and max need score_run: the run whose scores to filter by", field="score_run"
            )
        if self.min_score is not None and self.max_score is not None and self.min_score > self.max_score:
            raise ConfigError(f"min {self.min_score} is above max {self.max_score}", field="min")


@dataclass
class SamplePage:
    source: str
    total: int  # samples that pass the filter
    offset: int
    limit: int
    rows: list[dict[str, Any]] = field(default_factory=list)


def check_page(offset: int, limit: int) -> None:
    if offset < 0:
        raise ConfigError(f"offset must be at least 0, got {offset}", field="offset")
    if not 1 <= limit <= MAX_PAGE:
        raise ConfigError(f"limit must lie in 1..{MAX_PAGE}, got {limit}", field="limit")


def list_sources(ws: Workspace, source: str | None = None) -> list[dict[str, Any]]:
    """Every source (or only ``source``) with its row counts and class names."""
    if not ws.exists:
        return []
    where, params = ("WHERE id = ?", [source]) if source is not None else ("", [])
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(
            con.execute(
                "SELECT id, uri, kind, split, revision, n_rows, n_ok, label_column, label_names, license, "
                f"created FROM sources {where} ORDER BY created",
                params,
            )
        )
    for row in rows:
        row["label_names"] = json.loads(row["label_names"]) if row["label_names"] else None
    return rows


def source_summary(ws: Workspace, source: str) -> dict[str, Any]:
    """A source's row, its counts per label and per status, and the clusterings and score runs over it."""
    row = require_source(ws, source)
    with ws.connect(read_only=True) as con:
        labels = con.execute(
            "SELECT label, count(*) FROM samples WHERE source = ? GROUP BY label ORDER BY label NULLS LAST",
            [source],
        ).fetchall()
        statuses = con.execute(
            "SELECT status, count(*) FROM samples WHERE source = ? GROUP BY status ORDER BY status", [source]
        ).fetchall()
        runs = con.execute(
            "SELECT id, kind FROM runs WHERE source = ? AND status = 'done' AND kind NOT IN "
            f"({', '.join('?' for _ in MODEL_RUN_KINDS)}) ORDER BY finished",
            [source, *MODEL_RUN_KINDS],
        ).fetchall()
    names = row["label_names"] or []
    return {
        **row,
        "labels": [{"label": label, "name": _name_of(label, names), "n": n} for label, n in labels],
        "statuses": [{"status": status, "n": n} for status, n in statuses],
        "clusterings": [run_id for run_id, kind in runs if kind == "cluster"],
        "score_runs": [run_id for run_id, _ in runs],
    }


def require_source(ws: Workspace, source: str) -> dict[str, Any]:
    """The catalog row of ``source`` (label names decoded); NotFound when the workspace has no such source."""
    found = list_sources(ws, source)
    if not found:
        known = ", ".join(r["id"] for r in list_sources(ws)) or "none (ingest one first)"
        raise NotFound(f"unknown source {source!r}; known: {known}")
    return found[0]


def require_score_run(ws: Workspace, run_id: str, source: str | None = None, kind: str | None = None) -> dict:
    """The catalog row of a finished score run (of ``kind``, over ``source`` when given); NotFound else."""
    check_name(run_id, "run id")
    if ws.exists:
        with ws.connect(read_only=True) as con:
            rows = rows_as_dicts(
                con.execute(
                    "SELECT id, kind, source, config, finished FROM runs WHERE id = ? AND status = 'done' "
                    f"AND kind NOT IN ({', '.join('?' for _ in MODEL_RUN_KINDS)})",
                    [run_id, *MODEL_RUN_KINDS],
                )
            )
    else:
        rows = []
    if not rows or (kind is not None and rows[0]["kind"] != kind):
        what = "clustering" if kind == "cluster" else "score run"
        raise NotFound(f"unknown {what} {run_id!r}")
    row = rows[0]
    if source is not None and row["source"] != source:
        raise NotFound(f"{run_id!r} is a run over {row['source']!r}, not {source!r}")
    row["config"] = json.loads(row["config"]) if row["config"] else {}
    return row


def run_score_files(ws: Workspace, run_id: str) -> list[str]:
    """The Parquet files of a finished score run, as paths for DuckDB (NotFound when they are gone)."""
    try:
        return [str(p) for p in score_files(ws, run_id)]
    except ThresherError:
        raise NotFound(f"score run {run_id!r} has no score files left") from None


def sample_page(ws: Workspace, source: str, where: SampleFilter, offset: int, limit: int) -> SamplePage:
    """One page of ``source``'s samples that pass ``where``, by sample id; each row with its cluster and
    score when the filter names a clustering or a score run."""
    check_page(offset, limit)
    require_source(ws, source)
    columns = ["s.sample_id", "s.label", "s.status", "s.width", "s.height", "s.error"]
    joins: list[str] = []
    conditions = ["s.source = ?"]
    params: list[Any] = []
    join_params: list[Any] = []
    if where.clustering is not None:
        require_score_run(ws, where.clustering, source, kind="cluster")
        joins.append("LEFT JOIN (SELECT sample_id, cluster FROM read_parquet(?)) c USING (sample_id)")
        join_params.append(run_score_files(ws, where.clustering))
        columns.append("c.cluster")
    if where.score_run is not None:
        require_score_run(ws, where.score_run, source)
        joins.append("LEFT JOIN (SELECT sample_id, score FROM read_parquet(?)) r USING (sample_id)")
        join_params.append(run_score_files(ws, where.score_run))
        columns.append("r.score")
    for condition, value in (
        ("s.label = ?", where.label),
        ("s.status = ?", where.status),
        ("c.cluster = ?", where.cluster),
        ("r.score >= ?", where.min_score),
        ("r.score <= ?", where.max_score),
    ):
        if value is not None:
            conditions.append(condition)
            params.append(value)
    body = f"FROM samples s {' '.join(joins)} WHERE {' AND '.join(conditions)}"
    with ws.connect(read_only=True) as con:
        total = con.execute(f"SELECT count(*) {body}", [*join_params, source, *params]).fetchone()[0]
        rows = rows_as_dicts(
            con.execute(
                f"SELECT {', '.join(columns)} {body} ORDER BY s.sample_id LIMIT ? OFFSET ?",
                [*join_params, source, *params, limit, offset],
            )
        )
    return SamplePage(source, int(total), offset, limit, rows)


def sample_status(ws: Workspace, source: str, sample_id: int) -> tuple[str, str | None] | None:
    """(status, error) of one sample, None when the source has no such row."""
    with ws.connect(read_only=True) as con:
        row = con.execute(
            "SELECT status, error FROM samples WHERE source = ? AND sample_id = ?", [source, sample_id]
        ).fetchone()
    return None if row is None else (row[0], row[1])


def list_runs(ws: Workspace, kinds: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Runs (of ``kinds``), newest first, with the status people should read (interrupted when dead)."""
    if not ws.exists:
        return []
    where = f"WHERE kind IN ({', '.join('?' for _ in kinds)})" if kinds else ""
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(
            con.execute(
                "SELECT id, kind, source, status, dataset, started, finished, pid, host FROM runs "
                f"{where} ORDER BY started DESC NULLS LAST, id",
                list(kinds or ()),
            )
        )
    for row in rows:
        row["status"] = shown_status(row["status"], row.pop("pid"), row.pop("host"))
    return rows


def require_run(ws: Workspace, run_id: str) -> dict[str, Any]:
    """A run's catalog row (config decoded, status as shown, output as a path); NotFound for an unknown id."""
    check_name(run_id, "run id")
    rows: list[dict[str, Any]] = []
    if ws.exists:
        with ws.connect(read_only=True) as con:
            rows = rows_as_dicts(con.execute("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not rows:
        raise NotFound(f"unknown run {run_id!r}")
    row = rows[0]
    row["config"] = json.loads(row["config"]) if row["config"] else {}
    row["status"] = shown_status(row["status"], row.pop("pid"), row.pop("host"))
    row["output"] = None if row["output"] is None else ws.from_stored(row["output"])
    return row


def run_folder(ws: Workspace, run: dict[str, Any]) -> Path | None:
    """The folder of a model run: its recorded output when that lies in the workspace's ``runs/``."""
    output = run.get("output")
    if output is None:
        return None
    folder = Path(output).resolve()
    runs = (ws.root / "runs").resolve()
    return folder if folder.parent == runs and folder.is_dir() else None


def run_evaluations(ws: Workspace, run_id: str) -> list[dict[str, Any]]:
    """The evaluations of a run, oldest first, metrics decoded."""
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(
            con.execute(
                "SELECT id, dataset, extractor, n, metrics, created, seconds FROM evaluations "
                "WHERE run = ? ORDER BY created",
                [run_id],
            )
        )
    for row in rows:
        row["metrics"] = json.loads(row["metrics"]) if row["metrics"] else {}
    return rows


def _name_of(label: int | None, names: list[str]) -> str | None:
    return str(names[label]) if label is not None and 0 <= label < len(names) else None
