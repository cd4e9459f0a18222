"""The job API: every state a job goes through, and every bad request refused with one message."""

from __future__ import annotations

import json
import time

from tests.service.conftest import HEADERS, submit, wait_for
from thresher.catalog.query import run_query
from thresher.catalog.workspace import Workspace
from thresher.service.jobs import RUNNING, JobRecord, JobStore


def test_a_job_runs_the_command_in_its_own_process_and_records_its_result(service, tmp_path):
    job = submit(service, "ingest", source="builtin:digits")
    assert job["state"] == "queued" and job["command"] == "ingest"
    done = wait_for(service, job["id"], ("succeeded", "failed"))
    assert done["state"] == "succeeded", done["log_tail"]
    assert done["result"]["lines"] == ["digits: 1797 rows, 1797 ok, 0 skipped"]
    assert done["result"]["result"]["n_ok"] == 1797
    assert int(done["handle"]) != __import__("os").getpid()  # another process ran it
    ws = Workspace(tmp_path / "ws")
    assert run_query(ws, "SELECT n_ok FROM sources").rows == [(1797,)]
    # the structured progress was persisted beside the record
    embed = submit(service, "embed", embedder="pixels:8:16", num_workers=0)
    assert wait_for(service, embed["id"], ("succeeded", "failed"))["state"] == "succeeded"
    lines = (ws.root / "jobs" / embed["id"] / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    embedding = [e for e in events if e["stage"].startswith("embed pixels")]
    assert [e["kind"] for e in embedding][0] == "start" and embedding[-1]["kind"] == "end"
    assert embedding[-1]["done"] == embedding[-1]["total"] == 1797


def test_an_invalid_config_never_enters_the_queue(service, tmp_path):
    response = service.post(
        "/api/jobs",
        json={"command": "select", "config": {"name": "x", "method": "cluster", "ratio": 2}},
        headers=HEADERS,
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "--ratio 2.0 is outside [0, 1): it is the fraction pruned",
        "field": "ratio",
    }
    assert service.get("/api/jobs").json() == []
    assert not (tmp_path / "ws" / "jobs").exists() or not any((tmp_path / "ws" / "jobs").iterdir())


def test_bad_requests_get_one_message_and_the_right_status(service):
    cases = [
        ({"command": "bogus", "config": {}}, 422, "unknown command 'bogus'"),
        ({"command": "query", "config": {"sql": "SELECT 1"}}, 422, "answered directly"),
        (
            {"command": "ingest", "config": {"source": "builtin:digits", "token": "x"}},
            422,
            "unknown field 'token'",
        ),
        ({"config": {}}, 422, 'missing "command"'),
        ({"command": "ingest", "config": {}, "extra": 1}, 422, "unknown key 'extra'"),
    ]
    for body, status, words in cases:
        response = service.post("/api/jobs", json=body, headers=HEADERS)
        assert response.status_code == status and words in response.json()["detail"], (body, response.text)
    assert service.get("/api/jobs/j-20990101-000000-abcdef").status_code == 404
    assert service.get("/api/jobs/..%2F..%2Fetc").status_code == 404
    assert service.delete("/api/jobs/j-20990101-000000-abcdef", headers=HEADERS).status_code == 404


def test_cancel_of_a_finished_job_is_a_conflict_and_retry_only_follows_failures(service):
    job = submit(service, "ingest", source="builtin:digits")
    wait_for(service, job["id"], ("succeeded",))
    response = service.delete(f"/api/jobs/{job['id']}", headers=HEADERS)
    assert response.status_code == 409 and "already succeeded" in response.json()["detail"]
    assert service.post(f"/api/jobs/{job['id']}/retry", headers=HEADERS).status_code == 409


def test_a_failing_command_fails_with_its_own_one_line_error(service):
    job = submit(service, "select", name="x", method="cluster", ratio=0.5)  # no workspace source yet
    done = wait_for(service, job["id"], ("succeeded", "failed"))
    assert done["state"] == "failed" and done["returncode"] == 2
    assert done["error"] and "\n" not in done["error"] and "Traceback" not in done["error"]


def test_a_running_job_is_cancelled_and_its_retry_is_a_new_job(service):
    job = submit(service, "demo", quick=True)  # minutes of work: cancelled long before the end
    wait_for(service, job["id"], ("running",))
    time.sleep(1.0)
    response = service.delete(f"/api/jobs/{job['id']}", headers=HEADERS)
    assert response.status_code == 200 and response.json()["cancel_requested"]
    done = wait_for(service, job["id"], ("cancelled", "failed", "succeeded"), timeout=30)
    assert done["state"] == "cancelled"
    retried = service.post(f"/api/jobs/{job['id']}/retry", headers=HEADERS)
    assert retried.status_code == 201
    again = retried.json()
    assert again["retry_of"] == job["id"] and again["id"] != job["id"] and again["config"] == done["config"]
    service.delete(f"/api/jobs/{again['id']}", headers=HEADERS)
    wait_for(service, again["id"], ("cancelled", "failed", "succeeded"), timeout=30)


def test_workers_bound_how_many_jobs_run_at_once(service):
    first = submit(service, "ingest", source="builtin:digits")
    second = submit(service, "ingest", source="builtin:mnist")
    seen_running = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = {j["id"]: j["state"] for j in service.get("/api/jobs").json()}
        running = {k for k, v in jobs.items() if v == "running"}
        assert len(running) <= 1, jobs  # the fixture's service has --workers 1
        seen_running |= running
        if all(v in ("succeeded", "failed") for v in jobs.values()):
            break
        time.sleep(0.05)
    assert seen_running == {first["id"], second["id"]}


def test_jobs_a_dead_server_left_running_are_interrupted_on_restart(tmp_path):
    from tests.service.conftest import make_client

    store = JobStore(tmp_path / "ws" / "jobs")
    record = store.create("ingest", {"source": "builtin:digits"}, executor="local")
    record.state, record.handle = RUNNING, "999999"
    store.save(record)
    with make_client(tmp_path / "ws") as client:
        job = client.get(f"/api/jobs/{record.id}").json()
        assert job["state"] == "interrupted" and "retry" in job["error"]
        assert client.post(f"/api/jobs/{record.id}/retry", headers=HEADERS).status_code == 201
    assert JobRecord(**json.loads((store.folder(record.id) / "job.json").read_text())).state == "interrupted"


def test_the_command_table_is_served_as_forms(service):
    commands = {c["name"]: c for c in service.get("/api/commands").json()}
    assert commands["select"]["job"] and not commands["query"]["job"]
    fields = {f["name"]: f for f in commands["select"]["fields"]}
    assert fields["ratio"]["type"] == "number" and "token" not in {
        f["name"] for f in commands["publish"]["fields"]
    }


def test_a_retry_asks_a_named_training_run_to_resume(tmp_path):
    """Most commands resume by themselves; `train` only with --resume, which a retry of a named run sets."""
    from thresher.executors.local import LocalExecutor
    from thresher.service.events import EventHub
    from thresher.service.jobs import FAILED
    from thresher.service.scheduler import Scheduler

    store = JobStore(tmp_path / "jobs")
    named = store.create("train", {"dataset": "d", "run": "r1", "resume": False}, executor="local")
    unnamed = store.create("train", {"dataset": "d", "run": None, "resume": False}, executor="local")
    for record in (named, unnamed):
        record.state = FAILED
        store.save(record)
    scheduler = Scheduler(tmp_path, store, LocalExecutor(), 1, EventHub())  # not started: nothing runs
    retried = scheduler.retry(named.id)
    assert retried.config == {"dataset": "d", "run": "r1", "resume": True} and retried.retry_of == named.id
    assert scheduler.retry(unnamed.id).config["resume"] is False  # a fresh id each time: nothing named
