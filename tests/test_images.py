"""Mode handling: transparency composited onto a background, one mode per batch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from thresher.errors import ThresherError
from thresher.images import BLACK, WHITE, composite_onto, parse_background, uniform_batch


def over(colour: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """The "over" operator in float: what an 8-bit composite must round to (within 1)."""
    a = alpha.astype(np.float64)[..., None] / 255.0
    return colour.astype(np.float64) * a + np.asarray(background, dtype=np.float64) * (1.0 - a)


def rgba(pixels: list[tuple[int, int, int, int]]) -> Image.Image:
    return Image.fromarray(np.array([pixels], dtype=np.uint8))


def reopened(img: Image.Image, tmp_path, name: str = "x.png") -> Image.Image:
    """Through a real PNG file, so transparency is a tRNS chunk as PIL reads it from disk."""
    img.save(tmp_path / name)
    out = Image.open(tmp_path / name)
    out.load()
    return out


def test_transparent_opaque_and_half_alpha_pixels(tmp_path) -> None:
    img = reopened(rgba([(255, 0, 0, 0), (10, 200, 30, 255), (255, 0, 0, 128), (0, 0, 255, 64)]), tmp_path)
    assert img.mode == "RGBA"
    for background in (WHITE, BLACK, (0, 128, 255)):
        out = composite_onto(img, background)
        assert out.mode == "RGB"
        pixels = np.asarray(out)[0]
        assert tuple(pixels[0]) == background  # fully transparent red shows the background, not red
        assert tuple(pixels[1]) == (10, 200, 30)  # opaque keeps its colour
        source = np.asarray(img)[0]
        expected = over(source[:, :3], source[:, 3], background)
        np.testing.assert_allclose(pixels, expected, atol=1.0)
    assert tuple(np.asarray(composite_onto(img))[0, 2]) in {(255, 127, 127), (255, 128, 128)}


def test_palette_with_transparency_converts_without_warnings(tmp_path) -> None:
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3)
    by_index = Image.new("P", (4, 4), 0)
    by_index.putpalette(palette)
    by_index.putpixel((1, 1), 1)
    by_index.info["transparency"] = 0  # index 0 (red) is transparent
    by_bytes = by_index.copy()
    by_bytes.info["transparency"] = b"\x00\x80"  # red transparent, green half, blue opaque
    by_bytes.putpixel((2, 2), 2)
    images = [reopened(by_index, tmp_path, "a.png"), reopened(by_bytes, tmp_path, "b.png")]
    assert all(img.mode == "P" for img in images)
    assert isinstance(images[1].info["transparency"], bytes)  # the case PIL warns about on convert('RGB')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        outs = [np.asarray(composite_onto(img, WHITE)) for img in images]
        batch = uniform_batch(images * 5, WHITE)
    assert tuple(outs[0][0, 0]) == WHITE and tuple(outs[0][1, 1]) == (0, 255, 0)
    assert tuple(outs[1][0, 0]) == WHITE and tuple(outs[1][2, 2]) == (0, 0, 255)
    np.testing.assert_allclose(outs[1][1, 1], over(np.array([0, 255, 0]), np.array(128), WHITE), atol=1.0)
    assert batch.shape == (10, 4, 4, 3)


def test_the_background_is_composited_under_palette_colours_hidden_by_transparency(tmp_path) -> None:
    # convert('RGB') would show the transparent entry's stored colour (red); composite_onto shows white
    img = Image.new("P", (2, 2), 0)
    img.putpalette([255, 0, 0] + [0] * 765)
    img.info["transparency"] = 0
    img = reopened(img, tmp_path)
    assert tuple(np.asarray(img.convert("RGB"))[0, 0]) == (255, 0, 0)
    assert tuple(np.asarray(composite_onto(img))[0, 0]) == WHITE


def test_greyscale_stays_grey_and_grey_alpha_composites(tmp_path) -> None:
    la = Image.fromarray(np.array([[[100, 0], [100, 255], [0, 128]]], dtype=np.uint8))
    assert la.mode == "LA"
    out = composite_onto(reopened(la, tmp_path), WHITE)
    assert out.mode == "L"
    np.testing.assert_allclose(np.asarray(out)[0], [255, 100, 255 * 127 / 255], atol=1.0)
    coloured = composite_onto(la, (255, 0, 0))  # a coloured background makes the result colour
    assert coloured.mode == "RGB" and tuple(np.asarray(coloured)[0, 0]) == (255, 0, 0)
    assert composite_onto(Image.new("L", (3, 3), 7)).mode == "L"
    assert composite_onto(Image.new("1", (3, 3), 1)).getpixel((0, 0)) == 255
    sixteen = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16))
    assert np.array_equal(np.asarray(composite_onto(reopened(sixteen, tmp_path, "s.png")))[0], [0, 128, 255])


def test_uniform_batch_makes_one_mode_and_refuses_real_size_differences() -> None:
    grey = np.full((5, 6), 40, dtype=np.uint8)
    colour = np.zeros((5, 6, 3), dtype=np.uint8)
    colour[..., 2] = 200
    half = np.concatenate([colour, np.full((5, 6, 1), 0, dtype=np.uint8)], axis=-1)  # RGBA, transparent
    batch = uniform_batch([grey, Image.fromarray(colour), half])
    assert batch.shape == (3, 5, 6, 3) and batch.dtype == np.uint8
    assert np.all(batch[0] == 40) and np.array_equal(batch[1], colour) and np.all(batch[2] == 255)
    assert uniform_batch([grey, grey[..., None]]).shape == (2, 5, 6, 1)  # all grey stays one channel
    with pytest.raises(ThresherError, match="different sizes"):
        uniform_batch([grey, np.zeros((6, 5), dtype=np.uint8)])
    with pytest.raises(ThresherError):
        uniform_batch([])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("white", WHITE), ("Black", BLACK), (" 10, 20,30 ", (10, 20, 30)), ("0,0,255", (0, 0, 255))],
)
def test_parse_background(text: str, expected) -> None:
    assert parse_background(text) == expected


@pytest.mark.parametrize("text", ["blue", "1,2", "256,0,0", "-1,0,0", "1,2,3,4", "", "a,b,c", "1.5,0,0"])
def test_bad_backgrounds_are_one_line_user_errors(text: str) -> None:
    with pytest.raises(ThresherError) as info:
        parse_background(text)
    assert "\n" not in str(info.value) and "background" in str(info.value)
