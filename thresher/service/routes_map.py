"""The embedding map: layouts, their points as binary columns (``service/map_points.py``), what colours
mean, and a lasso or box turned into sample ids, a preview, or a ``select --method ids`` job
(``service/map_selection.py``)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from thresher.api import command
from thresher.catalog.browse import source_summary
from thresher.catalog.layouts import list_layouts
from thresher.catalog.subset_versions import list_subsets
from thresher.config_json import config_to_json, to_json_value
from thresher.errors import ConfigError
from thresher.service.map_points import COLUMNS, Colouring, MapPoints, check_columns, encode_columns
from thresher.service.map_selection import Region, inside, preview, save_request, write_ids
from thresher.service.state import ServiceState

router = APIRouter(prefix="/api")
BINARY = "application/octet-stream"
CACHE_CONTROL = "private, no-cache"  # kept by the browser, revalidated by ETag (a re-run changes a column)
_POINTS_LOCK = threading.Lock()


def _state(request: Request) -> ServiceState:
    return request.app.state.service


def map_points(state: ServiceState) -> MapPoints:
    """The service's one cache of layouts and columns, made on first use."""
    with _POINTS_LOCK:
        points = state.extras.get("map_points")
        if points is None:
            points = state.extras["map_points"] = MapPoints(state.ws)
    return points  # type: ignore[return-value]


@router.get("/layouts", summary="Every layout (`thresher layout`), newest first")
def layouts(request: Request) -> list[dict[str, Any]]:
    return to_json_value(list_layouts(_state(request).ws))


@router.get(
    "/layouts/{layout_id}",
    summary="A layout, with what its points can be coloured by: the source's class names, clusterings, "
    "score runs and subset versions",
)
def layout(request: Request, layout_id: str) -> dict[str, Any]:
    state = _state(request)
    found = map_points(state).layout(layout_id)
    summary = source_summary(state.ws, found.source)
    versions = [
        f"{s['name']}@v{v['version']}"
        for s in list_subsets(state.ws)
        for v in s["versions"]
        if v["source"] == found.source
    ]
    out = {k: v for k, v in found.row.items() if k != "folder"}
    out.update(
        label_names=summary["label_names"],
        clusterings=summary["clusterings"],
        score_runs=[r for r in summary["score_runs"] if r not in summary["clusterings"]],
        subsets=versions,
        columns=list(COLUMNS),
    )
    return to_json_value(out)


@router.get(
    "/layouts/{layout_id}/points",
    summary="The layout's points as binary columns (xy float32; id uint32; label/cluster uint8|uint16; "
    "kept uint8; score float32), with a strong ETag",
    response_class=Response,
    responses={200: {"content": {BINARY: {}}}, 304: {"description": "not modified"}},
)
def points(
    request: Request,
    layout_id: str,
    columns: str = Query("xy", description="comma-separated: xy, id, label, cluster, kept, score"),
    clustering: str | None = Query(None, description="the clustering of the cluster column"),
    subset: str | None = Query(None, description="NAME@vN of the kept column"),
    score_run: str | None = Query(None, description="the score run of the score column"),
) -> Response:
    cache = map_points(_state(request))
    found = cache.layout(layout_id)
    wanted = tuple(c.strip() for c in columns.split(",") if c.strip())
    if not wanted:
        raise ConfigError("columns: name at least one", field="columns")
    check_columns(wanted, Colouring(clustering, subset, score_run))
    colouring = cache.colouring(found, clustering, subset, score_run)
    etag = cache.etag(found, wanted, colouring)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(cache.body(found, wanted, colouring), media_type=BINARY, headers=headers)


@router.get(
    "/layouts/{layout_id}/legend",
    summary="What one column's codes mean: each class or cluster's text and count, kept/removed counts, or "
    "the score range",
)
def legend(
    request: Request,
    layout_id: str,
    column: str = Query(..., description="label, cluster, kept or score"),
    clustering: str | None = None,
    subset: str | None = None,
    score_run: str | None = None,
) -> dict[str, Any]:
    cache = map_points(_state(request))
    found = cache.layout(layout_id)
    check_columns((column,), Colouring(clustering, subset, score_run))
    return to_json_value(cache.legend(found, column, cache.colouring(found, clustering, subset, score_run)))


@router.post(
    "/layouts/{layout_id}/select",
    summary="The sample ids inside a lasso {polygon: [[x, y], ...]} or box {box: [x0, y0, x1, y1]}, as one "
    "binary uint32 column `id`",
    response_class=Response,
    responses={200: {"content": {BINARY: {}}}},
)
def select_region(request: Request, layout_id: str, body: dict[str, Any] = Body(...)) -> Response:  # noqa: B008
    found = map_points(_state(request)).layout(layout_id)
    rows = inside(found, Region.from_request(_only(body, {"polygon", "box"})))
    return Response(encode_columns(len(rows), [("id", found.ids[rows].astype("uint32"))]), media_type=BINARY)


@router.post(
    "/layouts/{layout_id}/preview",
    summary="What saving a lasso or box would keep (counts per class and cluster, a gallery); writes nothing",
)
def preview_region(request: Request, layout_id: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    state = _state(request)
    found = map_points(state).layout(layout_id)
    region = Region.from_request(_only(body, {"polygon", "box", "clustering"}))
    return to_json_value(preview(state.ws, found, region, body.get("clustering") or None))


@router.post(
    "/layouts/{layout_id}/save",
    status_code=201,
    summary="Save a lasso or box as subset NAME@vN: its ids go to selections/, and a `select --method ids` "
    "job is queued with the polygon and the layout",
)
def save_region(request: Request, layout_id: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    state = _state(request)
    found = map_points(state).layout(layout_id)
    region = Region.from_request(_only(body, {"polygon", "box", "name", "inverse"}))
    rows = inside(found, region)
    request_config = save_request(found, region, rows, body.get("name"), body.get("inverse", False))
    select = command("select")
    # Validated with a stand-in path before anything is written: a refused request leaves no file.
    select.build({**request_config, "ids_file": "selections/pending.parquet"})
    config = select.build({**request_config, "ids_file": write_ids(state.ws, found, rows)})
    record = state.scheduler.submit(select.name, config_to_json(config))
    return {"job": record.as_dict(), "n": len(rows), "ids_file": config.ids_file}


def _only(body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}; this request takes {', '.join(sorted(allowed))}", field=unknown[0]
        )
    return body
