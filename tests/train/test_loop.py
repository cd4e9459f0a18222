"""The training loop: exact resume, run-folder outputs, per-sample weighting, multi-process launch."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace

import pyarrow.parquet as pq
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

from thresher.errors import ThresherError
from thresher.train.latents import encode_images, load_vae
from thresher.train.loop import train
from thresher.train.training_set import TrainingSet


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _checkpoint_weights(run_dir):
    (checkpoint,) = sorted((run_dir / "checkpoints").glob("step-*"))[-1:]
    return load_file(checkpoint / "model.safetensors")


def test_resume_continues_exactly(tmp_path, mnist16, make_config):
    straight = train(make_config(steps=20), mnist16, tmp_path / "straight")
    first = train(make_config(steps=10), mnist16, tmp_path / "resumed")
    resumed = train(make_config(steps=20), mnist16, tmp_path / "resumed", resume=True)
    assert (first.steps, resumed.resumed_from, resumed.steps, straight.steps) == (10, 10, 20, 20)
    # Same live weights, same EMA and the same loss curve, step for step.
    for name, tensor in _checkpoint_weights(tmp_path / "straight").items():
        assert torch.equal(tensor, _checkpoint_weights(tmp_path / "resumed")[name]), name
    ema_straight = load_file(tmp_path / "straight" / "ema.safetensors")
    ema_resumed = load_file(tmp_path / "resumed" / "ema.safetensors")
    assert all(torch.equal(ema_straight[k], ema_resumed[k]) for k in ema_straight)
    assert [m["loss"] for m in _metrics(tmp_path / "straight")] == [
        m["loss"] for m in _metrics(tmp_path / "resumed")
    ]
    assert [m["step"] for m in _metrics(tmp_path / "resumed")] == list(range(1, 21))
    # The network learned something: the loss of the last steps is below that of the first.
    losses = [m["loss"] for m in _metrics(tmp_path / "straight")]
    assert sum(losses[-5:]) < sum(losses[:5])


def test_resume_needs_a_checkpoint_and_fresh_runs_refuse_to_overwrite(tmp_path, mnist16, make_config):
    with pytest.raises(ThresherError, match="no checkpoint"):
        train(make_config(steps=2), mnist16, tmp_path / "run", resume=True)
    train(make_config(steps=2, sample_count=0), mnist16, tmp_path / "run")
    with pytest.raises(ThresherError, match="already holds checkpoints"):
        train(make_config(steps=2), mnist16, tmp_path / "run")
    with pytest.raises(ThresherError, match="differs"):
        train(make_config(steps=4, width=64), mnist16, tmp_path / "run", resume=True)


def test_run_folder_outputs(tmp_path, mnist16, make_config):
    run_dir = tmp_path / "run"
    result = train(
        make_config(steps=4, log_every=2, checkpoint_every=1, keep_checkpoints=2), mnist16, run_dir
    )
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["model"]["size"] == "DiT-T/4" and config["model"]["width"] == 32
    assert config["data"] == {"name": "mnist-tiny", "rows": 16, "space": "pixel", "vae": None,
                              "num_classes": 10, "resolution": 28}  # fmt: skip
    assert config["mixed_precision"] == "no" and config["num_processes"] == 1
    metrics = _metrics(run_dir)
    assert [m["step"] for m in metrics] == [2, 4] and all(m["images_per_s"] > 0 for m in metrics)
    assert [p.name for p in sorted((run_dir / "checkpoints").iterdir())] == ["step-0000003", "step-0000004"]
    # 4 steps × 8 images = two epochs of 16 rows: every row seen.
    seen = pq.read_table(run_dir / "seen_ids.parquet")["sample_id"].to_pylist()
    assert sorted(seen) == list(range(1000, 1016)) and result.distinct_samples_seen == 16
    assert json.loads((run_dir / "summary.json").read_text())["distinct_samples_seen"] == 16
    grid = Image.open(run_dir / "samples.png")
    assert grid.size == (4 * 30 + 2, 30 + 2)  # 4 images of 28 px, 2 px padding, one row (10 classes > 4)
    model_json = json.loads((run_dir / "model.json").read_text())
    assert model_json["space"] == "pixel" and model_json["dit"]["num_classes"] == 10


def test_latent_runs_sample_through_the_vae(tmp_path, mnist16, tiny_vae_path, make_config):
    latents = encode_images(mnist16.images, load_vae(str(tiny_vae_path)))
    latent = replace(mnist16, images=latents, space="latent", vae=str(tiny_vae_path))
    train(make_config(model_size="DiT-T/2", steps=2), latent, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "model.json").read_text())["vae"] == str(tiny_vae_path)
    assert Image.open(tmp_path / "run" / "samples.png").size == (4 * 30 + 2, 30 + 2)  # decoded to 28 px


def _with_garbage(data: TrainingSet, rows: slice) -> TrainingSet:
    images = data.images.clone()
    images[rows] = torch.randint(
        0, 256, images[rows].shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    return TrainingSet(images, data.labels, data.sample_ids, data.weights, data.num_classes, data.name)


def test_zero_weight_rows_never_influence_training(tmp_path, make_mnist, make_config):
    weights = torch.tensor([1.0, 3.0] * 4 + [0.0] * 8)  # rows 8-15 weigh nothing
    clean = make_mnist(weights=weights)
    dirty = _with_garbage(clean, slice(8, 16))
    config = make_config(steps=3, batch_size=16, sample_count=0, weighting="loss")
    train(config, clean, tmp_path / "clean")
    train(config, dirty, tmp_path / "dirty")
    clean_w, dirty_w = _checkpoint_weights(tmp_path / "clean"), _checkpoint_weights(tmp_path / "dirty")
    assert all(torch.equal(clean_w[k], dirty_w[k]) for k in clean_w)
    # Unweighted, the garbage rows do change the model (so the check above can fail).
    unweighted = make_config(steps=3, batch_size=16, sample_count=0)
    train(unweighted, clean, tmp_path / "clean-u")
    train(unweighted, dirty, tmp_path / "dirty-u")
    clean_u, dirty_u = _checkpoint_weights(tmp_path / "clean-u"), _checkpoint_weights(tmp_path / "dirty-u")
    assert not all(torch.equal(clean_u[k], dirty_u[k]) for k in clean_u)

    # Sampler weighting draws rows in proportion to weight: zero-weight rows are never drawn.
    result = train(make_config(steps=6, sample_count=0, weighting="sampler"), clean, tmp_path / "sampled")
    seen = set(pq.read_table(tmp_path / "sampled" / "seen_ids.parquet")["sample_id"].to_pylist())
    assert seen <= set(range(1000, 1008)) and len(seen) == result.distinct_samples_seen >= 6


def test_weighting_needs_weights_and_unconditional_models_ignore_labels(tmp_path, mnist16, make_config):
    with pytest.raises(ThresherError, match="needs per-sample weights"):
        train(make_config(weighting="loss"), mnist16, tmp_path / "a")
    train(make_config(steps=2, unconditional=True), mnist16, tmp_path / "b")
    assert json.loads((tmp_path / "b" / "model.json").read_text())["dit"]["num_classes"] is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # two fresh interpreters importing torch + diffusers: 35-100 s on 2 shared cores
def test_two_processes_split_the_data_and_only_rank0_writes(tmp_path, driver_path):
    # --multi_gpu picks torchrun; without GPUs accelerate runs the processes on CPU over gloo.
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1",
        "--main_process_port", str(_free_port()), str(driver_path), "--run-dir", str(run_dir), "--steps", "4",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    # Each process trained on half of every global batch of 8, for 4 steps ...
    assert [r["local_images_seen"] for r in reports] == [16, 16]
    # ... and together they saw the 16 rows twice, all of them.
    assert all(r["distinct_samples_seen"] == 16 for r in reports)
    assert [m["step"] for m in _metrics(run_dir)] == [1, 2, 3, 4]  # one writer: no duplicated lines
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["num_processes"] == 2
    assert (run_dir / "ema.safetensors").is_file() and (run_dir / "samples.png").is_file()
