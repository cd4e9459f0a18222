"""The score store: long-form Parquet under ``scores/<run-id>/`` plus a row in the catalog's ``runs`` table.

Schema (docs/architecture.md, "Workspace"): ``sample_id, method, score, cluster, distance, rank``; columns a method does not
produce are null. The files are plain Parquet, so any DuckDB (or `datasets`) can read them, here or
once published.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.catalog.runs import record_finished_run
from thresher.catalog.staging import new_staging, remove_abandoned, seal
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError

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


MATCHES_FILE = "matches.parquet"  # beside a score run's parts; the scores view reads only part-*.parquet


def write_matches(folder: Path, sample_id: np.ndarray, match_id: np.ndarray, similarity: np.ndarray) -> Path:
    """Record, in score run ``folder``, which sample each row a method drops duplicates (dedup): columns
    ``sample_id``, ``match_id`` (a kept sample), ``similarity`` (their cosine)."""
    table = pa.table(
        {
            "sample_id": pa.array(np.asarray(sample_id, dtype=np.int64)),
            "match_id": pa.array(np.asarray(match_id, dtype=np.int64)),
            "similarity": pa.array(np.asarray(similarity, dtype=np.float64)),
        }
    )
    path = folder / MATCHES_FILE
    pq.write_table(table, path)
    return path


def score_matches(ws: Workspace, run_id: str) -> pa.Table | None:
    """The matches a score run recorded (:func:`write_matches`); None where it records none (every method
    but dedup, and dedup runs made before matches were recorded)."""
    path = ws.scores_dir(run_id) / MATCHES_FILE
    return pq.read_table(path) if path.is_file() else None


def cluster_levels_path(ws: Workspace, run_id: str) -> Path:
    """Where a hierarchical clustering (hkmeans) keeps every sample's cluster at every level, long form
    ``sample_id, level, cluster`` (level 1 the finest, the one its score Parquet holds); a flat clustering
    has none."""
    return ws.clustering_dir(run_id) / "levels.parquet"


def score_files(ws: Workspace, run_id: str) -> list[Path]:
    files = sorted(ws.scores_dir(run_id).glob("part-*.parquet"))
    if not files:
        raise ThresherError(f"score run {run_id!r} has no score files")
    return files


@contextmanager
def score_run(ws: Workspace, run_id: str, kind: str, source: str, config: dict[str, Any]) -> Iterator[Path]:
    """Write a score run atomically: files go to a staging folder that becomes visible only on success."""
    final = ws.scores_dir(run_id)
    remove_abandoned(final.parent, ".*.partial")  # leftovers of killed runs (views never read them)
    staging = new_staging(final.parent / f".{run_id}.partial")
    try:
        yield staging
        shutil.rmtree(final, ignore_errors=True)
        seal(staging).rename(final)
        record_finished_run(ws, run_id, kind, source, config, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_score_part(folder: Path, table: pa.Table, part: int = 0) -> Path:
    path = folder / f"part-{part:05d}.parquet"
    pq.write_table(table, path)
    return path
