"""The diff of two subset versions of one source: counts per class and cluster in each, how many samples
both keep, and the samples only A keeps and only B keeps (paged, for the two grids)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from thresher.catalog.browse import require_source
from thresher.catalog.subset_versions import diff_versions, parse_ref, require_version
from thresher.config_json import to_json_value

router = APIRouter(prefix="/api")


@router.get("/diff", summary="Compare two subset versions (NAME@vN; NAME alone is its latest)")
def diff(
    request: Request,
    a: str = Query(..., description="the first version, e.g. eq@v1"),
    b: str = Query(..., description="the second version, e.g. random@v1"),
    offset: int = 0,
    limit: int = 60,
) -> dict[str, Any]:
    ws = request.app.state.service.ws
    first, second = require_version(ws, parse_ref(a)), require_version(ws, parse_ref(b))
    out = diff_versions(ws, first, second, offset=offset, limit=limit)
    out["label_names"] = require_source(ws, first["source"])["label_names"]
    return to_json_value(out)
