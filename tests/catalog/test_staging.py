"""Staging folders: leftovers of a killed command disappear on the next run only when provably abandoned."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from thresher.catalog.staging import OWNER_FILE, new_staging, remove_abandoned, seal


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)  # fmt: skip


def test_only_provably_abandoned_folders_are_removed(tmp_path):
    mine = new_staging(tmp_path / ".mine.partial")
    assert json.loads((mine / OWNER_FILE).read_text())["host"] == socket.gethostname()
    dead = new_staging(tmp_path / ".dead.partial")
    (dead / OWNER_FILE).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    (tmp_path / ".unowned.partial").mkdir()
    assert remove_abandoned(tmp_path, ".*.partial") == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mine.partial", ".unowned.partial"]
    assert not (seal(mine) / OWNER_FILE).exists()


def test_a_killed_cluster_run_leaves_no_visible_folder_and_its_leftovers_go(mnist_lt, monkeypatch):
    import thresher.curate.cluster_run as cluster_run
    from thresher.curate.config import ClusterRunConfig, EmbedRunConfig
    from thresher.curate.embed_run import run_embed

    run_embed(mnist_lt, EmbedRunConfig(embedder="hog", source="mnist-lt", num_workers=0))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cluster_run, "write_score_part", killed)
    with pytest.raises(KeyboardInterrupt):
        cluster_run.run_cluster(mnist_lt, ClusterRunConfig(ks=[4]))
    monkeypatch.undo()
    root = mnist_lt.root / "clusterings"
    (leftover,) = list(root.iterdir())
    assert leftover.name.startswith(".") and leftover.name.endswith(".partial")  # nothing visible
    (leftover / OWNER_FILE).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    result = cluster_run.run_cluster(mnist_lt, ClusterRunConfig(ks=[4]))
    assert [p.name for p in root.iterdir()] == [result.run_id]
    assert (root / result.run_id / "centroids.npy").is_file() and not (
        root / result.run_id / OWNER_FILE
    ).exists()
    assert not list((mnist_lt.root / "scores").glob(".*"))
