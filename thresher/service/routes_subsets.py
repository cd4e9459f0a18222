"""Subsets and their versions: the list, a version's row and counts, its kept samples (paged), its card
rendered to HTML, its gallery and the gallery's files (served only from inside the version's folder)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from thresher.catalog.browse import require_source
from thresher.catalog.subset_versions import (
    kept_page,
    list_subsets,
    parse_ref,
    require_version,
    version_stats,
)
from thresher.config_json import to_json_value
from thresher.service.state import ServiceState
from thresher.service.version_pages import VersionPages

router = APIRouter(prefix="/api")
_PAGES_LOCK = threading.Lock()


def _state(request: Request) -> ServiceState:
    return request.app.state.service


def _version(state: ServiceState, name: str, version: str) -> dict[str, Any]:
    """The catalog row of NAME@vN from the path's two parts (``3`` or ``v3``; ``latest``)."""
    return require_version(state.ws, parse_ref(name if version == "latest" else f"{name}@{version}"))


def version_pages(state: ServiceState) -> VersionPages:
    """The service's one cache of drawn versions, made on first use."""
    with _PAGES_LOCK:
        pages = state.extras.get("version_pages")
        if pages is None:
            pages = state.extras["version_pages"] = VersionPages(
                state.ws, state.ws.root / ".serve" / "versions"
            )
    return pages  # type: ignore[return-value]


def _files_url(row: dict[str, Any]) -> str:
    return f"/api/subsets/{row['name']}/versions/{row['version']}/files/"


@router.get("/subsets", summary="Every subset with its versions")
def subsets(request: Request) -> list[dict[str, Any]]:
    return to_json_value(list_subsets(_state(request).ws))


@router.get(
    "/subsets/{name}/versions/{version}", summary="A version: its catalog row and counts before/after"
)
def version(request: Request, name: str, version: str) -> dict[str, Any]:
    state = _state(request)
    row = _version(state, name, version)
    out = {k: v for k, v in row.items() if k != "folder"}
    out["stats"] = version_stats(row)
    out["label_names"] = require_source(state.ws, row["source"])["label_names"]
    out["folder"] = state.ws.to_stored(row["folder"])
    return to_json_value(out)


@router.get("/subsets/{name}/versions/{version}/samples", summary="A page of the samples a version keeps")
def kept(
    request: Request,
    name: str,
    version: str,
    offset: int = 0,
    limit: int = 60,
    label: int | None = None,
    cluster: int | None = None,
) -> dict[str, Any]:
    state = _state(request)
    row = _version(state, name, version)
    return to_json_value(kept_page(state.ws, row, offset, limit, label=label, cluster=cluster))


@router.get(
    "/subsets/{name}/versions/{version}/card",
    summary="The version's dataset card (as publish writes it): Markdown, and HTML with every string escaped",
)
def card(request: Request, name: str, version: str) -> dict[str, Any]:
    state = _state(request)
    row = _version(state, name, version)
    markdown, html = version_pages(state).card_html(row, _files_url(row))
    return {"markdown": markdown, "html": html}


@router.get(
    "/subsets/{name}/versions/{version}/gallery", summary="The version's gallery: its pictures and page"
)
def gallery(request: Request, name: str, version: str) -> dict[str, Any]:
    state = _state(request)
    row = _version(state, name, version)
    drawn = version_pages(state).gallery(row)
    base = _files_url(row)
    return {
        "images": [{"caption": i["caption"], "url": base + i["path"]} for i in drawn.images],
        "page": None if drawn.page is None else base + drawn.page,
        "error": drawn.error,
    }


@router.get(
    "/subsets/{name}/versions/{version}/files/{path:path}",
    summary="A file of the version's gallery (pictures, the one-page gallery)",
    response_class=FileResponse,
)
def gallery_file(request: Request, name: str, version: str, path: str) -> FileResponse:
    state = _state(request)
    row = _version(state, name, version)
    found, media_type = version_pages(state).file(row, path)
    return FileResponse(found, media_type=media_type, headers={"Cache-Control": "private, max-age=600"})
