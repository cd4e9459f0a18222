"""Latent encoding with a tiny random AutoencoderKL: scaling, the per-source cache and its reuse."""

from __future__ import annotations

import pytest
import torch

from thresher.errors import ThresherError
from thresher.train import latents
from thresher.train.latents import (
    decode_latents,
    encode_images,
    encode_training_set,
    latent_cache_path,
    load_vae,
)
from thresher.train.training_set import TrainingSet


def test_encode_caches_once_and_every_subset_reuses_it(tmp_path, mnist16, tiny_vae_path, monkeypatch):
    cache = tmp_path / "cache"
    encoded = encode_training_set(mnist16, str(tiny_vae_path), cache, "mnist@rev1", patch_size=2)
    assert encoded.space == "latent" and encoded.vae == str(tiny_vae_path)
    assert encoded.images.shape == (16, 4, 14, 14) and encoded.images.dtype == torch.float32
    assert torch.equal(encoded.sample_ids, mnist16.sample_ids) and torch.equal(encoded.labels, mnist16.labels)
    path = latent_cache_path(cache, "mnist@rev1", str(tiny_vae_path), 28)
    assert [p.name for p in cache.iterdir()] == [path.name]

    # Latents are the posterior mean, shifted and scaled by the VAE's config.
    vae = load_vae(str(tiny_vae_path))
    with torch.no_grad():
        mean = vae.encode(mnist16.images[:2].float() / 127.5 - 1).latent_dist.mean
    assert torch.allclose(encoded.images[:2], (mean - 0.1) * 0.5, atol=1e-5)

    # The second call, and any subset of the same source, never encodes again.
    def refuse(*args, **kwargs):
        raise AssertionError("encoded although the cache holds every row")

    monkeypatch.setattr(latents, "encode_images", refuse)
    again = encode_training_set(mnist16, str(tiny_vae_path), cache, "mnist@rev1", patch_size=2)
    assert torch.equal(again.images, encoded.images)
    rows = torch.tensor([9, 2, 5])
    subset = TrainingSet(mnist16.images[rows], mnist16.labels[rows], mnist16.sample_ids[rows], num_classes=10)
    assert torch.equal(encode_training_set(subset, str(tiny_vae_path), cache, "mnist@rev1", patch_size=2).images,
                       encoded.images[rows])  # fmt: skip
    monkeypatch.undo()

    # Rows the cache lacks are encoded and appended; another revision gets its own file.
    extra = TrainingSet(mnist16.images[:3], None, torch.tensor([1, 2, 3]))
    encode_training_set(extra, str(tiny_vae_path), cache, "mnist@rev1", patch_size=2)
    assert len(latents._read_cache(path)[0]) == 19
    encode_training_set(extra, str(tiny_vae_path), cache, "mnist@rev2", patch_size=2)
    assert len(list(cache.iterdir())) == 2


def test_image_size_must_divide_by_vae_factor_times_patch(tmp_path, mnist16, tiny_vae_path):
    with pytest.raises(ThresherError, match="VAE factor 2 × patch size 8"):
        encode_training_set(mnist16, str(tiny_vae_path), tmp_path, "mnist@rev1", patch_size=8)
    with pytest.raises(ThresherError, match="cannot load the VAE"):
        encode_training_set(mnist16, str(tmp_path / "missing-vae"), tmp_path, "mnist@rev1", patch_size=2)


def test_decode_inverts_the_scaling(tiny_vae_path, mnist16):
    vae = load_vae(str(tiny_vae_path))
    z = encode_images(mnist16.images[:3], vae)
    images = decode_latents(z, vae)
    assert images.shape == (3, 1, 28, 28) and images.dtype == torch.uint8
    with torch.no_grad():
        direct = vae.decode(z / 0.5 + 0.1).sample
    assert torch.equal(images, ((direct.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
