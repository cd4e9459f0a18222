"""Clusterings and score runs: the lists, a clustering's clusters (size, purity, a strip of the samples
nearest each centroid) and a score run's histogram, computed on the server."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from thresher.catalog.score_summaries import clustering_summary, list_score_runs, score_histogram
from thresher.config_json import to_json_value

router = APIRouter(prefix="/api")


@router.get("/clusterings", summary="Every finished clustering, newest first")
def clusterings(request: Request) -> list[dict[str, Any]]:
    return to_json_value(list_score_runs(request.app.state.service.ws, kind="cluster"))


@router.get(
    "/clusterings/{run_id}",
    summary="A clustering's clusters, largest first: size, mean distance, majority label, purity, and the "
    "`strip` samples nearest each centroid for a page of clusters",
)
def clustering(
    request: Request, run_id: str, strip: int = 8, offset: int = 0, limit: int = 50
) -> dict[str, Any]:
    ws = request.app.state.service.ws
    return to_json_value(clustering_summary(ws, run_id, strip=strip, offset=offset, limit=limit))


@router.get("/score_runs", summary="Every finished score run (clusterings included), newest first")
def score_runs(request: Request) -> list[dict[str, Any]]:
    return to_json_value(list_score_runs(request.app.state.service.ws))


@router.get("/score_runs/{run_id}", summary="A score run: its config and the histogram of its scores")
def score_run(request: Request, run_id: str, bins: int = 40) -> dict[str, Any]:
    return to_json_value(score_histogram(request.app.state.service.ws, run_id, bins=bins))
