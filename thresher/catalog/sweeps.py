"""Sweeps in the catalog: a sweep names its cells (``sweep_members``); a cell (``sweep_cells``) is keyed by
the config hash of what determines it, so two sweeps that share a cell share its row and its runs.

A cell row is written once, when its evaluation has finished: a killed cell leaves no row (its subset
and checkpoints stay, found again by their keys), so a reader never sees half a cell.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from thresher.catalog.names import utcnow
from thresher.catalog.runs import shown_status
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


@dataclass(frozen=True)
class CellClaim:
    """What :func:`claim_cell` found: the cell is now this process's (``taken``), another process finished
    it meanwhile (``done``), or ``holder`` (a live process of this host) is running it."""

    taken: bool
    done: bool = False
    holder: str | None = None


def claim_cell(ws: Workspace, cell: str) -> CellClaim:
    """Take cell ``cell``'s lease for this process, in one write transaction with the check: a cell has one
    owner at a time, so two sweep processes that share cells (two sweeps, or one run twice without
    ``--shard``) split them instead of running one twice. A lease left by a dead process of this host is
    taken over; one of another host cannot be checked from here and is taken over too, as runs are
    (docs/architecture.md, 'Workspace'): there the scheduler owns the cells (``--shard``, array tasks)."""
    with ws.connect() as con:
        con.execute("BEGIN")
        if con.execute("SELECT 1 FROM sweep_cells WHERE cell = ? AND status = 'done'", [cell]).fetchone():
            con.execute("ROLLBACK")
            return CellClaim(taken=False, done=True)
        held = con.execute("SELECT pid, host FROM cell_leases WHERE cell = ?", [cell]).fetchone()
        if held is not None and held[0] != os.getpid():
            pid, host = held
            if host == socket.gethostname() and shown_status("running", pid, host) == "running":
                con.execute("ROLLBACK")
                return CellClaim(taken=False, holder=f"process {pid} on {host}")
        con.execute("DELETE FROM cell_leases WHERE cell = ?", [cell])
        insert_row(
            con,
            "cell_leases",
            {"cell": cell, "pid": os.getpid(), "host": socket.gethostname(), "started": utcnow()},
        )
        con.execute("COMMIT")
    return CellClaim(taken=True)


def release_cell(ws: Workspace, cell: str) -> None:
    """Give up this process's lease of ``cell`` (its work failed or was interrupted; a finished cell's
    lease goes with :func:`record_cell`)."""
    with ws.connect() as con:
        con.execute(
            "DELETE FROM cell_leases WHERE cell = ? AND pid = ? AND host = ?",
            [cell, os.getpid(), socket.gethostname()],
        )


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
        con.execute("DELETE FROM cell_leases WHERE cell = ?", [cell])  # done: nothing left to own
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
