"""random: one seeded draw per (source, seed), the same in every process and every rerun.

The published research code drew a different "random" subset on each data-parallel rank (about 94% of the
data seen at 50% pruning on 4 GPUs); here the draw depends on nothing but the source and the seed."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq

from thresher.catalog.scores import score_files
from thresher.catalog.workspace import Workspace
from thresher.curate.scores.random_order import random_scores_run


def test_two_workspaces_two_processes_draw_the_same_subset(mnist_lt, tmp_path):
    other = Workspace(tmp_path / "rank1")
    shutil.copytree(mnist_lt.root, other.root)
    a, b = (
        pq.read_table(score_files(ws, random_scores_run(ws, "mnist-lt", 7))).to_pandas()
        for ws in (mnist_lt, other)
    )
    np.testing.assert_array_equal(a["score"].to_numpy(), b["score"].to_numpy())
    expected = np.random.default_rng(7).random(
        len(a)
    )  # independent: numpy's generator on the ok rows in order
    np.testing.assert_array_equal(a.sort_values("sample_id")["score"].to_numpy(), expected)
    c = pq.read_table(score_files(mnist_lt, random_scores_run(mnist_lt, "mnist-lt", 8))).to_pandas()
    assert not np.array_equal(a["score"].to_numpy(), c["score"].to_numpy())
