"""Generating images from a run folder, label choices, and saving them as PNGs or Parquet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from thresher.errors import ThresherError
from thresher.train.model import build_model, save_model
from thresher.train.sampling import generate, load_run_model, resolve_labels, save_images


def _run(tmp_path_factory, name, num_classes, extra):
    torch.manual_seed(0)
    model = build_model(
        "DiT-T/2", 1 if extra["space"] == "pixel" else 4, 8, num_classes, width=32, depth=2, heads=2
    )
    with torch.no_grad():  # move off the all-zero-output init so labels and seeds matter
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    run_dir = tmp_path_factory.mktemp(name)
    save_model(model, run_dir, extra=extra)
    return run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return _run(tmp_path_factory, "run", 3, {"space": "pixel", "vae": None})


def test_generate_is_seeded_and_independent_of_batch_size(run_dir):
    images = generate(run_dir, 6, seed=1, steps=3, sampler="heun", batch_size=4)
    assert images.shape == (6, 8, 8, 1) and images.dtype == np.uint8
    rebatched = generate(run_dir, 6, seed=1, steps=3, sampler="heun", batch_size=6)
    assert np.abs(images.astype(int) - rebatched.astype(int)).max() <= 1
    assert (images != generate(run_dir, 6, seed=2, steps=3, batch_size=4)).mean() > 0.3


def test_labels_and_guidance_change_the_images(run_dir):
    run = load_run_model(run_dir, "cpu")
    zeros = generate(run, 4, seed=0, labels=[0] * 4, steps=3)
    twos = generate(run, 4, seed=0, labels=[2] * 4, steps=3)
    assert (zeros != twos).mean() > 0.3
    assert np.array_equal(generate(run, 4, seed=0, labels=[0, 1, 2, 0], steps=3)[0], zeros[0])
    guided = generate(run, 4, seed=0, labels=[0] * 4, steps=3, cfg_scale=4.0)
    assert (guided != zeros).mean() > 0.3


def test_label_choices():
    assert resolve_labels("uniform", 7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert resolve_labels(None, 4, 3) is None and resolve_labels("uniform", 4, None) is None
    with pytest.raises(ThresherError, match="unconditional"):
        resolve_labels([0, 1], 2, None)
    with pytest.raises(ThresherError, match="3 labels given for 2"):
        resolve_labels([0, 1, 2], 2, 3)
    with pytest.raises(ThresherError, match=r"\[0, 3\)"):
        resolve_labels([0, 3], 2, 3)
    with pytest.raises(ThresherError, match="unknown labels"):
        resolve_labels("balanced", 2, 3)


def test_latent_runs_decode_through_their_vae(tmp_path_factory, tiny_vae_path):
    run_dir = _run(tmp_path_factory, "latent-run", None, {"space": "latent", "vae": str(tiny_vae_path)})
    images = generate(run_dir, 2, steps=2, labels="uniform")
    assert images.shape == (2, 16, 16, 1) and images.dtype == np.uint8


def test_save_images_as_pngs_and_parquet(tmp_path):
    import datasets

    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    folder = save_images(images, tmp_path / "pngs")
    assert sorted(p.name for p in folder.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert np.array_equal(np.asarray(Image.open(folder / "000002.png")), images[2])
    gray = save_images(images[..., :1], tmp_path / "gray")
    assert np.array_equal(np.asarray(Image.open(gray / "000001.png")), images[1, ..., 0])

    parquet = save_images(images, tmp_path / "out" / "samples.parquet", labels=[4, 5, 6])
    loaded = datasets.load_dataset(
        "parquet", data_files=str(parquet), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert isinstance(loaded.features["image"], datasets.Image) and loaded["label"] == [4, 5, 6]
    assert np.array_equal(np.asarray(loaded[1]["image"]), images[1])
