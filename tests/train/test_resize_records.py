"""Runs, pretrainings and caches made before the resize modes existed keep their ids and read as stretched:
the modes change nothing that was already made."""

from __future__ import annotations

import pytest

from thresher.catalog.names import config_hash
from thresher.catalog.runs import start_run
from thresher.errors import ThresherError
from thresher.train.config import PretrainConfig
from thresher.train.pretrain import pretrain_run_id
from thresher.train.train_run import _check_resume

# PretrainConfig's fields before the modes (and its background) existed, at their defaults but the size
OLD_PRETRAIN = {
    "source": None, "model_size": "DiT-T/4", "width": None, "depth": None, "heads": None, "epochs": 10,
    "batch_size": 64, "lr": 1e-3, "warmup_steps": 20, "checkpoints": 5, "k_times": 4, "m_noises": 1,
    "image_size": None, "vae": None, "unconditional": False, "seed": 0,
}  # fmt: skip


@pytest.mark.parametrize(("size", "resize"), [(None, "pad"), (None, "crop"), (16, "stretch")])
def test_pretraining_ids_made_before_the_modes_stay_the_same(size, resize) -> None:
    config = PretrainConfig(image_size=size, resize=resize)
    old = {**OLD_PRETRAIN, "image_size": size, "source": "src"}
    assert pretrain_run_id("src", config) == f"pretrain-src-{config_hash(old)[:10]}"


def test_a_padded_or_cropped_pretraining_is_another_run_and_reads_back_its_mode() -> None:
    ids = {
        pretrain_run_id("src", PretrainConfig(image_size=16, resize=m)) for m in ("pad", "crop", "stretch")
    }
    assert len(ids) == 3
    assert (
        PretrainConfig.from_identity(PretrainConfig(image_size=16, resize="crop").identity()).resize == "crop"
    )
    # a recorded pretraining with a size and no mode was stretched
    assert PretrainConfig.from_identity({**OLD_PRETRAIN, "image_size": 16}).resize == "stretch"
    # and keeps the identity it was recorded with, so its run is found again
    legacy = {**OLD_PRETRAIN, "image_size": 16}
    assert PretrainConfig.from_identity(legacy).identity() == legacy


def test_resuming_a_run_recorded_before_the_modes_reads_it_as_stretched(mnist_lt) -> None:
    old = {"dataset": "mnist-lt", "image_size": 16, "background": "white", "train": {"steps": 10}}
    start_run(mnist_lt, "old-run", "train", "mnist-lt", old, mnist_lt.run_dir("old-run"))
    _check_resume(mnist_lt, "old-run", {**old, "resize": "stretch"})  # the same run: accepted
    with pytest.raises(ThresherError, match="its resize was 'stretch', now 'pad'"):
        _check_resume(mnist_lt, "old-run", {**old, "resize": "pad"})
