"""A tiny sweep end to end: cells run once, a rerun and a second sweep that shares cells do only what is
missing, shards split the work and the report merges it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thresher.catalog.sweeps import sweep_cells
from thresher.catalog.workspace import Workspace
from thresher.experiments.sweep import NOISE_FILE, run_sweep
from thresher.experiments.sweep_config import SweepRunConfig
from thresher.experiments.sweep_report import write_sweep_report

SPEC = """\
name: {name}
source: mnist-lt
reference: mnist-lt
embedder: hog
k: 4
kmeans_restarts: 1
methods:
  - random
  - {{method: cluster, balance: proportional, label: cluster-proportional}}
  - {{method: cluster, balance: equal, label: cluster-equal}}
ratios: {ratios}
seeds: [0]
budget: steps
steps: 3
train: {{model_size: DiT-T/1, width: 32, depth: 1, heads: 2, batch_size: 8, warmup_steps: 1}}
autoencoder_steps: 3
evaluate: {{n: 16, steps: 1, batch_size: 16}}
noise_grid: 2
"""


def _write(tmp_path: Path, name: str, ratios: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SPEC.format(name=name, ratios=ratios))
    return str(path)


@pytest.mark.slow  # a whole sweep, killed and resumed, in shards: ~2 min on 2 cores
def test_sweep_resumes_shards_and_shares_cells(mnist_lt: Workspace, tmp_path: Path) -> None:
    ws = mnist_lt
    small = _write(tmp_path, "small", "[0.5]")
    first = run_sweep(ws, SweepRunConfig(spec=small, shard="2/2"))
    assert (first.total, first.mine, first.ran) == (4, 2, 2)  # cells 2 and 4 of baseline, random, cl-p, cl-e
    second = run_sweep(ws, SweepRunConfig(spec=small))
    assert (second.ran, second.skipped) == (2, 2)  # the other shard's cells only
    again = run_sweep(ws, SweepRunConfig(spec=small))
    assert (again.ran, again.skipped) == (0, 4)

    total, cells = sweep_cells(ws, "small")
    assert total == 4 and len(cells) == 4
    assert all(c["metrics"] and (ws.run_dir(c["run"]) / NOISE_FILE).is_file() for c in cells)
    # One-time work is recorded with the first cell each process ran, apart from that cell's own time.
    recorded = [c for c in cells if "one_time" in c["seconds"]]
    assert len(recorded) == 2  # the shard's process and the rerun's
    (first,) = [c for c in recorded if "evaluation classifier" in c["seconds"]["one_time"]]
    assert set(first["seconds"]["one_time"]) == {
        "ingest", "embedding", "clustering", "autoencoder and latent store", "evaluation classifier"
    }  # fmt: skip
    assert [c["metrics"]["classifier_trained"] for c in cells].count(True) == 1  # trained once, then loaded
    own, metrics = first["seconds"], first["metrics"]
    assert own["one_time"]["evaluation classifier"] == metrics["seconds_extractor"] > 0
    assert own["evaluate"] < metrics["seconds_total"]  # its evaluation's time less the classifier's training
    assert own["total"] >= own["select"] + own["train"] + own["evaluate"] - 1e-9
    subsets = {c["description"]["series"]: c["subset"] for c in cells}
    assert subsets["full data"] is None and subsets["cluster-equal"].endswith("@v1")

    # A second sweep with one more ratio shares the 0.5 cells: it runs only the new ones.
    wider = run_sweep(ws, SweepRunConfig(spec=_write(tmp_path, "wider", "[0.5, 0.75]")))
    assert (wider.total, wider.ran, wider.skipped) == (7, 3, 4)

    files = write_sweep_report(ws, "wider", tmp_path / "report")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["cells"] == 7 and len(report["claims"]) == 5
    text = files.markdown.read_text()
    assert "Table 1" in text and "Table 2" in text and "Wall time" in text
    assert (tmp_path / "report" / "metrics_vs_ratio.png").is_file() and files.html.stat().st_size > 10_000
    # Equal selection at 0.75 keeps (close to) the same number per cluster: the rare share can only rise.
    rows = {(r["series"], r["ratio"]): r for r in report["records"]}
    n = rows[("cluster-equal", 0.75)]["n_rows"]
    assert n == rows[("cluster-proportional", 0.75)]["n_rows"] == round(1703 * 0.25)


@pytest.mark.slow  # two whole sweep processes at once: ~2 min on 2 cores
def test_two_sweep_processes_without_a_shard_split_the_cells(mnist_lt: Workspace, tmp_path: Path) -> None:
    """The same sweep started twice at once (no --shard): every cell is trained and evaluated by exactly one
    of them (cell leases), and together they finish the grid."""
    import re
    import subprocess
    import sys

    spec = _write(tmp_path, "twice", "[0.5]")
    run_sweep(mnist_lt, SweepRunConfig(spec=spec, prerequisites_only=True))  # what cells share, once
    command = [sys.executable, "-m", "thresher.cli", "--workspace", str(mnist_lt.root), "sweep", spec]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"
    ]
    outputs = [p.communicate(timeout=900) for p in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    ran = [int(re.search(r"(\d+) cells run", out).group(1)) for out, _ in outputs]
    assert sum(ran) == 4 and min(ran) >= 1, outputs  # both worked, neither twice

    total, cells = sweep_cells(mnist_lt, "twice")
    assert total == 4 and len(cells) == 4
    with mnist_lt.connect(read_only=True) as con:
        evaluated = con.execute("SELECT run, count(*) FROM evaluations GROUP BY run").fetchall()
        assert con.execute("SELECT count(*) FROM cell_leases").fetchone()[0] == 0  # all ended
    assert sorted(n for _, n in evaluated) == [1, 1, 1, 1]  # one evaluation per cell's run
    for cell in cells:
        steps = [
            json.loads(line)["step"] for line in (mnist_lt.run_dir(cell["run"]) / "metrics.jsonl").open()
        ]
        assert len(steps) == len(set(steps)), cell["run"]  # one writer per run
