"""The workspace the read-endpoint tests share (built once for the package by tests/service/conftest.py: a trained and
evaluated run is most of its cost) and the helpers those tests check responses with. A hostile-named class
(an XSS payload) runs through all of it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tests.conftest import fake_clustering
from tests.service.hostile_data import HOSTILE, hostile_image_folder
from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.query import run_query
from thresher.catalog.sweeps import record_cell, record_sweep
from thresher.catalog.workspace import Workspace
from thresher.curate.config import SelectConfig
from thresher.curate.select import select
from thresher.evaluate.config import EvalRunConfig
from thresher.evaluate.eval_run import evaluate_run
from thresher.train.config import TrainConfig, TrainRunConfig
from thresher.train.train_run import run_training

CLUSTERING = "cluster-test"
RANDOM_RUN = "random-hostile-seed0"


@dataclass
class Curated:
    ws: Workspace
    folder: Path
    run: str
    evaluation: str


def build_curated(root: Path) -> Curated:
    """A workspace with a hostile-named class, a clustering (clusters = labels), two subsets of it, a
    second source with a subset, a tiny training run with an evaluation, and a sweep with a report."""
    ws = Workspace(root / "ws")
    folder = hostile_image_folder(root / "folder")
    ingest(ws, IngestConfig(source=str(folder), name="hostile"))
    fake_clustering(ws, "hostile", CLUSTERING)
    select(ws, SelectConfig(name="eq", method="cluster", balance="equal", ratio=0.5, clustering=CLUSTERING))
    select(ws, SelectConfig(name="rnd", method="random", ratio=0.5))
    tiny = TrainConfig(model_size="DiT-T/4", width=32, depth=1, heads=2, steps=4, batch_size=8, sample_count=4,
                       checkpoint_every=1000, log_every=1)  # fmt: skip
    run = run_training(ws, TrainRunConfig(dataset="rnd@v1", train=tiny)).run_id
    evaluation = evaluate_run(
        ws, EvalRunConfig(run=run, n=8, steps=2, features="classifier", max_reference=40, batch_size=8)
    ).id
    ingest(ws, IngestConfig(source="builtin:digits"))
    select(ws, SelectConfig(name="dig", method="random", ratio=0.5, source="digits"))
    record_sweep(ws, "grid", {"source": "hostile"}, "grid.yaml", ["cell-a", "cell-b"])
    record_cell(ws, "cell-a", {"method": HOSTILE, "ratio": 0.5}, "rnd@v1", run, evaluation, {"train": 1.0})
    report = ws.root / "reports" / "sweep-grid"
    report.mkdir(parents=True)
    (report / "report.md").write_text(f"# grid\n\n| method | fid |\n|---|--:|\n| {HOSTILE} | 1.5 |\n\n"
                                      "![metrics](metrics.png)\n\n[evil](javascript:alert(1))\n")  # fmt: skip
    Image.new("RGB", (4, 4)).save(report / "metrics.png")
    (report / "report.html").write_text(
        "<html><head><style>body{margin:2em}</style></head><body>r</body></html>"
    )
    return Curated(ws, folder, run, evaluation)


def ok(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text)
    return response.json()


def refused(client, url: str, status: int, words: str) -> None:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and words in detail, (url, detail)


def catalog(ws: Workspace, sql: str) -> list[tuple]:
    return run_query(ws, sql).rows


def files_of(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the workspace outside the service's own folders, with size and modification time."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d).relative_to(root).parts[0] not in (".serve", "jobs")]
        for name in files:
            stat = Path(folder, name).stat()
            out[str(Path(folder, name).relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return out


def run_names(client) -> list[str]:
    return ok(client, "/api/sources/hostile")["label_names"]
