"""Resuming a run whose newest checkpoint is damaged, or to fewer steps than it has done (hardening
items 24 and 26): the first falls back to the checkpoint before it and still ends exactly where an
uninterrupted run ends; the second is refused before the run folder is touched."""

from __future__ import annotations

import logging

import pytest
import torch
from safetensors.torch import load_file

from thresher.errors import ThresherError
from thresher.train.loop import train
from thresher.train.model import load_model


def _final_weights(run_dir):
    newest = sorted((run_dir / "checkpoints").glob("step-*"))[-1]
    return load_file(newest / "model.safetensors")


def test_a_truncated_newest_checkpoint_resumes_from_the_one_before_and_ends_the_same(
    tmp_path, mnist16, make_config, caplog
):
    straight = tmp_path / "straight"
    train(make_config(steps=12, checkpoint_every=4, sample_count=0), mnist16, straight)
    damaged = tmp_path / "damaged"
    train(make_config(steps=8, checkpoint_every=4, sample_count=0), mnist16, damaged)
    weights = damaged / "checkpoints" / "step-0000008" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="thresher.train.checkpoints"):
        result = train(
            make_config(steps=12, checkpoint_every=4, sample_count=0), mnist16, damaged, resume=True
        )
    assert result.resumed_from == 4
    assert any("step-0000008 cannot be read" in r.getMessage() for r in caplog.records)
    expected, got = _final_weights(straight), _final_weights(damaged)
    assert all(torch.equal(expected[name], got[name]) for name in expected)


def test_resume_below_the_steps_done_is_refused_and_leaves_the_config(tmp_path, mnist16, make_config):
    run_dir = tmp_path / "run"
    train(make_config(steps=6, checkpoint_every=3, sample_count=0), mnist16, run_dir)
    config_before = (run_dir / "config.yaml").read_bytes()
    with pytest.raises(ThresherError, match=r"to --steps 4: it has done 6 steps; pass --steps 6 or more"):
        train(make_config(steps=4, checkpoint_every=3, sample_count=0), mnist16, run_dir, resume=True)
    assert (run_dir / "config.yaml").read_bytes() == config_before


def test_a_truncated_model_file_is_one_line_not_a_traceback(tmp_path, mnist16, make_config):
    run_dir = tmp_path / "run"
    train(make_config(steps=2, sample_count=0), mnist16, run_dir)
    load_model(run_dir)  # intact: loads
    ema = run_dir / "ema.safetensors"
    ema.write_bytes(ema.read_bytes()[:100])
    with pytest.raises(ThresherError, match="holds a damaged model"):
        load_model(run_dir)
