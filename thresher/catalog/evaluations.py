"""The ``evaluations`` table: one row per `thresher evaluate`, its metrics as JSON."""

from __future__ import annotations

import json
from typing import Any

from thresher.catalog.names import utcnow
from thresher.catalog.tables import insert_row, rows_as_dicts
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


def evaluations_with_context(ws: Workspace) -> tuple[list[dict[str, Any]], dict[str, dict], dict[str, list]]:
    """For `thresher report`, in one read: every evaluation (oldest first) with its run's folder
    (``run_dir``), every subset version by ``name@vN``, and each labelled source's class names."""
    with ws.connect(read_only=True) as con:
        evaluations = rows_as_dicts(
            con.execute(
                "SELECT e.*, r.output AS run_dir FROM evaluations e LEFT JOIN runs r ON r.id = e.run "
                "ORDER BY e.created"
            )
        )
        subsets = {
            f"{s['name']}@v{s['version']}": s for s in rows_as_dicts(con.execute("SELECT * FROM subsets"))
        }
        names = {
            source: json.loads(value)
            for source, value in con.execute("SELECT id, label_names FROM sources").fetchall()
            if value
        }
    return evaluations, subsets, names
