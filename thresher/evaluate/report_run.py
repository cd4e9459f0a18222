"""`thresher report`: figures and a page from the catalog's ``evaluations`` table.

Each evaluation becomes a record for :func:`thresher.evaluate.report.write_report`: the method is the
subset's selection (e.g. ``cluster/equal/nearest``, or ``full`` for a plain source), the ratio is the
fraction of the source pruned, as ``select --ratio`` means it (0 for the full data), and the grid is the sample grid saved with the
evaluation. An ``--images`` evaluation (no training run) is labelled by its images path and has no
method or ratio: nothing says what the images were trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thresher.catalog.evaluations import evaluations_with_context
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError
from thresher.evaluate.report import ReportFiles, write_report


def evaluation_records(ws: Workspace, runs: list[str] | None = None) -> list[dict[str, Any]]:
    if not ws.exists:
        raise ThresherError(f"no thresher workspace at {ws.root}")
    evaluations, subsets, names = evaluations_with_context(ws)
    records = []
    for ev in evaluations:
        if runs and ev["run"] not in runs:
            continue
        metrics = json.loads(ev["metrics"])
        if metrics.get("class_ids") is not None and "class_names" not in metrics:
            metrics["class_names"] = _class_names(metrics, subsets, names)
        subset = subsets.get(ev["dataset"] or "")
        if ev["run"] is None:  # `evaluate --images`: generated elsewhere, no training data known
            method, ratio = None, None
        elif subset is not None:
            params = json.loads(subset["params"]) if subset["params"] else {}
            parts = [
                subset["method"],
                params.get("balance"),
                params.get("keep") if subset["method"] == "cluster" else None,
                "inverse" if params.get("inverse") else None,
            ]
            method = "/".join(p for p in parts if p)
            ratio = 1.0 - subset["n"] / subset["n_source"]
        else:
            method, ratio = "full", 0.0
        # eval_run saves the grid in the run's folder, or under the workspace for `--images`
        folder = ws.from_stored(ev["run_dir"]) if ev["run_dir"] else ws.root / "evaluations"
        candidate = folder / "evaluations" / f"{ev['id']}-grid.png"
        grid = str(candidate) if candidate.is_file() else None
        records.append(
            {
                "run": ev["run"],
                "images": metrics.get("images") if ev["run"] is None else None,
                "subset": ev["dataset"],
                "method": method,
                "ratio": ratio,
                "size": metrics.get("n_train"),
                "metrics": metrics,
                "grid": grid,
            }
        )
    if not records:
        raise ThresherError("no evaluations to report yet: run `thresher evaluate --run RUN` first")
    return records


def _class_names(
    metrics: dict[str, Any], subsets: dict[str, dict], names: dict[str, list[str]]
) -> list[str] | None:
    """Class names for an evaluation recorded before they were stored: the reference source's."""
    against = metrics.get("against") or ""
    source = subsets[against]["source"] if against in subsets else against
    known = names.get(source)
    if not known:
        return None
    return [known[i] if isinstance(i, int) and 0 <= i < len(known) else str(i) for i in metrics["class_ids"]]


def run_report(ws: Workspace, out_dir: Path | None = None, runs: list[str] | None = None) -> ReportFiles:
    return write_report(evaluation_records(ws, runs), out_dir or ws.reports_dir("evaluations"))
