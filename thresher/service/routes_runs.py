"""Training runs (train, pretrain, reweight): the list, and one run with its loss curve (``metrics.jsonl``),
its sample grid and its evaluations' metrics; the run's pictures are served only from inside its folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from thresher.catalog.browse import MODEL_RUN_KINDS, list_runs, require_run, run_evaluations, run_folder
from thresher.config_json import to_json_value
from thresher.errors import ConfigError, NotFound

router = APIRouter(prefix="/api")
MAX_CURVE_POINTS = 1000  # a long run's log is thinned to this many points (the last one always kept)


@router.get("/runs", summary="Model runs (train, pretrain, reweight), newest first")
def runs(request: Request, kind: str | None = None) -> list[dict[str, Any]]:
    if kind is not None and kind not in MODEL_RUN_KINDS:
        raise ConfigError(f"kind must be one of {', '.join(MODEL_RUN_KINDS)}, got {kind!r}", field="kind")
    return to_json_value(list_runs(request.app.state.service.ws, (kind,) if kind else MODEL_RUN_KINDS))


@router.get("/runs/{run_id}", summary="A run: config, loss curve, sample grid and evaluation metrics")
def run(request: Request, run_id: str) -> dict[str, Any]:
    ws = request.app.state.service.ws
    row = require_run(ws, run_id)
    if row["kind"] not in MODEL_RUN_KINDS:
        raise NotFound(f"{run_id!r} is a {row['kind']} run, not a model run: see /api/score_runs/{run_id}")
    folder = run_folder(ws, row)
    evaluations = run_evaluations(ws, run_id)
    files = f"/api/runs/{run_id}/files/"
    for evaluation in evaluations:
        grid = None if folder is None else folder / "evaluations" / f"{evaluation['id']}-grid.png"
        evaluation["grid"] = (
            files + f"evaluations/{evaluation['id']}-grid.png" if grid and grid.is_file() else None
        )
    summary = folder / "summary.json" if folder else None
    return to_json_value(
        {
            **{k: v for k, v in row.items() if k != "output"},
            "folder": None if folder is None else ws.to_stored(folder),
            "loss": loss_curve(folder / "metrics.jsonl") if folder else [],
            "samples": files + "samples.png" if folder and (folder / "samples.png").is_file() else None,
            "summary": _json_or_none(summary),
            "evaluations": evaluations,
        }
    )


@router.get(
    "/runs/{run_id}/files/{path:path}", summary="A picture of the run's folder", response_class=FileResponse
)
def run_file(request: Request, run_id: str, path: str) -> FileResponse:
    ws = request.app.state.service.ws
    folder = run_folder(ws, require_run(ws, run_id))
    found = None if folder is None else (folder / path).resolve()
    if found is None or found.suffix != ".png" or not found.is_relative_to(folder) or not found.is_file():
        raise NotFound(f"run {run_id!r} has no picture {path!r}")
    return FileResponse(found, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


def loss_curve(path: Path) -> list[dict[str, float]]:
    """(step, loss) of every logged window, thinned to at most MAX_CURVE_POINTS; a line cut by a running
    writer is skipped."""
    points = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
            points.append({"step": float(record["step"]), "loss": float(record["loss"])})
        except (ValueError, KeyError, TypeError):
            continue
    if len(points) > MAX_CURVE_POINTS:
        stride = -(-len(points) // MAX_CURVE_POINTS)
        points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    return points


def _json_or_none(path: Path | None) -> Any:
    try:
        return None if path is None else json.loads(path.read_text())
    except (OSError, ValueError):
        return None
