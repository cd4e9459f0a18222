"""A 6-cell sweep submitted as a Slurm array with --max-parallel 2 gives the cells and the report the local
executor gives (everything but wall times), two at a time, and a rerun submits nothing. Needs Slurm."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.executors.conftest import wait_for_jobs
from tests.executors.test_dry_run import SPEC
from thresher.catalog.sweeps import sweep_cells
from thresher.catalog.workspace import Workspace
from thresher.executors.config import ExecutorConfig
from thresher.experiments.sweep import run_sweep
from thresher.experiments.sweep_config import SweepRunConfig
from thresher.experiments.sweep_report import write_sweep_report


def _without_times(report: dict) -> dict:
    for record in report["records"]:
        record.pop("seconds")
        # (which cell's evaluation trained the shared classifier depends on the order cells ran in)
        record["metrics"] = {
            k: v
            for k, v in record["metrics"].items()
            if not k.startswith("seconds") and k != "classifier_trained"
        }
    return report


@pytest.mark.slow  # two 6-cell sweeps on 2 shared cores: 5-10 min
def test_a_sweep_array_gives_the_cells_and_report_of_the_local_executor(slurm, mnist_lt, tmp_path: Path):
    spec = tmp_path / "six.yaml"
    spec.write_text(SPEC)
    cluster = Workspace(tmp_path / "cluster")
    shutil.copytree(mnist_lt.root, cluster.root)

    submission = run_sweep(
        cluster, SweepRunConfig(spec=str(spec), executor=ExecutorConfig(kind="slurm", max_parallel=2))
    )
    assert submission.units == 6 and len(submission.job_ids) == 2
    assert "#SBATCH --array=0-5%2" in Path(submission.scripts[1]).read_text()
    states = wait_for_jobs(submission.job_ids, timeout=1800)
    assert set(states.values()) == {"COMPLETED"} and len(states) == 7, states

    local = run_sweep(mnist_lt, SweepRunConfig(spec=str(spec)))
    assert (local.total, local.ran) == (6, 6)
    ours, theirs = sweep_cells(cluster, "six"), sweep_cells(mnist_lt, "six")
    assert [c["cell"] for c in ours[1]] == [c["cell"] for c in theirs[1]] and ours[0] == 6
    reports = []
    for ws in (cluster, mnist_lt):
        write_sweep_report(ws, "six", tmp_path / f"report-{ws.root.name}")
        reports.append(
            _without_times(json.loads((tmp_path / f"report-{ws.root.name}" / "report.json").read_text()))
        )
    assert reports[0] == reports[1]

    # Two cells share the cluster selection's subset (seeds 0 and 1): the prepare job selected it once.
    subsets = {c["subset"] for c in ours[1] if c["subset"] and c["subset"].startswith("sw-cluster")}
    assert len(subsets) == 1 and all(re.search(r"@v1$", s) for s in subsets)

    again = run_sweep(
        cluster, SweepRunConfig(spec=str(spec), executor=ExecutorConfig(kind="slurm", max_parallel=2))
    )
    assert (again.units, again.done, again.job_ids) == (0, 6, [])
