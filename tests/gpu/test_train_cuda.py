"""Training and sampling on CUDA: a bf16 run with EMA resumes exactly, and CUDA samples match the CPU's."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from thresher.train.loop import train
from thresher.train.model import build_model, save_model
from thresher.train.sampling import load_run_model, sample_images

pytestmark = pytest.mark.cuda

_spec = importlib.util.spec_from_file_location(
    "tiny_mnist_run", Path(__file__).parents[1] / "train" / "tiny_mnist_run.py"
)
tiny_mnist_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_mnist_run)


def _losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _last_checkpoint(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(sorted((run_dir / "checkpoints").glob("step-*"))[-1] / "model.safetensors")


def test_bf16_training_with_ema_resumes_exactly(tmp_path, device, deterministic) -> None:
    data = tiny_mnist_run.mnist_training_set()
    precision = "bf16" if device == "cuda" else "fp32"  # a CPU dry run keeps the CPU's own precision
    config = lambda steps: tiny_mnist_run.tiny_config(  # noqa: E731
        steps=steps, device=device, precision=precision, checkpoint_every=5, sample_count=0
    )
    train(config(20), data, tmp_path / "straight")
    train(config(10), data, tmp_path / "resumed")
    resumed = train(config(20), data, tmp_path / "resumed", resume=True)
    assert resumed.resumed_from == 10 and resumed.steps == 20
    ran = yaml.safe_load((tmp_path / "straight" / "config.yaml").read_text())["mixed_precision"]
    assert ran == ("bf16" if device == "cuda" else "no")
    straight_weights, resumed_weights = (_last_checkpoint(tmp_path / r) for r in ("straight", "resumed"))
    assert all(torch.equal(straight_weights[k], resumed_weights[k]) for k in straight_weights)
    ema = [load_file(tmp_path / r / "ema.safetensors") for r in ("straight", "resumed")]
    assert all(torch.equal(ema[0][k], ema[1][k]) for k in ema[0])
    assert _losses(tmp_path / "straight") == _losses(tmp_path / "resumed")
    losses = _losses(tmp_path / "straight")
    assert all(np.isfinite(losses)) and sum(losses[-5:]) < sum(losses[:5])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny conditional pixel DiT moved off its zero-output init, saved as a run folder."""
    torch.manual_seed(0)
    model = build_model("DiT-T/2", 1, 8, 3, width=32, depth=2, heads=2)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    directory = tmp_path_factory.mktemp("run")
    save_model(model, directory, extra={"space": "pixel", "vae": None})
    return directory


def _sample(run_dir: Path, device: str, precision: str, seed: int) -> np.ndarray:
    model = load_run_model(run_dir, device).model
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    images = sample_images(model, 8, seed=seed, labels=labels, steps=4, precision=precision, progress=False)
    return images.numpy().astype(np.int16)


def test_cuda_samples_match_the_cpu_samples_of_the_same_seed(run_dir, device) -> None:
    cpu = _sample(run_dir, "cpu", "fp32", seed=0)
    other_seed = _sample(run_dir, "cpu", "fp32", seed=1)
    seed_gap = np.abs(cpu - other_seed).mean()  # how far apart two different samples are
    # fp32 on the GPU: the same images up to rounding (TF32 convolutions): at most 2 grey levels.
    assert np.abs(_sample(run_dir, device, "fp32", seed=0) - cpu).max() <= 2
    # bf16 autocast (the default on a GPU): far closer to the CPU image of its seed than another seed is.
    bf16 = _sample(run_dir, device, "bf16" if device == "cuda" else "fp32", seed=0)
    assert np.abs(bf16 - cpu).mean() < 0.1 * seed_gap
