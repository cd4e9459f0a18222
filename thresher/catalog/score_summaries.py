"""Score runs summarized for people: a clustering's clusters (size, mean distance to the centroid, majority
label, purity, the samples nearest the centroid) and a score run's histogram.

The per-cluster figures are those of ``thresher query``'s ``clusters`` view (``catalog/query.py``): size,
mean distance, the majority label and its share (purity) among the labelled members. Computed here for
one run from its committed Parquet, so a page of a large workspace reads one run, not every run.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from thresher.catalog.browse import (
    MODEL_RUN_KINDS,
    check_page,
    require_score_run,
    require_source,
    run_score_files,
)
from thresher.catalog.tables import rows_as_dicts
from thresher.catalog.workspace import Workspace
from thresher.errors import ConfigError

MAX_STRIP = 32  # samples per cluster strip
HISTOGRAM_BINS = (10, 20, 40, 80, 160)  # a fixed set: no request asks for arbitrary work


def clustering_summary(
    ws: Workspace, run_id: str, *, strip: int = 8, offset: int = 0, limit: int = 50
) -> dict[str, Any]:
    """The run's clusters, largest first, with ``strip`` sample ids nearest each centroid for a page of
    them (``offset``, ``limit``); ``total`` counts the clusters."""
    check_page(offset, limit)
    if not 0 <= strip <= MAX_STRIP:
        raise ConfigError(f"strip must lie in 0..{MAX_STRIP}, got {strip}", field="strip")
    run = require_score_run(ws, run_id, kind="cluster")
    source = require_source(ws, run["source"])
    names = source["label_names"] or []
    files = run_score_files(ws, run_id)
    with ws.connect(read_only=True) as con:
        clusters = con.execute(
            """WITH assigned AS (
                SELECT p.cluster, p.sample_id, p.distance, m.label FROM read_parquet(?) p
                LEFT JOIN samples m ON m.source = ? AND m.sample_id = p.sample_id
                WHERE p.cluster IS NOT NULL),
            per_label AS (
                SELECT cluster, label, count(*) AS n FROM assigned WHERE label IS NOT NULL GROUP BY ALL),
            majority AS (
                SELECT cluster, arg_max(label, n) AS majority_label, max(n) AS majority_n
                FROM per_label GROUP BY ALL)
            SELECT a.cluster, count(*) AS size, avg(a.distance) AS mean_distance,
                   any_value(m.majority_label) AS majority_label,
                   any_value(m.majority_n) / count(*) AS purity
            FROM assigned a LEFT JOIN majority m USING (cluster)
            GROUP BY a.cluster ORDER BY size DESC, a.cluster""",
            [files, run["source"]],
        ).fetchall()
        page = clusters[offset : offset + limit]
        strips: dict[int, list[int]] = {int(c[0]): [] for c in page}
        if strip and page:
            for cluster, sample_id in con.execute(
                """SELECT cluster, sample_id FROM (
                    SELECT cluster, sample_id, row_number() OVER (
                        PARTITION BY cluster ORDER BY distance NULLS LAST, sample_id) AS position
                    FROM read_parquet(?) WHERE cluster IN (SELECT unnest(?::INTEGER[])))
                WHERE position <= ? ORDER BY cluster, position""",
                [files, list(strips), strip],
            ).fetchall():
                strips[int(cluster)].append(int(sample_id))
    sizes = [int(c[1]) for c in clusters]
    labelled = [(int(c[1]), c[4]) for c in clusters if c[4] is not None]
    return {
        "id": run_id,
        "source": run["source"],
        "k": run["config"].get("k"),
        "embedder": run["config"].get("embedder"),
        "finished": run["finished"],
        "total": len(clusters),
        "n": sum(sizes),
        "mean_purity": (
            sum(size * purity for size, purity in labelled) / sum(size for size, _ in labelled)
            if labelled
            else None
        ),
        "offset": offset,
        "clusters": [
            {
                "cluster": int(cluster),
                "size": int(size),
                "mean_distance": None if mean_distance is None else float(mean_distance),
                "majority_label": None if majority is None else int(majority),
                "majority_name": (
                    str(names[majority]) if majority is not None and 0 <= majority < len(names) else None
                ),
                "purity": None if purity is None else float(purity),
                "strip": strips[int(cluster)],
            }
            for cluster, size, mean_distance, majority, purity in page
        ],
    }


def score_histogram(ws: Workspace, run_id: str, bins: int = 40) -> dict[str, Any]:
    """The run's scores as a histogram of ``bins`` equal bins over [min, max] (numpy's edges), with the
    count of samples that have no finite score."""
    if bins not in HISTOGRAM_BINS:
        raise ConfigError(
            f"bins must be one of {', '.join(map(str, HISTOGRAM_BINS))}, got {bins}", field="bins"
        )
    run = require_score_run(ws, run_id)
    files = run_score_files(ws, run_id)
    with ws.connect(read_only=True) as con:
        table = con.execute(
            "SELECT score, any_value(method) OVER () AS method FROM read_parquet(?)", [files]
        ).fetchnumpy()
    scores = np.asarray(table["score"], dtype=np.float64)
    finite = scores[np.isfinite(scores)]
    methods = table["method"]
    out: dict[str, Any] = {
        "id": run_id,
        "kind": run["kind"],
        "source": run["source"],
        "method": str(methods[0]) if len(methods) else run["config"].get("method"),
        "config": run["config"],
        "finished": run["finished"],
        "n": len(scores),
        "n_missing": int(len(scores) - len(finite)),
        "min": None,
        "max": None,
        "mean": None,
        "edges": [],
        "counts": [],
    }
    if len(finite):
        counts, edges = np.histogram(finite, bins=bins)
        out.update(
            min=float(finite.min()),
            max=float(finite.max()),
            mean=float(finite.mean()),
            edges=edges.tolist(),
            counts=counts.tolist(),
        )
    return out


def list_score_runs(ws: Workspace, kind: str | None = None) -> list[dict[str, Any]]:
    """Finished score runs (clusterings are those of kind ``cluster``), newest first, config decoded."""
    if not ws.exists:
        return []
    kinds = ", ".join("?" for _ in MODEL_RUN_KINDS)
    only = "AND kind = ?" if kind is not None else ""
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(
            con.execute(
                f"SELECT id, kind, source, config, finished FROM runs WHERE status = 'done' "
                f"AND kind NOT IN ({kinds}) {only} ORDER BY finished DESC, id",
                [*MODEL_RUN_KINDS, *([kind] if kind is not None else [])],
            )
        )
    for row in rows:
        config = json.loads(row.pop("config") or "{}")
        row["method"] = config.get("method", row["kind"])
        row["k"] = config.get("k")
        row["embedder"] = config.get("embedder")
    return rows
