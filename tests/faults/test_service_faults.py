"""Faults of the service (issue 23): SIGKILL a job's process mid-way, SIGKILL the server mid-job, restart;
nothing is lost and the retry finishes with the same result as an uninterrupted run.

A real `thresher serve` process and real job processes; the uninterrupted references are the same
commands run by the command line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.faults.test_kill_and_rerun import ENV, cli

pytestmark = pytest.mark.slow
HEADERS = {"X-Thresher-Request": "1"}
TRAIN = {
    "dataset": "digits",
    "run": "t",
    "train": {
        "model_size": "DiT-T/4", "width": 32, "depth": 1, "heads": 2, "batch_size": 32, "steps": 40,
        "checkpoint_every": 10, "sample_steps": 1, "unconditional": True,
    },
}  # fmt: skip
TRAIN_ARGS = ("train", "-d", "digits", "--run", "t", "--model", "DiT-T/4", "--width", "32", "--depth", "1",
              "--heads", "2", "--batch-size", "32", "--steps", "40", "--checkpoint-every", "10",
              "--grid-steps", "1", "--unconditional")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, ws: Path) -> None:
        self.ws = ws
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "thresher.cli", "-w", str(ws), "serve", "--port", str(self.port), "--workers", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV,
        )  # fmt: skip
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.client.get("/api/status").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)

    def submit(self, command: str, config: dict) -> str:
        response = self.client.post("/api/jobs", json={"command": command, "config": config}, headers=HEADERS)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def job(self, job_id: str) -> dict:
        return self.client.get(f"/api/jobs/{job_id}").json()

    def wait(self, job_id: str, states: tuple[str, ...], timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["state"] in states:
                return job
            time.sleep(0.2)
        raise AssertionError(f"{job_id} never reached {states}: {job['state']}\n{job['log_tail']}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.client.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.client.close()


def _wait_for(path_glob: str, root: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not list(root.glob(path_glob)):
        assert time.monotonic() < deadline, f"{path_glob} never appeared"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped) counts as dead
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("service-faults") / "ws"
    code, output, _ = cli(ws, "ingest", "builtin:digits")
    assert code == 0, output
    return ws


def _copy(ws: Path, tmp_path: Path, name: str) -> Path:
    import shutil

    shutil.copytree(ws, tmp_path / name)
    return tmp_path / name


def test_a_job_killed_mid_way_fails_and_its_retry_equals_an_uninterrupted_run(ingested, tmp_path):
    reference = _copy(ingested, tmp_path, "embed-ref")
    embed = ("embed", "--embedder", "pixels:8:16", "--num-workers", "0", "--part-size", "300")
    assert cli(reference, *embed)[0] == 0
    ws = _copy(ingested, tmp_path, "embed-served")
    server = Server(ws)
    try:
        job = server.submit("embed", {"embedder": "pixels:8:16", "num_workers": 0, "part_size": 300})
        running = server.wait(job, ("running",))
        _wait_for("embeddings/digits/*/_SUCCESS.00000", ws)
        os.kill(int(running["handle"]), signal.SIGKILL)
        killed = server.wait(job, ("failed", "succeeded"))
        assert killed["state"] == "failed" and "SIGKILL" in killed["error"], killed
        assert server.client.get("/api/status").status_code == 200  # the server lives on
        retry = server.client.post(f"/api/jobs/{job}/retry", headers=HEADERS).json()["id"]
        assert server.wait(retry, ("succeeded", "failed"))["state"] == "succeeded"
    finally:
        server.stop()
    ours = sorted((ws / "embeddings" / "digits").glob("*/part-*.npy"))
    theirs = sorted((reference / "embeddings" / "digits").glob("*/part-*.npy"))
    assert [p.name for p in ours] == [p.name for p in theirs] and len(ours) == 6
    for a, b in zip(ours, theirs, strict=True):
        assert np.array_equal(np.load(a), np.load(b)), a.name


def test_a_server_killed_mid_job_shows_it_interrupted_and_the_retry_finishes_it(ingested, tmp_path):
    reference = _copy(ingested, tmp_path, "train-ref")
    code, output, _ = cli(reference, *TRAIN_ARGS)
    assert code == 0, output
    ws = _copy(ingested, tmp_path, "train-served")
    server = Server(ws)
    job = server.submit("train", TRAIN)
    worker = int(server.wait(job, ("running",))["handle"])
    _wait_for("runs/t/checkpoints/step-0000020", ws)
    server.kill()
    deadline = time.monotonic() + 30
    while _alive(worker):  # the job's process dies with its server
        assert time.monotonic() < deadline, "the job outlived its server"
        time.sleep(0.1)
    record = json.loads((ws / "jobs" / job / "job.json").read_text())
    assert record["state"] == "running"  # what the dead server last wrote

    server = Server(ws)
    try:
        interrupted = server.job(job)
        assert interrupted["state"] == "interrupted" and "retry" in interrupted["error"]
        retried = server.client.post(f"/api/jobs/{job}/retry", headers=HEADERS).json()
        assert retried["config"]["resume"] is True  # train resumes only when asked: the retry asks
        done = server.wait(retried["id"], ("succeeded", "failed"))
        assert done["state"] == "succeeded", done["log_tail"]
    finally:
        server.stop()
    ours = (ws / "runs" / "t" / "ema.safetensors").read_bytes()
    assert ours == (reference / "runs" / "t" / "ema.safetensors").read_bytes()
