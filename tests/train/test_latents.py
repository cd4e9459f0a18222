"""Latents with a tiny random AutoencoderKL: scaling, the source's latent store and its reuse."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL

from thresher.catalog.samples import load_images
from thresher.dataset_resolution import resolve_dataset
from thresher.errors import ThresherError
from thresher.train.latents import VaeEncoder, decode_latents, encode_images, load_vae, weights_sha1
from thresher.train.train_run import prepare_training_data


def _latents(ws, spec: str, vae: str, **kwargs):
    options = {"image_size": 16, "autoencoder": None, "model_size": "DiT-T/2", "device": "cpu", **kwargs}
    return prepare_training_data(ws, resolve_dataset(ws, spec), vae=vae, **options)


def test_latents_are_stored_once_per_source_and_every_subset_reuses_them(
    mnist_lt, tiny_vae_path, monkeypatch
):
    encoded = _latents(mnist_lt, "mnist-lt", str(tiny_vae_path))
    n = len(encoded)
    assert encoded.space == "latent" and encoded.vae == str(tiny_vae_path)
    assert encoded.images.shape == (n, 4, 8, 8) and encoded.images.dtype == torch.float32
    # Latents are the posterior mean of the decoded rows, shifted and scaled by the VAE's config.
    ids = encoded.sample_ids.numpy()
    pixels = torch.from_numpy(load_images(mnist_lt, "mnist-lt", ids[:40], size=16)).permute(0, 3, 1, 2)
    vae = load_vae(str(tiny_vae_path))
    with torch.no_grad():
        mean = vae.encode(pixels.float() / 127.5 - 1).latent_dist.mean
    torch.testing.assert_close(encoded.images[:40], (mean - 0.1) * 0.5, atol=1e-5, rtol=1e-5)

    # Asking again, or for any subset of the source, never encodes again: the parts are there.
    def refuse(self, pixels):
        raise AssertionError("encoded although the store holds every row")

    monkeypatch.setattr(VaeEncoder, "encode", refuse)
    again = _latents(mnist_lt, "mnist-lt", str(tiny_vae_path))
    assert torch.equal(again.images[:], encoded.images[:])
    rows = np.array([9, 2, 5, n - 1])
    assert torch.equal(again.images[rows], encoded.images[torch.from_numpy(rows)])
    # Another size is another store, so it does encode.
    with pytest.raises(AssertionError, match="encoded although"):
        _latents(mnist_lt, "mnist-lt", str(tiny_vae_path), image_size=20)


def test_another_state_of_the_same_vae_is_another_store(mnist_lt, tiny_vae_path, tmp_path):
    first = _latents(mnist_lt, "mnist-lt", str(tiny_vae_path))
    retrained = tmp_path / "tiny-vae"
    vae = AutoencoderKL.from_pretrained(tiny_vae_path)
    with torch.no_grad():
        vae.encoder.conv_in.weight.mul_(1.5)
    vae.save_pretrained(retrained)
    (tmp_path / "same-name").symlink_to(retrained)
    assert weights_sha1(load_vae(str(retrained))) != weights_sha1(load_vae(str(tiny_vae_path)))
    second = _latents(mnist_lt, "mnist-lt", str(retrained))
    assert second.images.view.folder != first.images.view.folder
    assert not torch.allclose(second.images[:8], first.images[:8])


def test_image_size_must_divide_by_vae_factor_times_patch(mnist_lt, tiny_vae_path, tmp_path):
    with pytest.raises(
        ThresherError, match="image size 20 is not divisible by the VAE factor 2 × patch size 4"
    ):
        _latents(mnist_lt, "mnist-lt", str(tiny_vae_path), image_size=20, model_size="DiT-T/4")
    assert not (mnist_lt.root / "cache" / "stores").exists()  # refused before anything was encoded
    with pytest.raises(ThresherError, match="cannot load the VAE"):
        _latents(mnist_lt, "mnist-lt", str(tmp_path / "missing-vae"))


def test_decode_inverts_the_scaling(tiny_vae_path, mnist16):
    vae = load_vae(str(tiny_vae_path))
    z = encode_images(mnist16.images[:3], vae)
    images = decode_latents(z, vae)
    assert images.shape == (3, 1, 28, 28) and images.dtype == torch.uint8
    with torch.no_grad():
        direct = vae.decode(z / 0.5 + 0.1).sample
    assert torch.equal(images, ((direct.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
