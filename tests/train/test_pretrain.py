"""thresher pretrain: a killed run resumes to the same checkpoints and loss log as an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.torch import load_file

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError
from thresher.train import pretrain as pretrain_module
from thresher.train.config import PretrainConfig
from thresher.train.pretrain import loss_log, run_pretrain, snapshot_dirs

TINY = dict(width=32, depth=1, heads=2, epochs=3, batch_size=256, checkpoints=3, k_times=2, device="cpu")


def _digits(tmp_path, name) -> Workspace:
    ws = Workspace(tmp_path / name)
    ingest(ws, IngestConfig(source="builtin:digits"))
    return ws


def test_a_killed_pretraining_resumes_to_the_same_result(tmp_path, monkeypatch):
    whole = run_pretrain(_digits(tmp_path, "a"), PretrainConfig(source="digits", **TINY))

    ws = _digits(tmp_path, "b")
    original = pretrain_module._EpochRecorder.__call__

    def killed_in_epoch_two(self, epoch, network, lr):
        if epoch == 2:
            raise KeyboardInterrupt
        original(self, epoch, network, lr)

    monkeypatch.setattr(pretrain_module._EpochRecorder, "__call__", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(ws, PretrainConfig(source="digits", **TINY))
    monkeypatch.setattr(pretrain_module._EpochRecorder, "__call__", original)
    resumed = run_pretrain(ws, PretrainConfig(source="digits", **TINY))
    assert resumed.run_id == whole.run_id and not resumed.reused
    np.testing.assert_array_equal(loss_log(resumed.run_dir)[1], loss_log(whole.run_dir)[1])
    for a, b in zip(snapshot_dirs(whole.run_dir), snapshot_dirs(resumed.run_dir), strict=True):
        wa, wb = load_file(a / "ema.safetensors"), load_file(b / "ema.safetensors")
        assert all((wa[k] == wb[k]).all() for k in wa)


def test_checkpoint_epochs_are_spread_and_bad_settings_are_refused():
    assert PretrainConfig(epochs=10, checkpoints=5).checkpoint_epochs() == [2, 4, 6, 8, 10]
    assert PretrainConfig(epochs=3, checkpoints=1).checkpoint_epochs() == [3]
    with pytest.raises(ThresherError, match="--checkpoints must be in"):
        PretrainConfig(epochs=2, checkpoints=3)
    with pytest.raises(ThresherError, match="--epochs must be at least 1"):
        PretrainConfig(epochs=0, checkpoints=1)
