"""Single units as Slurm jobs (the service's jobs): run, exit code kept beside the log after the job leaves
the queue, cancel, a restarted server adopting them; and `thresher serve --executor slurm` running a real
job through the API. Needs Slurm (the ``slurm`` fixture)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.service.conftest import make_client, submit, wait_for
from thresher.executors.base import Unit, UnitState
from thresher.executors.slurm import EXIT_SUFFIX, SlurmExecutor, _exit_code, _unit_body


def _wait(executor: SlurmExecutor, handle: str, states: tuple[str, ...], timeout: float = 180.0) -> UnitState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = executor.poll(handle)
        if state.state in states:
            return state
        time.sleep(0.2)
    raise AssertionError(f"{handle} did not reach {states}: {executor.poll(handle)}")


def test_a_unit_runs_as_a_slurm_job_and_its_outcome_outlives_the_queue(slurm, tmp_path: Path):
    code = (
        "import os, sys; print('hello from', os.environ['SLURM_JOB_ID'], os.environ['GREETING']); sys.exit(3)"
    )
    unit = Unit(
        "u1", (sys.executable, "-c", code), tmp_path, tmp_path / "u1" / "log.txt", {"GREETING": "a b"}
    )
    executor = SlurmExecutor(workspace=tmp_path)
    handle = executor.submit(unit)
    job_id = handle.split(":")[0]
    assert _wait(executor, handle, ("exited",)) == UnitState("exited", 3)
    assert f"hello from {job_id} a b" in unit.log.read_text()
    assert (tmp_path / "u1" / f"log.txt{EXIT_SUFFIX}").read_text().strip() == "3"
    restarted = SlurmExecutor(workspace=tmp_path)  # a new server: it knows the job by its handle alone
    assert restarted.adopt(handle) and restarted.poll(handle) == UnitState("exited", 3)


def test_a_cancelled_unit_ends_with_sigterm(slurm, tmp_path: Path):
    unit = Unit("u2", (sys.executable, "-c", "import time; print('up', flush=True); time.sleep(300)"), tmp_path,
                tmp_path / "u2" / "log.txt")  # fmt: skip
    executor = SlurmExecutor(workspace=tmp_path)
    handle = executor.submit(unit)
    _wait(executor, handle, ("running",))
    deadline = time.monotonic() + 60
    while "up" not in (unit.log.read_text() if unit.log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.2)
    executor.cancel(handle)
    assert _wait(executor, handle, ("exited",), timeout=90) == UnitState("exited", -15)


def test_serve_with_slurm_runs_a_job_on_the_cluster_and_reports_its_progress(slurm, tmp_path: Path):
    ws = tmp_path / "ws"
    with make_client(ws, workers=1, executor="slurm") as client:
        job = submit(client, "ingest", source="builtin:digits")
        done = wait_for(client, job["id"], ("succeeded", "failed"), timeout=300)
        assert done["state"] == "succeeded", done["log_tail"]
        assert done["executor"] == "slurm" and done["result"]["result"]["n_ok"] == 1797
        # The job ran as a Slurm job (its handle is the job id), its log and events reached the workspace.
        job_id = done["handle"].split(":")[0]
        assert job_id.isdigit()
        assert "#SBATCH" in (ws / "jobs" / job["id"] / "slurm.sbatch").read_text()
        # Progress written on the node reaches the server through the workspace.
        embed = submit(client, "embed", embedder="pixels:8:16", num_workers=0)
        assert wait_for(client, embed["id"], ("succeeded", "failed"), timeout=300)["state"] == "succeeded"
        lines = (ws / "jobs" / embed["id"] / "events.jsonl").read_text().splitlines()
        embedding = [e for e in map(json.loads, lines) if e["stage"].startswith("embed pixels")]
        assert embedding[0]["kind"] == "start" and embedding[-1]["done"] == embedding[-1]["total"] == 1797
        assert client.get(f"/api/jobs/{embed['id']}").json()["progress"]
        # A request may not carry executor options of its own (they would reach past the workspace).
        refused = client.post("/api/jobs", json={"command": "embed", "config": {"executor": {"kind": "slurm"}}},
                              headers={"X-Thresher-Request": "1"})  # fmt: skip
        assert refused.status_code == 422 and "thresher serve --executor" in refused.text


def test_the_wrapper_records_the_exit_code_and_forwards_a_cancel(tmp_path: Path):
    """The unit's wrapper script, run by bash as slurmd would (no Slurm needed): the code of a normal end,
    and SIGTERM (what scancel sends) passed on to the command and recorded as -15."""
    import signal
    import subprocess

    exit_file = tmp_path / "log.txt.exit"
    ends = Unit("a", (sys.executable, "-c", "import sys; sys.exit(7)"), tmp_path, tmp_path / "log.txt")
    assert subprocess.run(["bash", "-c", "\n".join(_unit_body(ends, exit_file))]).returncode == 7
    assert _exit_code(exit_file) == 7

    ready = tmp_path / "ready"
    sleeper = f"import pathlib, time; pathlib.Path({str(ready)!r}).touch(); time.sleep(120)"
    waits = Unit("b", (sys.executable, "-c", sleeper), tmp_path, tmp_path / "log.txt")
    wrapper = subprocess.Popen(["bash", "-c", "\n".join(_unit_body(waits, exit_file))])
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=60) == 143 and _exit_code(exit_file) == -15
