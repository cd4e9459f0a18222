"""Runs in the catalog: every step that produces something (a clustering, a score run, a training, a
pretraining) is one row of ``runs`` with its config, the config's hash and its status.

Runs are looked up by id, by kind and source (the latest finished one), or by config hash, so a rerun
with the same config can reuse a finished run instead of computing it again.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from thresher.catalog.names import config_hash, utcnow
from thresher.catalog.tables import insert_row, rows_as_dicts
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError


def start_run(
    ws: Workspace,
    run_id: str,
    kind: str,
    source: str | None,
    config: dict[str, Any],
    output: Path | str | None,
    *,
    dataset: str | None = None,
    status: str = "running",
    identity: dict[str, Any] | None = None,
    exclusive: bool = False,
) -> None:
    """Record a run as started (replacing an earlier row of the same id, e.g. a resumed run).

    ``identity`` is what determines the run's result, when the recorded ``config`` holds more (counts,
    process numbers): its hash is what :func:`run_by_config_hash` finds. Default: the whole config.
    ``exclusive``: the run has one owner at a time (a lease: the row's pid and host): refuse, in the same
    write transaction that would take it over, a row another live process of this host still runs."""
    with ws.connect() as con:
        if exclusive:
            row = con.execute("SELECT status, pid, host FROM runs WHERE id = ?", [run_id]).fetchone()
            if row is not None and row[1] != os.getpid():
                refuse_if_running(run_id, row[0], row[1], row[2])
        con.execute("DELETE FROM runs WHERE id = ?", [run_id])
        insert_row(
            con,
            "runs",
            {
                "id": run_id,
                "kind": kind,
                "source": source,
                "config": json.dumps(config, default=str),
                "config_hash": config_hash(identity if identity is not None else config),
                "started": utcnow(),
                "finished": utcnow() if status == "done" else None,
                "status": status,
                "output": None if output is None else ws.to_stored(output),
                "dataset": dataset,
                "pid": os.getpid(),
                "host": socket.gethostname(),
            },
        )


def shown_status(status: str | None, pid: int | None, host: str | None) -> str | None:
    """A run's status as people should read it: a "running" run whose process is gone (killed, crashed,
    machine rebooted) is "interrupted". A run of another host, or recorded before owners were, stays
    "running": nothing here can tell."""
    if status != "running" or pid is None or host != socket.gethostname():
        return status
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "interrupted"
    except PermissionError:  # alive, under another user
        return status
    return status


def refuse_if_running(run_id: str, status: str | None, pid: int | None, host: str | None) -> None:
    """One line when run ``run_id`` is still running in a live process of this host (a run of another
    host cannot be checked from here and is not refused: docs/architecture.md, 'Workspace')."""
    mine = pid == os.getpid()  # this very process recorded it (and is not training it now)
    if (
        status == "running"
        and not mine
        and host == socket.gethostname()
        and shown_status(status, pid, host) == "running"
    ):
        raise ThresherError(
            f"run {run_id!r} is still running (process {pid} on {host}): wait for it to end, or stop it first"
        )


def finish_run(ws: Workspace, run_id: str, status: str, result: dict[str, Any] | None = None) -> None:
    """Mark a run done or failed; ``result`` is merged into its config under ``result``."""
    with ws.connect() as con:
        if result:
            row = con.execute("SELECT config FROM runs WHERE id = ?", [run_id]).fetchone()
            merged = {**json.loads(row[0]), "result": result}
            con.execute("UPDATE runs SET config = ? WHERE id = ?", [json.dumps(merged, default=str), run_id])
        con.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?", [status, utcnow(), run_id])


def record_finished_run(
    ws: Workspace,
    run_id: str,
    kind: str,
    source: str | None,
    config: dict[str, Any],
    output: Path | str,
    identity: dict[str, Any] | None = None,
) -> None:
    """Record a run that has just finished in one step (score runs are written aside and then committed)."""
    start_run(ws, run_id, kind, source, config, output, status="done", identity=identity)


def latest_run(ws: Workspace, source: str, kind: str) -> str | None:
    """The most recently finished run of ``kind`` over ``source``, or None."""
    if not ws.exists:
        return None
    with ws.connect(read_only=True) as con:
        row = con.execute(
            "SELECT id FROM runs WHERE source = ? AND kind = ? AND status = 'done' ORDER BY finished DESC LIMIT 1",
            [source, kind],
        ).fetchone()
    return row[0] if row else None


def only_finished_run(ws: Workspace, source: str, kind: str, option: str) -> str | None:
    """The source's one finished ``kind`` run, None when there is none; with several, a one-line error
    that lists them and names the option that picks one (no silent "latest")."""
    runs = finished_runs(ws, source, kind)
    if len(runs) > 1:
        listed = ", ".join(_run_label(r) for r in runs[-8:]) + (" …" if len(runs) > 8 else "")
        raise ThresherError(f"source {source!r} has {len(runs)} {kind} runs ({listed}): pass {option}")
    return runs[0]["id"] if runs else None


def _run_label(run: dict[str, Any]) -> str:
    """A run id with what tells runs of one kind apart (a clustering's embedder and k, a score run's method)."""
    config = run["config"]
    said = [f"{key}={config[key]}" for key in ("embedder", "k", "method") if config.get(key) is not None]
    return f"{run['id']} ({' '.join(said)})" if said else run["id"]


def finished_runs(ws: Workspace, source: str, kind: str) -> list[dict[str, Any]]:
    """Every finished run of ``kind`` over ``source``, oldest first, with its config decoded."""
    if not ws.exists:
        return []
    with ws.connect(read_only=True) as con:
        rows = rows_as_dicts(
            con.execute(
                "SELECT id, config, finished FROM runs WHERE source = ? AND kind = ? AND status = 'done' "
                "ORDER BY finished",
                [source, kind],
            )
        )
    for row in rows:
        row["config"] = json.loads(row["config"]) if row["config"] else {}
    return rows


def run_exists(ws: Workspace, run_id: str) -> bool:
    """Whether ``run_id`` is a finished run."""
    if not ws.exists:
        return False
    with ws.connect(read_only=True) as con:
        found = con.execute("SELECT count(*) FROM runs WHERE id = ? AND status = 'done'", [run_id]).fetchone()
    return found[0] > 0


def run_by_config_hash(ws: Workspace, kind: str, config: dict[str, Any]) -> str | None:
    """The id of a finished ``kind`` run whose config hashes like ``config``: the run a rerun reuses."""
    if not ws.exists:
        return None
    with ws.connect(read_only=True) as con:
        row = con.execute(
            "SELECT id FROM runs WHERE kind = ? AND config_hash = ? AND status = 'done' "
            "ORDER BY finished DESC LIMIT 1",
            [kind, config_hash(config)],
        ).fetchone()
    return row[0] if row else None


def run_row(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The catalog row of a run, config decoded; a one-line error for an unknown id."""
    row = None
    if ws.exists:
        with ws.connect(read_only=True) as con:
            rows = rows_as_dicts(con.execute("SELECT * FROM runs WHERE id = ?", [run_id]))
            row = rows[0] if rows else None
    if row is None:
        raise ThresherError(f"unknown run {run_id!r}")
    row["config"] = json.loads(row["config"]) if row["config"] else {}
    return row


def run_config(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The recorded config of a run."""
    return run_row(ws, run_id)["config"]


def find_run_dir(ws: Workspace, run: str) -> Path:
    """A training run's folder, from a run id in the workspace or a run folder path."""
    path = Path(run).expanduser()
    if (path / "config.yaml").is_file():
        return path
    candidate = ws.run_dir(run) if "/" not in run else path
    if (candidate / "config.yaml").is_file():
        return candidate
    raise ThresherError(f"unknown run {run!r}: not a run in {ws.root / 'runs'} nor a run folder")
