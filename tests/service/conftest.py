"""A service over a workspace, through FastAPI's test client (the real app, scheduler and job processes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.curated_reads import Curated, build_curated
from thresher.service.app import create_app
from thresher.service.config import ServeConfig

HEADERS = {"X-Thresher-Request": "1"}


def make_client(ws: Path, token: str | None = None, **config: Any) -> TestClient:
    app = create_app(ws, ServeConfig(**config), token=token)
    return TestClient(app, base_url="http://127.0.0.1:8765")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path / "ws", workers=1) as client:
        yield client


def wait_for(client: TestClient, job_id: str, states: tuple[str, ...], timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {states}: {job['state']}\n{job['log_tail']}")


def submit(client: TestClient, command: str, **config: Any) -> dict:
    response = client.post("/api/jobs", json={"command": command, "config": config}, headers=HEADERS)
    assert response.status_code == 201, response.text
    return response.json()


Waiter = Callable[..., dict]


# The read-endpoint tests' workspace (tests/service/curated_reads.py) and its client, built once for the
# package: the tests of sources and of versions share them.
@pytest.fixture(scope="package", name="curated")
def curated_workspace(tmp_path_factory: pytest.TempPathFactory) -> Curated:
    return build_curated(tmp_path_factory.mktemp("reads"))


@pytest.fixture(scope="package", name="client")
def curated_client(curated: Curated) -> Iterator[TestClient]:
    with make_client(curated.ws.root, workers=1) as client:
        yield client
