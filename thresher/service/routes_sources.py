"""Sources and their samples: the list, one source's counts, the paged and filterable sample grid (label,
status, cluster of a clustering, score range of a score run), and the thumbnails the grid shows."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from thresher.catalog.browse import SampleFilter, list_sources, require_source, sample_page, source_summary
from thresher.config_json import to_json_value
from thresher.service.state import ServiceState
from thresher.service.thumbnails import DEFAULT_SIZE, Thumbnails

router = APIRouter(prefix="/api")
CACHE_CONTROL = "private, max-age=600"  # then revalidated by ETag: a re-ingest changes a source's rows
_THUMBNAILS_LOCK = threading.Lock()


def _state(request: Request) -> ServiceState:
    return request.app.state.service


@router.get("/sources", summary="Every source: row counts, kind, revision, class names")
def sources(request: Request) -> list[dict[str, Any]]:
    return to_json_value(list_sources(_state(request).ws))


@router.get(
    "/sources/{source}", summary="One source: counts per label and status, its clusterings and score runs"
)
def source(request: Request, source: str) -> dict[str, Any]:
    return to_json_value(source_summary(_state(request).ws, source))


@router.get("/sources/{source}/samples", summary="A page of a source's samples, filtered")
def samples(
    request: Request,
    source: str,
    offset: int = 0,
    limit: int = 60,
    label: int | None = None,
    status: str | None = None,
    clustering: str | None = None,
    cluster: int | None = None,
    score_run: str | None = None,
    min_score: float | None = Query(None, alias="min", description="lowest score shown; needs score_run"),
    max_score: float | None = Query(None, alias="max", description="highest score shown; needs score_run"),
) -> dict[str, Any]:
    ws = _state(request).ws
    where = SampleFilter(label, status, clustering, cluster, score_run, min_score, max_score)
    page = sample_page(ws, source, where, offset, limit)
    names = require_source(ws, source)["label_names"] or []
    for row in page.rows:
        label_of = row["label"]
        row["label_name"] = (
            str(names[label_of]) if label_of is not None and 0 <= label_of < len(names) else None
        )
    return to_json_value(page)


@router.get(
    "/thumbnails/{source}/{sample_id}",
    summary="A sample's thumbnail (PNG, longer side `size`), cached, with a strong ETag",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 304: {"description": "not modified"}},
)
def thumbnail(request: Request, source: str, sample_id: int, size: int = DEFAULT_SIZE) -> Response:
    thumbnails = thumbnails_of(_state(request))
    etag = thumbnails.etag(source, sample_id, size)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    found = thumbnails.get(source, sample_id, size)
    return Response(found.data, media_type="image/png", headers=headers)


def thumbnails_of(state: ServiceState) -> Thumbnails:
    """The service's one thumbnail cache, made on first use."""
    with _THUMBNAILS_LOCK:
        cache = state.extras.get("thumbnails")
        if cache is None:
            cache = state.extras["thumbnails"] = Thumbnails(state.ws, state.ws.root / ".serve" / "thumbnails")
    return cache  # type: ignore[return-value]


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
