"""A sweep cell has one owner at a time: a live process of this host holding its lease keeps it, a dead
one's lease is taken over, a finished cell is not run again, and recording a cell ends its lease."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from thresher.catalog.sweeps import claim_cell, finished_cell, record_cell, release_cell
from thresher.catalog.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    with ws.connect():  # the catalog, created
        pass
    return ws


@pytest.fixture
def other_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def _lease(ws: Workspace, cell: str, pid: int, host: str | None = None) -> None:
    with ws.connect() as con:
        con.execute(
            "INSERT INTO cell_leases VALUES (?, ?, ?, now())", [cell, pid, host or socket.gethostname()]
        )


def _holder(ws: Workspace, cell: str) -> tuple | None:
    with ws.connect(read_only=True) as con:
        return con.execute("SELECT pid, host FROM cell_leases WHERE cell = ?", [cell]).fetchone()


def test_a_free_cell_is_taken_and_released(ws):
    assert claim_cell(ws, "c1").taken and _holder(ws, "c1") == (os.getpid(), socket.gethostname())
    assert claim_cell(ws, "c1").taken  # this process already holds it
    release_cell(ws, "c1")
    assert _holder(ws, "c1") is None


def test_a_live_process_keeps_its_cell_and_is_named(ws, other_process):
    _lease(ws, "c1", other_process.pid)
    claim = claim_cell(ws, "c1")
    assert not claim.taken and not claim.done and f"process {other_process.pid}" in claim.holder
    release_cell(ws, "c1")  # only the holder's release ends a lease
    assert _holder(ws, "c1")[0] == other_process.pid


def test_a_dead_process_lease_is_taken_over(ws, other_process):
    _lease(ws, "c1", other_process.pid)
    other_process.kill()
    other_process.wait()
    assert claim_cell(ws, "c1").taken and _holder(ws, "c1")[0] == os.getpid()


def test_a_lease_of_another_host_is_taken_over(ws, other_process):
    _lease(ws, "c1", other_process.pid, host="elsewhere")  # not checkable from here: the scheduler's call
    assert claim_cell(ws, "c1").taken


def test_a_finished_cell_is_done_and_recording_ends_the_lease(ws, other_process):
    assert claim_cell(ws, "c1").taken
    record_cell(ws, "c1", {"series": "x"}, None, "run-1", "eval-1", {"total": 1.0})
    assert _holder(ws, "c1") is None and finished_cell(ws, "c1")["run"] == "run-1"
    claim = claim_cell(ws, "c1")
    assert claim.done and not claim.taken
