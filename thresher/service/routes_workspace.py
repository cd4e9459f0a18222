"""The workspace's own reads: its status, and the read-only SQL console (the views of `thresher query`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from thresher.api import command
from thresher.config_json import to_json_value

router = APIRouter(prefix="/api")


@router.get("/status", summary="What is in the workspace (as `thresher status`)")
def status(request: Request) -> dict[str, Any]:
    ws = request.app.state.service.ws
    if not ws.exists:
        return {"root": str(ws.root), "schema_version": None}
    row = command("status")
    return to_json_value(row.run(ws, row.build({})))


@router.post("/query", summary="Read-only SQL over the catalog's views (no file paths)")
def query(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    from thresher.catalog.query import run_service_query

    return to_json_value(run_service_query(request.app.state.service.ws, body))
