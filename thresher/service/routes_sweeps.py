"""Sweeps: the list with their progress, and one sweep's cells (what each trained on, its metrics) with its
report (``thresher report --sweep``) rendered to HTML when one was written; the report's pictures are
served only from inside its folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from thresher.catalog.names import check_name
from thresher.catalog.sweeps import sweep_cells, sweep_names, sweep_row
from thresher.catalog.workspace import Workspace
from thresher.config_json import to_json_value
from thresher.errors import NotFound
from thresher.service.inline_style import style_linked
from thresher.service.markdown_html import markdown_to_html

router = APIRouter(prefix="/api")


def report_folder(ws: Workspace, name: str) -> Path:
    """Where ``report --sweep NAME`` writes by default (``experiments/sweep_report.write_sweep_report``)."""
    return ws.reports_dir(f"sweep-{check_name(name, 'sweep name')}")


def _require(ws: Workspace, name: str) -> dict[str, Any]:
    check_name(name, "sweep name")
    row = sweep_row(ws, name)
    if row is None:
        raise NotFound(f"unknown sweep {name!r}")
    return row


@router.get("/sweeps", summary="Every sweep with its cells done out of all")
def sweeps(request: Request) -> list[dict[str, Any]]:
    ws = request.app.state.service.ws
    out = []
    for name in sweep_names(ws):
        total, done = sweep_cells(ws, name)
        report = report_folder(ws, name) / "report.md"
        out.append({"name": name, "cells": total, "done": len(done), "report": report.is_file()})
    return out


@router.get("/sweeps/{name}", summary="A sweep: its spec, finished cells with metrics, and its report")
def sweep(request: Request, name: str) -> dict[str, Any]:
    ws = request.app.state.service.ws
    row = _require(ws, name)
    total, cells = sweep_cells(ws, name)
    report = report_folder(ws, name) / "report.md"
    html = markdown_to_html(report.read_text(), f"/api/sweeps/{name}/report/") if report.is_file() else None
    return to_json_value(
        {
            "name": name,
            "spec": row["spec"],
            "created": row["created"],
            "updated": row["updated"],
            "total": total,
            "cells": cells,
            "report_html": html,
            "report_page": f"/api/sweeps/{name}/report/report.html" if html is not None else None,
        }
    )


@router.get(
    "/sweeps/{name}/report/{path:path}", summary="A file of the sweep's report (its pictures and page)"
)
def report_file(request: Request, name: str, path: str) -> Response:
    ws = request.app.state.service.ws
    _require(ws, name)
    folder = report_folder(ws, name).resolve()
    found = (folder / path).resolve()
    if found.suffix not in (".png", ".html") or not found.is_relative_to(folder) or not found.is_file():
        raise NotFound(f"sweep {name!r} has no report file {path!r}")
    if found.suffix == ".html":
        return HTMLResponse(style_linked(found.read_text(), "report.css"))
    return FileResponse(found, media_type="image/png")
