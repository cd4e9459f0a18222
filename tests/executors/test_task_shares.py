"""What each array task runs (``--task i/n``), without Slurm: every task writes only its parts and commits
nothing, and the plain command afterwards commits a result byte for byte (or score for score) the same as
one process. Also the two caches several tasks may fill at once: the first writer wins, the rest use it."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.part_folders import assert_same_parts
from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.scores import score_files
from thresher.catalog.workspace import Workspace
from thresher.curate.config import EmbedRunConfig, ScoreRunConfig
from thresher.curate.embed_run import run_embed
from thresher.curate.gradient_scoring import run_score
from thresher.executors.config import StageExecutorConfig
from thresher.train.config import StoreConfig
from thresher.train.store_run import build_store


def _embeddings_rows(ws: Workspace) -> int:
    with ws.connect(read_only=True) as con:
        return con.execute("SELECT count(*) FROM embeddings").fetchone()[0]


@pytest.mark.parametrize("embedder", ["hog", "pixels:8:16"])  # pixels: a fitted state every task needs
def test_embed_tasks_then_the_command_equal_one_process(mnist_lt, tmp_path, embedder):
    split = Workspace(tmp_path / "split")
    shutil.copytree(mnist_lt.root, split.root)
    base = dict(embedder=embedder, part_size=400, num_workers=0, device="cpu")
    first = run_embed(split, EmbedRunConfig(**base, executor=StageExecutorConfig(task="1/2")))
    folder = first.path
    assert first.parts == [0, 2, 4] and sorted(p.name for p in folder.glob("_SUCCESS.*")) == [
        "_SUCCESS.00000", "_SUCCESS.00002", "_SUCCESS.00004"]  # fmt: skip
    assert _embeddings_rows(split) == 0  # a task commits nothing
    assert run_embed(split, EmbedRunConfig(**base, executor=StageExecutorConfig(task="2/2"))).parts == [1, 3]
    final = run_embed(split, EmbedRunConfig(**base))  # the commit job: every part is done
    assert final.n == 1703 and _embeddings_rows(split) == 1
    one = run_embed(mnist_lt, EmbedRunConfig(**base))
    assert_same_parts(folder, one.path)


def test_store_tasks_then_the_command_equal_one_process(workspace, tmp_path):
    ingest(workspace, IngestConfig(source="builtin:mnist"))  # 5000 rows: two parts of 4096 rows
    split = Workspace(tmp_path / "split")
    shutil.copytree(workspace.root, split.root)
    second = build_store(
        split, StoreConfig(dataset="mnist", num_workers=0, executor=StageExecutorConfig(task="2/2"))
    )
    assert sorted(p.name for p in second.folder.glob("_SUCCESS.*")) == ["_SUCCESS.00001"]
    build_store(split, StoreConfig(dataset="mnist", num_workers=0, executor=StageExecutorConfig(task="1/2")))
    done = build_store(split, StoreConfig(dataset="mnist", num_workers=0))
    one = build_store(workspace, StoreConfig(dataset="mnist", num_workers=0))
    assert done.parts == one.parts == 2
    assert_same_parts(second.folder, one.folder)


def _scores(ws: Workspace, run_id: str) -> np.ndarray:
    table = pq.read_table(score_files(ws, run_id)).to_pandas().sort_values("sample_id")
    return table["score"].to_numpy()


@pytest.mark.parametrize(
    ("method", "passes"),
    [("el2n", 1), pytest.param("moso", 2, marks=pytest.mark.slow)],  # moso: ~10 min of gradients on 2 cores
)
def test_score_tasks_then_the_command_equal_one_process(pretrained, tmp_path, method, passes):
    """MoSo needs every part's gradient sum before any score: a first round of tasks sums, a second
    (the same commands again) scores, as the two arrays of a Slurm submission do."""
    split = Workspace(tmp_path / "split")
    shutil.copytree(pretrained.root, split.root)
    base = dict(method=method, source="digits", part_size=500, device="cpu")
    if method != "el2n":  # EL2N measures the output only: --params is refused there
        base["params"] = "final-layer"
    for _ in range(passes):
        for task in ("1/3", "2/3", "3/3"):
            result = run_score(split, ScoreRunConfig(**base, executor=StageExecutorConfig(task=task)))
            assert result.task == task and not split.scores_dir(result.run_id).exists()  # nothing committed
    staging = split.scores_dir(result.run_id).parent / f".{result.run_id}.partial"
    assert sorted(p.name for p in staging.glob("part-*.parquet")) == [
        f"part-0000{i}.parquet" for i in range(4)
    ]
    final = run_score(split, ScoreRunConfig(**base))
    whole = Workspace(tmp_path / "whole")
    shutil.copytree(pretrained.root, whole.root)
    one = run_score(whole, ScoreRunConfig(**base))
    assert final.run_id == one.run_id
    np.testing.assert_allclose(_scores(split, final.run_id), _scores(whole, one.run_id), rtol=1e-6, atol=1e-9)
