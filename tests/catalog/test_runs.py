"""Runs in the catalog: start/finish, latest, lookup by config hash, and named-column inserts."""

from __future__ import annotations

import json
import os

import pytest

from thresher.catalog.names import config_hash
from thresher.catalog.runs import (
    finish_run,
    finished_runs,
    latest_run,
    run_by_config_hash,
    run_config,
    run_exists,
    run_row,
    start_run,
)
from thresher.catalog.tables import insert_row
from thresher.errors import ThresherError


def test_a_started_run_is_not_finished_until_it_is(workspace):
    start_run(workspace, "r1", "score", "src", {"method": "el2n", "k": 1}, workspace.root / "x")
    assert not run_exists(workspace, "r1")
    assert run_row(workspace, "r1")["status"] == "running"
    finish_run(workspace, "r1", "done", {"n": 3})
    row = run_row(workspace, "r1")
    assert row["status"] == "done" and row["finished"] is not None
    assert row["config"] == {"method": "el2n", "k": 1, "result": {"n": 3}}
    assert run_exists(workspace, "r1")


def test_lookup_by_config_hash_finds_only_finished_runs_of_that_kind_and_config(workspace):
    config = {"method": "grand", "params": "all", "seed": 0}
    start_run(workspace, "a", "score", "src", config, None)
    assert run_by_config_hash(workspace, "score", config) is None  # still running
    finish_run(workspace, "a", "done")
    assert run_by_config_hash(workspace, "score", config) == "a"
    # Key order does not matter; any value does; so does the kind.
    assert run_by_config_hash(workspace, "score", dict(reversed(list(config.items())))) == "a"
    assert run_by_config_hash(workspace, "score", {**config, "seed": 1}) is None
    assert run_by_config_hash(workspace, "pretrain", config) is None
    with workspace.connect(read_only=True) as con:
        stored = con.execute("SELECT config_hash FROM runs WHERE id = 'a'").fetchone()[0]
    assert stored == config_hash(config)


def test_latest_and_finished_runs_follow_finish_order(workspace):
    for run_id in ("c1", "c2", "c3"):
        start_run(workspace, run_id, "cluster", "src", {"k": int(run_id[1])}, None)
    finish_run(workspace, "c2", "done")
    finish_run(workspace, "c1", "done")
    finish_run(workspace, "c3", "failed")
    assert latest_run(workspace, "src", "cluster") == "c1"
    assert [r["id"] for r in finished_runs(workspace, "src", "cluster")] == ["c2", "c1"]
    assert latest_run(workspace, "other", "cluster") is None


def test_unknown_run_is_one_line(workspace):
    start_run(workspace, "x", "score", None, {}, None)
    with pytest.raises(ThresherError, match="unknown run 'nope'"):
        run_config(workspace, "nope")


def test_insert_row_names_its_columns_so_column_order_does_not_matter(workspace):
    with workspace.connect() as con:
        insert_row(con, "runs", {"status": "done", "kind": "k", "id": "z", "config": json.dumps({})})
        row = con.execute("SELECT id, kind, status, source FROM runs WHERE id = 'z'").fetchone()
    assert row == ("z", "k", "done", None)
    with workspace.connect() as con, pytest.raises(ThresherError, match="unknown catalog table"):
        insert_row(con, "runs; DROP TABLE runs", {"id": "q"})


def test_a_running_run_whose_process_is_gone_shows_interrupted(workspace):
    import socket
    import subprocess
    import sys

    from thresher.catalog.runs import shown_status, start_run
    from thresher.catalog.status import workspace_status

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    here = socket.gethostname()
    assert shown_status("running", dead_pid, here) == "interrupted"
    assert shown_status("running", os.getpid(), here) == "running"  # alive
    assert shown_status("running", dead_pid, "another-host") == "running"  # cannot tell
    assert shown_status("running", None, None) == "running"  # recorded before owners were
    assert shown_status("done", dead_pid, here) == "done"

    start_run(workspace, "train-alive", "train", "s", {}, None, dataset="s")
    start_run(workspace, "train-killed", "train", "s", {}, None, dataset="s")
    with workspace.connect() as con:
        con.execute("UPDATE runs SET pid = ? WHERE id = 'train-killed'", [dead_pid])
    shown = {t["id"]: t["status"] for t in workspace_status(workspace).trainings}
    assert shown == {"train-alive": "running", "train-killed": "interrupted"}
    assert "interrupted" in workspace_status(workspace).render()
