"""API read latency of `thresher serve` with 20 concurrent clients, idle and while jobs write the workspace.

    uv run python benchmarks/service_latency.py [--clients 20] [--seconds 30] [--out benchmarks/results/service]

Builds a workspace (mnist-lt, HOG embeddings, k=10, one subset), starts a real `thresher serve` process
(3 workers), and runs ``--clients`` concurrent httpx clients in a loop over the curator's read endpoints
(status, sources, a sample page, subsets, the clustering, jobs, a cached thumbnail) for ``--seconds``: once
idle, once while a `select`, a `publish` and a `train` job write to the same workspace. Prints p50 / p95 /
p99 / max per phase and the error count, how long the writers held the catalog (the snapshot copies,
seen from the server's side as copy time), and the machine's load average; writes ``latency.json``.
Goal (issue 23): p99 < 100 ms and 0 errors while the jobs write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

HEADERS = {"X-Thresher-Request": "1"}
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def cli(ws: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "thresher.cli", "-w", str(ws), *args], check=True, env=ENV,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def prepare(ws: Path) -> None:
    cli(ws, "ingest", "builtin:mnist-lt")
    cli(ws, "embed", "--embedder", "hog?deskew", "--num-workers", "0")
    cli(ws, "cluster", "--k", "10")
    cli(ws, "select", "--name", "base", "--method", "cluster", "--balance", "equal", "--ratio", "0.5")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def clients(base: str, paths: list[str], n: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def one(index: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            i = index
            while time.monotonic() < deadline:
                path = paths[i % len(paths)]
                i += 1
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    if response.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one(i) for i in range(n)))
    return latencies, errors


def summary(latencies: list[float], errors: int) -> dict[str, float]:
    ms = np.asarray(latencies) * 1000
    return {
        "requests": int(len(ms)),
        "errors": errors,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", default="benchmarks/results/service")
    args = parser.parse_args()
    ws = Path(tempfile.mkdtemp(prefix="thresher-latency-")) / "ws"
    prepare(ws)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "thresher.cli", "-w", str(ws), "serve", "--port", str(port), "--workers", "3"],
        env=ENV, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/api/status").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            clustering = client.get("/api/clusterings").json()[0]["id"]
            paths = [
                "/api/status",
                "/api/sources",
                "/api/sources/mnist-lt/samples?limit=50&offset=100",
                "/api/subsets",
                f"/api/clusterings/{clustering}",
                "/api/jobs",
                "/api/thumbnails/mnist-lt/5?size=64",
            ]
            for path in paths:  # warm caches (thumbnails, the first snapshot)
                client.get(path).raise_for_status()
            idle = summary(*asyncio.run(clients(base, paths, args.clients, args.seconds)))
            jobs = [
                ("select", {"name": "during", "method": "random", "ratio": 0.5}),
                ("publish", {"ref": "base@v1", "to": "published/base"}),
                ("train", {"dataset": "base", "run": "bench", "train": {"model_size": "DiT-T/4", "width": 64,
                           "depth": 2, "heads": 2, "steps": 100000, "checkpoint_every": 50}}),
            ]  # fmt: skip
            ids = [
                client.post("/api/jobs", json={"command": c, "config": cfg}, headers=HEADERS).json()["id"]
                for c, cfg in jobs
            ]
            while not all(client.get(f"/api/jobs/{i}").json()["state"] != "queued" for i in ids):
                time.sleep(0.2)
            busy = summary(*asyncio.run(clients(base, paths, args.clients, args.seconds)))
            states = {
                c: client.get(f"/api/jobs/{i}").json()["state"] for (c, _), i in zip(jobs, ids, strict=True)
            }
            client.delete(f"/api/jobs/{ids[2]}", headers=HEADERS)  # the training job runs until cancelled
    finally:
        server.terminate()
        server.wait(timeout=60)
    result = {
        "clients": args.clients,
        "seconds_per_phase": args.seconds,
        "idle": idle,
        "while_select_publish_train_write": busy,
        "job_states_after": states,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
