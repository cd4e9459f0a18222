"""`load_images` (what training and evaluation decode): transparency composited, one mode per batch."""

from __future__ import annotations

import io
import warnings

import datasets
import numpy as np
import pytest
from PIL import Image

from thresher.catalog.config import IngestConfig
from thresher.catalog.ingest import ingest
from thresher.catalog.samples import load_images, ok_sample_ids
from thresher.errors import ThresherError
from thresher.images import BLACK, WHITE

RED, GREEN, BLUE = (255, 0, 0), (10, 200, 30), (0, 0, 255)
PALETTE_WARNING = "Transparency expressed in bytes"


def png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def ingest_pngs(ws, tmp_path, images: list[Image.Image], name: str = "rows") -> str:
    """A Parquet source whose rows are exactly these images' PNG bytes (tRNS chunks and all), in order."""
    rows = datasets.Dataset.from_dict(
        {"image": [{"bytes": png(img), "path": None} for img in images]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    rows.to_parquet(str(tmp_path / f"{name}.parquet"))
    result = ingest(ws, IngestConfig(source=str(tmp_path / f"{name}.parquet"), name=name))
    assert result.n_ok == len(images)
    return name


def rgba_hiding_red() -> np.ndarray:
    """8x8 RGBA: columns 0-3 transparent red, 4-5 opaque green, 6-7 blue at alpha 128."""
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[:, :4] = (*RED, 0)
    pixels[:, 4:6] = (*GREEN, 255)
    pixels[:, 6:] = (*BLUE, 128)
    return pixels


def palette_hiding_red(by_bytes: bool) -> Image.Image:
    """8x8 palette image: index 0 red (transparent), 1 green (opaque), 2 blue (opaque, or half with bytes)."""
    img = Image.frombytes(
        "P", (8, 8), np.repeat([[0, 0, 0, 0, 1, 1, 2, 2]], 8, axis=0).astype(np.uint8).tobytes()
    )
    img.putpalette([*RED, *GREEN, *BLUE] + [0] * (253 * 3))
    img.info["transparency"] = b"\x00\xff\x80" if by_bytes else 0
    return img


def over(colour, alpha: float, background) -> np.ndarray:
    """The "over" operator in float (independent of PIL's 8-bit alpha_composite)."""
    return np.asarray(colour, np.float64) * alpha + np.asarray(background, np.float64) * (1 - alpha)


@pytest.mark.parametrize("background", [WHITE, BLACK, (0, 128, 255)])
def test_transparent_pixels_load_as_the_background_not_the_colour_under_them(workspace, tmp_path, background):
    rgba = rgba_hiding_red()
    opaque = np.random.default_rng(0).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    images = [
        Image.fromarray(rgba),
        palette_hiding_red(by_bytes=False),
        palette_hiding_red(by_bytes=True),
        Image.fromarray(opaque),
    ]
    source = ingest_pngs(workspace, tmp_path, images)
    batch = load_images(workspace, source, ok_sample_ids(workspace, source), background=background)
    assert batch.shape == (4, 8, 8, 3) and batch.dtype == np.uint8
    for row in batch[:3]:
        assert np.all(row[:, :4] == background)  # the hidden red never shows
        assert np.all(row[:, 4:6] == GREEN)  # opaque pixels keep their colour
    np.testing.assert_allclose(
        batch[0, :, 6:], np.broadcast_to(over(BLUE, 128 / 255, background), (8, 2, 3)), atol=1
    )
    assert np.all(batch[1, :, 6:] == BLUE)
    np.testing.assert_allclose(
        batch[2, :, 6:], np.broadcast_to(over(BLUE, 128 / 255, background), (8, 2, 3)), atol=1
    )
    assert np.array_equal(batch[3], opaque)  # an opaque image is unchanged


def test_resizing_happens_after_compositing_so_hidden_colour_never_bleeds(workspace, tmp_path):
    hidden = np.zeros((8, 8, 4), np.uint8)
    hidden[..., :3] = RED  # every pixel transparent red
    source = ingest_pngs(workspace, tmp_path, [Image.fromarray(hidden)])
    batch = load_images(workspace, source, ok_sample_ids(workspace, source), size=16)
    assert batch.shape == (1, 16, 16, 3) and np.all(batch == 255)


def test_a_palette_png_with_byte_transparency_loads_without_pil_warnings(workspace, tmp_path):
    source = ingest_pngs(workspace, tmp_path, [palette_hiding_red(by_bytes=True)] * 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_images(workspace, source, ok_sample_ids(workspace, source))
        load_images(workspace, source, ok_sample_ids(workspace, source), size=4)
    assert not [w for w in caught if PALETTE_WARNING in str(w.message)]


def test_a_source_mixing_grey_and_colour_rows_loads_as_rgb(workspace, tmp_path):
    # Issue #17 item 8: this failed with "several sizes ...: pass an image size" although the size was passed.
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, size=(8, 8), dtype=np.uint8)
    colour = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    source = ingest_pngs(workspace, tmp_path, [Image.fromarray(grey), Image.fromarray(colour)])
    ids = ok_sample_ids(workspace, source)
    batch = load_images(workspace, source, ids)
    assert batch.shape == (2, 8, 8, 3)
    assert np.array_equal(batch[0], np.repeat(grey[..., None], 3, axis=-1)) and np.array_equal(
        batch[1], colour
    )
    resized = load_images(workspace, source, ids, size=4)
    assert resized.shape == (2, 4, 4, 3)
    assert np.array_equal(resized[0, ..., 0], resized[0, ..., 1])  # the grey row is still grey
    expected = np.asarray(Image.fromarray(grey).resize((4, 4), Image.BICUBIC))
    assert np.array_equal(resized[0, ..., 0], expected)


def test_an_all_grey_source_stays_one_channel_and_real_size_differences_are_reported(workspace, tmp_path):
    grey = [Image.new("L", (8, 8), 10), Image.new("LA", (8, 8), (20, 255)), Image.new("L", (6, 8), 30)]
    source = ingest_pngs(workspace, tmp_path, grey)
    ids = ok_sample_ids(workspace, source)
    batch = load_images(workspace, source, ids[:2])
    assert batch.shape == (2, 8, 8, 1) and list(batch[:, 0, 0, 0]) == [10, 20]
    with pytest.raises(ThresherError, match="several sizes"):
        load_images(workspace, source, ids)
    assert load_images(workspace, source, ids, size=4).shape == (3, 4, 4, 1)
