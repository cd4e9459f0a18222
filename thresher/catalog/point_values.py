"""Values per sample, aligned to a list of sample ids: what the embedding map colours its points by.

Each function takes the ascending sample ids of a layout and returns one value per id, read from the
catalog and the files its rows name: a score run's column (float64, NaN where the run has no finite value
for the sample), and whether a subset version keeps the sample. Labels come from
:func:`thresher.catalog.samples.labels_of` (−1 where a row has none).
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from thresher.catalog.browse import run_score_files
from thresher.catalog.subset_versions import kept_ids
from thresher.catalog.workspace import Workspace

RUN_COLUMNS = ("score", "cluster", "distance")


def run_values_at(ws: Workspace, run_id: str, column: str, sample_ids: np.ndarray) -> np.ndarray:
    """Column ``column`` of the finished score run ``run_id`` at each of ``sample_ids`` (ascending)."""
    if column not in RUN_COLUMNS:
        raise ValueError(f"unknown score column {column!r}")
    files = [str(path) for path in run_score_files(ws, run_id)]
    with duckdb.connect() as con:  # not pyarrow: see catalog/layouts.py read_layout
        found = con.execute(
            f"SELECT sample_id, CAST({column} AS DOUBLE) AS value FROM read_parquet(?) ORDER BY sample_id",
            [files],
        ).fetchnumpy()
    ids = found["sample_id"].astype(np.int64, copy=False)
    return _aligned(ids, np.ma.filled(found["value"], np.nan), sample_ids)


def kept_at(version: dict[str, Any], sample_ids: np.ndarray) -> np.ndarray:
    """Whether the subset version (a row of ``require_version``) keeps each of ``sample_ids``."""
    kept = np.sort(kept_ids(version))
    if len(kept) == 0:
        return np.zeros(len(sample_ids), dtype=bool)
    pos = np.minimum(np.searchsorted(kept, sample_ids), len(kept) - 1)
    return kept[pos] == sample_ids


def _aligned(ids: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    out = np.full(len(wanted), np.nan)
    if len(ids) == 0:
        return out
    pos = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
    found = ids[pos] == wanted
    out[found] = values[pos[found]]
    out[~np.isfinite(out)] = np.nan
    return out
