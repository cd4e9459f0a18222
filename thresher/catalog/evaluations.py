"""The ``evaluations`` table: one row per `thresher evaluate`, its metrics as JSON."""

from __future__ import annotations

import json
from typing import Any

from thresher.catalog.names import utcnow
from thresher.catalog.tables import insert_row
from thresher.catalog.workspace import Workspace


def record_evaluation(
    ws: Workspace,
    eval_id: str,
    *,
    run: str | None,
    dataset: str | None,
    extractor: str,
    n: int,
    metrics: dict[str, Any],
    seconds: float,
) -> None:
    """Add an evaluation (by column name: a migration that adds a column never shifts these values)."""
    with ws.connect() as con:
        insert_row(
            con,
            "evaluations",
            {
                "id": eval_id,
                "run": run,
                "dataset": dataset,
                "extractor": extractor,
                "n": n,
                "metrics": json.dumps(metrics, default=str),
                "created": utcnow(),
                "seconds": seconds,
            },
        )
