"""Score runs: long-form Parquet under ``scores/<run-id>/`` plus a row in the catalog's ``runs`` table.

Schema (DESIGN.md §3): ``sample_id, method, score, cluster, distance, rank``; columns a method does not
produce are null. The files are plain Parquet, so any DuckDB (or `datasets`) can read them, here or
once published.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.errors import ThresherError
from thresher.workspace import Workspace, config_hash, utcnow

SCORE_SCHEMA = pa.schema(
    [
        ("sample_id", pa.int64()),
        ("method", pa.string()),
        ("score", pa.float64()),
        ("cluster", pa.int32()),
        ("distance", pa.float64()),
        ("rank", pa.int64()),
    ]
)


def score_table(
    sample_id: np.ndarray,
    method: str,
    score: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
    distance: np.ndarray | None = None,
    rank: np.ndarray | None = None,
) -> pa.Table:
    n = len(sample_id)

    def column(values: np.ndarray | None, dtype: pa.DataType) -> pa.Array:
        return pa.nulls(n, dtype) if values is None else pa.array(np.asarray(values), dtype)

    return pa.table(
        [
            column(sample_id, pa.int64()),
            pa.array([method] * n, pa.string()),
            column(score, pa.float64()),
            column(cluster, pa.int32()),
            column(distance, pa.float64()),
            column(rank, pa.int64()),
        ],
        schema=SCORE_SCHEMA,
    )


def score_files(ws: Workspace, run_id: str) -> list[Path]:
    files = sorted(ws.scores_dir(run_id).glob("part-*.parquet"))
    if not files:
        raise ThresherError(f"score run {run_id!r} has no score files")
    return files


def latest_run(ws: Workspace, source: str, kind: str) -> str | None:
    if not ws.exists:
        return None
    with ws.connect(read_only=True) as con:
        row = con.execute(
            "SELECT id FROM runs WHERE source = ? AND kind = ? AND status = 'done' ORDER BY finished DESC LIMIT 1",
            [source, kind],
        ).fetchone()
    return row[0] if row else None


def run_exists(ws: Workspace, run_id: str) -> bool:
    if not ws.exists:
        return False
    with ws.connect(read_only=True) as con:
        return (
            con.execute("SELECT count(*) FROM runs WHERE id = ? AND status = 'done'", [run_id]).fetchone()[0]
            > 0
        )


def run_config(ws: Workspace, run_id: str) -> dict[str, Any]:
    with ws.connect(read_only=True) as con:
        row = con.execute("SELECT config FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise ThresherError(f"unknown run {run_id!r}")
    return json.loads(row[0])


@contextmanager
def score_run(ws: Workspace, run_id: str, kind: str, source: str, config: dict[str, Any]) -> Iterator[Path]:
    """Write a score run atomically: files go to a staging folder that becomes visible only on success."""
    final = ws.scores_dir(run_id)
    staging = final.parent / f".{run_id}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    started = utcnow()
    try:
        yield staging
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        with ws.connect() as con:
            con.execute("DELETE FROM runs WHERE id = ?", [run_id])
            con.execute(
                "INSERT INTO runs (id, kind, source, config, config_hash, started, finished, status, output) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'done', ?)",
                [
                    run_id,
                    kind,
                    source,
                    json.dumps(config, default=str),
                    config_hash(config),
                    started,
                    utcnow(),
                    str(final),
                ],
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_part(folder: Path, table: pa.Table, part: int = 0) -> Path:
    path = folder / f"part-{part:05d}.parquet"
    pq.write_table(table, path)
    return path


def random_scores_run(ws: Workspace, source: str, seed: int) -> str:
    """A seeded uniform score per ok sample; the run id is derived from (source, seed) so reruns reuse it."""
    from thresher.curate.ingest import ok_sample_ids

    run_id = f"random-{source}-seed{seed}"
    if run_exists(ws, run_id):
        return run_id
    ids = ok_sample_ids(ws, source)
    scores = np.random.default_rng(seed).random(len(ids))
    with score_run(ws, run_id, "random", source, {"seed": seed, "source": source}) as folder:
        write_part(folder, score_table(ids, "random", score=scores))
    return run_id
