"""A workspace can be moved or copied: the catalog stores paths relative to it (issue 17.11)."""

from __future__ import annotations

import shutil

import numpy as np

from thresher.catalog.workspace import Workspace
from thresher.curate.cluster_run import run_cluster
from thresher.curate.config import ClusterRunConfig, EmbedRunConfig, SelectConfig
from thresher.curate.embed_run import run_embed
from thresher.curate.select import select
from thresher.train.autoencoder import AutoencoderConfig
from thresher.train.config import TrainConfig, TrainRunConfig
from thresher.train.sampling import generate
from thresher.train.train_run import run_training


def test_moved_then_copied_workspace_reads_only_its_own_files(mnist_lt, tmp_path):
    ws = mnist_lt
    run_embed(ws, EmbedRunConfig(embedder="hog", num_workers=0))
    run_cluster(ws, ClusterRunConfig(ks=[4]))
    select(ws, SelectConfig(name="half", method="random", ratio=0.5))
    tiny = TrainConfig(model_size="DiT-T/1", width=32, depth=1, heads=2, steps=2, batch_size=8,
                       unconditional=True, sample_count=0, checkpoint_every=2)  # fmt: skip
    run = run_training(
        ws,
        TrainRunConfig(
            dataset="half@v1", train=tiny, vae="thresher-ae", autoencoder=AutoencoderConfig(steps=2)
        ),
    ).run_id
    before = generate(ws.run_dir(run), 4, steps=1)

    moved = Workspace(tmp_path / "moved")
    shutil.move(str(ws.root), str(moved.root))
    assert not ws.root.exists()
    copy = Workspace(tmp_path / "copy")
    shutil.copytree(moved.root, copy.root)
    shutil.rmtree(moved.root)  # the copy must not need the folder it was copied from

    result = run_cluster(copy, ClusterRunConfig(ks=[4], embedder="hog"))  # finds its embeddings
    assert result.run_id
    again = select(copy, SelectConfig(name="half", method="random", ratio=0.5))
    assert again.version == 2
    assert np.array_equal(generate(copy.run_dir(run), 4, steps=1), before)  # its own autoencoder
    with copy.connect(read_only=True) as con:
        stored = [r[0] for r in con.execute("SELECT path FROM embeddings").fetchall()]
        outputs = [r[0] for r in con.execute("SELECT output FROM runs WHERE output IS NOT NULL").fetchall()]
    assert all(not p.startswith("/") for p in stored + outputs), stored + outputs
