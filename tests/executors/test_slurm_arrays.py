"""Stages as Slurm job arrays on a real (single-node) Slurm: an embed split over two array tasks gives the
embeddings one process gives, byte for byte, and a task killed with scancel half-way is resubmitted by
running the same command again, which then finishes identically. Needs Slurm (the ``slurm`` fixture)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.executors.conftest import wait_for_jobs
from tests.part_folders import assert_same_parts
from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.workspace import Workspace
from thresher.curate.config import EmbedRunConfig
from thresher.curate.embed_run import run_embed
from thresher.executors.config import StageExecutorConfig


def _copy(ws: Workspace, to: Path) -> Workspace:
    shutil.copytree(ws.root, to)
    return Workspace(to)


def _registered(ws: Workspace) -> int:
    with ws.connect(read_only=True) as con:
        return con.execute("SELECT count(*) FROM embeddings").fetchone()[0]


def test_embed_over_two_array_tasks_is_byte_identical_to_one_process(slurm, mnist_lt, tmp_path):
    base = dict(embedder="hog", part_size=400, num_workers=0, device="cpu")
    cluster = _copy(mnist_lt, tmp_path / "cluster")
    submission = run_embed(
        cluster, EmbedRunConfig(**base, executor=StageExecutorConfig(kind="slurm", tasks=2))
    )
    assert submission.units == 5 and len(submission.job_ids) == 2  # the array, then the commit job
    states = wait_for_jobs(submission.job_ids)
    assert set(states.values()) == {"COMPLETED"} and len(states) == 3, states
    one = run_embed(mnist_lt, EmbedRunConfig(**base))
    assert_same_parts(cluster.embeddings_dir("mnist-lt", "hog"), one.path)  # HOG is deterministic: bytes
    assert _registered(cluster) == 1  # by the commit job only
    logs = sorted((cluster.root / "slurm" / "logs").glob("*-parts-*.log"))
    folder = cluster.embeddings_dir("mnist-lt", "hog")
    assert [line for log in logs for line in log.read_text().splitlines() if "task" in line] == [
        f"mnist-lt: task 1/2 embedded parts 0, 2, 4 with hog → {folder} (the final job registers the embeddings)",
        f"mnist-lt: task 2/2 embedded parts 1, 3 with hog → {folder} (the final job registers the embeddings)",
    ]


# A randomly initialized ViT-B at 224 px: a few images a second on two shared cores, so a task is still
# embedding when it is cancelled.
SLOW = "dino:vit_base_patch16_224?random"


@pytest.mark.slow  # four processes building a ViT-B, ~50 images through it: 2-6 min on 2 shared cores
def test_a_task_cancelled_half_way_is_resubmitted_by_the_same_command(slurm, image_folder, tmp_path):
    ws = Workspace(tmp_path / "ws")
    ingest(ws, IngestConfig(source=str(image_folder), name="folder"))
    base = dict(embedder=SLOW, source="folder", part_size=2, batch_size=2, num_workers=0, device="cpu")
    alone = _copy(ws, tmp_path / "alone")
    config = EmbedRunConfig(**base, executor=StageExecutorConfig(kind="slurm", tasks=2, max_parallel=1))
    first = run_embed(ws, config)
    array, commit = first.job_ids
    folder = ws.embeddings_dir("folder", SLOW)
    n_parts = -(-len(ok_sample_ids(ws, "folder")) // 2)  # the folder's decodable images in parts of 2
    task0 = [p for p in range(n_parts) if p % 2 == 0]

    deadline = time.monotonic() + 300
    while not any((folder / f"_SUCCESS.{p:05d}").exists() for p in task0):
        assert time.monotonic() < deadline, "task 0 wrote no part in 300 s"
        time.sleep(0.05)
    subprocess.run(["scancel", f"{array}_0"], check=True)
    states = wait_for_jobs([array, commit])
    assert states[(array, 0)] == "CANCELLED" and states[(array, 1)] == "COMPLETED"
    assert states[(commit, None)] == "CANCELLED"  # its dependency can never be met
    done = [p for p in task0 if (folder / f"_SUCCESS.{p:05d}").exists()]
    assert 1 <= len(done) < len(task0), f"the cancel was meant to land half-way, task 0 had done {done}"
    assert _registered(ws) == 0

    again = run_embed(ws, config)  # the same command: only task 0's remaining parts, then the commit
    assert again.units == len(task0) - len(done) and again.done == n_parts - again.units
    assert wait_for_jobs(again.job_ids) and set(wait_for_jobs(again.job_ids).values()) == {"COMPLETED"}
    assert "--array=0%1" in Path(again.scripts[0]).read_text()
    one = run_embed(alone, EmbedRunConfig(**base))  # one process, for comparison
    # A network's floats: a Slurm task confined to fewer cores sums in another order (tests/part_folders.py)
    assert_same_parts(folder, one.path, exact=False)
    assert _registered(ws) == 1
