"""Fixtures of the executor tests: a real Slurm where there is one (CI starts it: .ci/start-slurm).

Tests that need Slurm take the ``slurm`` fixture: it skips where ``sbatch`` is missing, unless
THRESHER_REQUIRE_SLURM=1 (CI), where a missing Slurm is a failure, as the browser test does with chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable

import pytest

from thresher.catalog.workspace import Workspace
from thresher.executors.sbatch import LIVE_STATES, queue_states

TINY_PRETRAIN = dict(
    width=32, depth=1, heads=2, epochs=3, batch_size=256, checkpoints=2, k_times=2, device="cpu"
)


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory) -> Workspace:
    """Real 8×8 digits with a tiny pretraining: what `thresher score` needs (do not write into it)."""
    from thresher.catalog.config import IngestConfig
    from thresher.catalog.ingest import ingest
    from thresher.train.config import PretrainConfig
    from thresher.train.pretrain import run_pretrain

    ws = Workspace(tmp_path_factory.mktemp("pretrained") / "ws")
    ingest(ws, IngestConfig(source="builtin:digits"))
    run_pretrain(ws, PretrainConfig(source="digits", **TINY_PRETRAIN))
    return ws


@pytest.fixture
def slurm() -> None:
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        if os.environ.get("THRESHER_REQUIRE_SLURM") == "1":
            pytest.fail("THRESHER_REQUIRE_SLURM=1 but no Slurm here: run .ci/start-slurm")
        pytest.skip("no Slurm on this machine (.ci/start-slurm starts a single-node one)")
    up = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if not any(state.rstrip("*~#") in ("idle", "mixed", "allocated") for state in up.stdout.split()):
        why = f"Slurm is installed but no node is up (sinfo: {up.stdout.strip() or up.stderr.strip()})"
        if os.environ.get("THRESHER_REQUIRE_SLURM") == "1":
            pytest.fail(why)
        pytest.skip(f"{why}: .ci/start-slurm starts one")


def wait_for_jobs(job_ids: Iterable[str], timeout: float = 600.0) -> dict[tuple[str, int | None], str]:
    """Wait until no task of these jobs is pending or running; returns each task's final state."""
    ids = list(job_ids)
    deadline = time.monotonic() + timeout
    while True:
        states = queue_states(ids)
        if states and not any(s.state in LIVE_STATES for s in states):
            return {(s.job_id, s.task): s.state for s in states}
        if time.monotonic() > deadline:
            raise AssertionError(f"Slurm jobs {ids} still live after {timeout:.0f}s: {states}")
        time.sleep(0.5)
