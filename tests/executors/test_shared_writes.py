"""Writes several nodes may race on, made safe: a cache folder built aside under a name of its own
writer and renamed in, where a writer that finds another's already in place drops its own and uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from thresher.catalog.samples import ok_sample_ids, open_source
from thresher.curate import embed as embed_module
from thresher.curate.embed import FITTED_DIR, EmbedConfig, _fit_or_load
from thresher.embedders import build_embedder
from thresher.train import autoencoder as autoencoder_module
from thresher.train.autoencoder import AutoencoderConfig, autoencoder_dir, ensure_autoencoder


def test_a_fitted_embedder_state_that_loses_the_rename_uses_the_winners(mnist_lt, tmp_path, monkeypatch):
    dataset, _ = open_source(mnist_lt, "mnist-lt")
    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    out = tmp_path / "store"
    out.mkdir()
    winner = build_embedder("pixels:8:4", device=torch.device("cpu"), seed=0)
    (tmp_path / "elsewhere").mkdir()  # fitted on other rows: a state this process would not have made
    _fit_or_load(
        winner, dataset, ids[:300], tmp_path / "elsewhere", EmbedConfig("pixels:8:4", fit_sample=300)
    )
    real = embed_module.new_temp_staging

    def another_task_renames_first(parent: Path, prefix: str) -> Path:
        winner.save(out / FITTED_DIR)  # lands while this process is still fitting
        return real(parent, prefix)

    monkeypatch.setattr(embed_module, "new_temp_staging", another_task_renames_first)
    loser = build_embedder("pixels:8:4", device=torch.device("cpu"), seed=0)
    _fit_or_load(loser, dataset, ids, out, EmbedConfig("pixels:8:4", fit_sample=1000))
    assert torch.equal(loser._components, winner._components) and torch.equal(loser._mean, winner._mean)
    assert [p.name for p in out.iterdir()] == [FITTED_DIR]  # its own staging folder is gone


def test_an_autoencoder_trained_twice_at_once_is_kept_once(tmp_path, monkeypatch):
    cache, key, config = tmp_path / "autoencoders", "src@rev@None", AutoencoderConfig(steps=1)
    folder = autoencoder_dir(cache, key, config)

    def trains_while_another_finishes_first(images, config, out_dir: Path) -> Path:
        (out_dir / "config.json").write_text("{}")
        (out_dir / "mine").write_text("")
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "theirs").write_text("")
        return out_dir

    monkeypatch.setattr(autoencoder_module, "train_autoencoder", trains_while_another_finishes_first)
    got = ensure_autoencoder(cache, key, np.zeros((2, 1, 8, 8), np.uint8), config)
    assert got == folder and sorted(p.name for p in folder.iterdir()) == ["config.json", "theirs"]
    assert [p.name for p in cache.iterdir()] == [folder.name]  # the loser's staging folder was removed


PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except OSError:
    print("held")
"""


def test_the_catalog_is_guarded_by_a_posix_record_lock(mnist_lt):
    """What several nodes writing one catalog rely on: the lock DuckDB takes is an fcntl record lock, the
    kind NFS, Lustre (-o flock) and GPFS make coherent across nodes (docs/architecture.md, 'Executors')."""
    import subprocess
    import sys

    catalog = mnist_lt.root / "catalog.duckdb"

    def probe() -> str:
        return subprocess.run([sys.executable, "-c", PROBE, str(catalog)], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip

    with mnist_lt.connect():
        assert probe() == "held"
    assert probe() == "free"
