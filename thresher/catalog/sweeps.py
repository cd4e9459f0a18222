"""Sweeps in the catalog: a sweep names its cells (``sweep_members``); a cell (``sweep_cells``) is keyed by
the config hash of what determines it, so two sweeps that share a cell share its row and its runs.

A cell row is written once, when its evaluation has finished: a killed cell leaves no row (its subset
and checkpoints stay, found again by their keys), so a reader never sees half a cell.
"""

from __future__ import annotations

import json
from typing import Any

from thresher.catalog.names import utcnow
from thresher.catalog.tables import insert_row, rows_as_dicts
from thresher.catalog.workspace import Workspace


def record_sweep(ws: Workspace, name: str, spec: dict[str, Any], path: str, cells: list[str]) -> None:
    """Register (or update) a sweep and the keys of all its cells, in grid order."""
    with ws.connect() as con:
        con.execute("BEGIN")
        created = con.execute("SELECT created FROM sweeps WHERE name = ?", [name]).fetchone()
        con.execute("DELETE FROM sweeps WHERE name = ?", [name])
        insert_row(
            con,
            "sweeps",
            {
                "name": name,
                "spec": json.dumps(spec, default=str),
                "path": path,
                "created": created[0] if created else utcnow(),
                "updated": utcnow(),
            },
        )
        con.execute("DELETE FROM sweep_members WHERE sweep = ?", [name])
        for position, cell in enumerate(cells):
            insert_row(con, "sweep_members", {"sweep": name, "cell": cell, "position": position})
        con.execute("COMMIT")


def finished_cell(ws: Workspace, cell: str) -> dict[str, Any] | None:
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(
            con.execute("SELECT * FROM sweep_cells WHERE cell = ? AND status = 'done'", [cell])
        )
    return _decoded(rows[0]) if rows else None


def finished_cell_keys(ws: Workspace, cells: list[str]) -> set[str]:
    """Which of ``cells`` have a finished row, in one query (a 10^4-cell sweep is submitted in seconds)."""
    if not cells or not ws.exists:
        return set()
    with ws.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT cell FROM sweep_cells WHERE status = 'done' AND cell IN (SELECT unnest(?::VARCHAR[]))",
            [cells],
        ).fetchall()
    return {r[0] for r in rows}


def record_cell(
    ws: Workspace,
    cell: str,
    description: dict[str, Any],
    subset: str | None,
    run: str,
    evaluation: str,
    seconds: dict[str, float],
) -> None:
    with ws.connect() as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM sweep_cells WHERE cell = ?", [cell])
        insert_row(
            con,
            "sweep_cells",
            {
                "cell": cell,
                "description": json.dumps(description, default=str),
                "subset": subset,
                "run": run,
                "evaluation": evaluation,
                "status": "done",
                "seconds": json.dumps(seconds),
                "finished": utcnow(),
            },
        )
        con.execute("COMMIT")


def sweep_row(ws: Workspace, name: str) -> dict[str, Any] | None:
    if not ws.exists:
        return None
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(con.execute("SELECT * FROM sweeps WHERE name = ?", [name]))
    if not rows:
        return None
    row = rows[0]
    row["spec"] = json.loads(row["spec"])
    return row


def sweep_names(ws: Workspace) -> list[str]:
    if not ws.exists:
        return []
    with ws.connect(read_only=True) as con:
        return [r[0] for r in con.execute("SELECT name FROM sweeps ORDER BY name").fetchall()]


def sweep_cells(ws: Workspace, name: str) -> tuple[int, list[dict[str, Any]]]:
    """(number of cells in the sweep, the finished ones in grid order with their evaluation's metrics and
    their ``position`` in this sweep's grid). A cell's ``description`` is that of the sweep that ran it, which
    may be another sweep sharing the cell: its labels are that sweep's."""
    with ws.connect(read_only=True) as con:
        total = con.execute("SELECT count(*) FROM sweep_members WHERE sweep = ?", [name]).fetchone()[0]
        rows = rows_as_dicts(
            con.execute(
                """SELECT c.*, e.metrics, m.position FROM sweep_members m
                   JOIN sweep_cells c ON c.cell = m.cell AND c.status = 'done'
                   LEFT JOIN evaluations e ON e.id = c.evaluation
                   WHERE m.sweep = ? ORDER BY m.position""",
                [name],
            )
        )
    return total, [_decoded(r) for r in rows]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("description", "seconds", "metrics"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row
