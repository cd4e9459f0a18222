"""Every embedder family composites transparency onto its name's background before its own preprocessing."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import PILToTensor

from thresher.embedders import build_embedder, with_background
from thresher.embedders.pretrained import ToRGBThen
from thresher.errors import ThresherError
from thresher.images import BLACK, WHITE

RED = (255, 0, 0)
PALETTE_WARNING = "Transparency expressed in bytes"


def reopened(img: Image.Image) -> Image.Image:
    """Through PNG bytes, so transparency is a tRNS chunk as PIL reads it from disk."""
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    out = Image.open(io.BytesIO(buffer.getvalue()))
    out.load()
    return out


def hiding_red(colour: np.ndarray) -> tuple[Image.Image, Image.Image]:
    """(RGBA, palette+tRNS) images showing ``colour`` in the left half and transparent red in the right."""
    h, w, _ = colour.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[:, : w // 2, :3] = colour[:, : w // 2]
    rgba[:, : w // 2, 3] = 255
    rgba[:, w // 2 :, :3] = RED
    palette_rgb = np.array([RED, *[tuple(c) for c in colour[0, : w // 2]]], np.uint8)
    indices = np.zeros((h, w), np.uint8)
    indices[:, : w // 2] = np.arange(1, w // 2 + 1)
    palette = Image.frombytes("P", (w, h), indices.tobytes())
    palette.putpalette(palette_rgb.flatten().tolist() + [0] * ((256 - len(palette_rgb)) * 3))
    palette.info["transparency"] = bytes([0] + [255] * (w // 2))  # the byte form PIL warns about
    return reopened(Image.fromarray(rgba)), reopened(palette)


def opaque_twin(colour: np.ndarray, background) -> Image.Image:
    """What the hiding images must look like: the left half, then the background (computed in numpy)."""
    h, w, _ = colour.shape
    out = np.empty((h, w, 3), np.uint8)
    out[:, : w // 2] = colour[:, : w // 2]
    out[:, w // 2 :] = background
    return Image.fromarray(out)


@pytest.fixture(scope="module")
def colour() -> np.ndarray:
    rows = np.random.default_rng(0).integers(0, 256, size=(1, 8, 3), dtype=np.uint8)
    return np.repeat(rows, 16, axis=0)  # 16x8, one colour per column (so a palette holds the left half)


@pytest.fixture(scope="module")
def fitted_pixels(colour):
    """A colour pixels:8:4 fit (so it works on 3 channels), white and black."""
    rng = np.random.default_rng(1)
    fit = [Image.fromarray(rng.integers(0, 256, size=(16, 8, 3), dtype=np.uint8)) for _ in range(8)]
    out = {}
    for background in ("white", "black"):
        embedder = build_embedder(with_background("pixels:8:4", background), torch.device("cpu"))
        embedder.fit(fit)
        out[background] = embedder
    return out


@pytest.mark.parametrize("background, rgb", [("white", WHITE), ("black", BLACK)])
def test_pixels_preprocess_sees_the_background_where_pixels_are_transparent(
    fitted_pixels, colour, background, rgb
):
    embedder = fitted_pixels[background]
    assert embedder.background == rgb
    expected = embedder.preprocess(opaque_twin(colour, rgb))
    rgba, palette = hiding_red(colour)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for img in (rgba, palette):
            assert torch.equal(embedder.preprocess(img), expected)
    assert not [w for w in caught if PALETTE_WARNING in str(w.message)]
    red = embedder.preprocess(opaque_twin(colour, RED))
    assert not torch.equal(red, expected)  # the test can tell red from the background


def test_an_opaque_image_is_unchanged(fitted_pixels, colour):
    embedder = fitted_pixels["white"]
    plain = Image.fromarray(colour)
    with_alpha = Image.fromarray(np.concatenate([colour, np.full((*colour.shape[:2], 1), 255, np.uint8)], -1))
    direct = torch.from_numpy(np.asarray(plain.resize((8, 8), Image.Resampling.BILINEAR), np.float32) / 255)
    assert torch.equal(embedder.preprocess(plain), direct.reshape(-1))
    assert torch.equal(embedder.preprocess(with_alpha), direct.reshape(-1))


def test_hog_and_model_transforms_composite_first(colour):
    rgba, palette = hiding_red(colour)
    hog = build_embedder("hog:16:4", torch.device("cpu"))
    hog_black = build_embedder("hog:16:4?background=black", torch.device("cpu"))
    for embedder, rgb in ((hog, WHITE), (hog_black, BLACK)):
        expected = embedder.preprocess(opaque_twin(colour, rgb))
        for img in (rgba, palette):
            assert torch.equal(embedder.preprocess(img), expected)
    # clip:/dino: wrap their model transforms in ToRGBThen
    to_tensor = ToRGBThen(PILToTensor(), BLACK)
    expected = torch.from_numpy(np.array(opaque_twin(colour, BLACK))).permute(2, 0, 1)
    for img in (rgba, palette):
        assert torch.equal(to_tensor(img), expected)
    grey = to_tensor(Image.fromarray(colour[..., 0]))
    assert grey.shape == (3, 16, 8) and torch.equal(grey[0], grey[2])


def test_with_background_says_a_non_white_background_once_in_the_name():
    assert with_background("pixels", "white") == "pixels"
    assert with_background("pixels", None) == "pixels"
    assert with_background("pixels", "black") == "pixels?background=black"
    assert with_background("hog?deskew", "0, 128,255") == "hog?deskew&background=0,128,255"
    assert with_background("hog?deskew&background=white", None) == "hog?deskew"
    assert with_background("pixels?background=black", "white") == "pixels?background=black"  # the name's wins
    assert with_background("pixels?background=black", (0, 0, 0)) == "pixels?background=black"
    with pytest.raises(ThresherError, match="give it once"):
        with_background("pixels?background=black", "1,2,3")
    with pytest.raises(ThresherError, match="bad background"):
        with_background("pixels", "purple")
    assert build_embedder("pixels:8:4?background=1,2,3", torch.device("cpu")).background == (1, 2, 3)
    with pytest.raises(ThresherError, match="bad background"):
        build_embedder("hog?background=nope", torch.device("cpu"))
